"""Samplers tested on their guarantees: every batch, every epoch, every rank."""

from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

from skimb.data.batches import batches_of
from skimb.samplers import (
    BatchBalancedSampler,
    BlockShuffleSampler,
    OverSampler,
    UnderSampler,
    WeightedSampler,
)
from tests.conftest import RecordBatches, quiet


@st.composite
def label_vectors(draw, max_size=300):
    n = draw(st.integers(4, max_size))
    n_pos = draw(st.integers(1, n - 1))
    labels = np.zeros(n, dtype=int)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    labels[rng.choice(n, n_pos, replace=False)] = 1
    return labels


@settings(max_examples=150, deadline=None)
@given(labels=label_vectors(), batch_size=st.integers(2, 64), data=st.data())
def test_batch_balanced_guarantees(labels, batch_size, data):
    k = data.draw(st.integers(1, batch_size - 1))
    sampler = BatchBalancedSampler(labels, batch_size, pos_per_batch=k, seed=7)
    positives = []
    for _ in range(3):  # three epochs
        batches = list(sampler)
        assert len(batches) == len(sampler)
        for i, batch in enumerate(batches):
            n_pos = int(labels[batch].sum())
            assert n_pos == k  # every batch: k positives
            if i < len(batches) - 1:
                assert len(batch) == batch_size  # full, except maybe the last
            else:
                assert k < len(batch) <= batch_size
            positives += [j for j in batch if labels[j] == 1]
        negatives = [j for b in batches for j in b if labels[j] == 0]
        # every negative exactly once per epoch
        assert sorted(negatives) == np.flatnonzero(labels == 0).tolist()
    # positives: consecutive cycles are permutations of all positives
    all_pos = np.flatnonzero(labels).tolist()
    n_pos = len(all_pos)
    for start in range(0, len(positives) - n_pos + 1, n_pos):
        assert sorted(positives[start : start + n_pos]) == all_pos


def test_batch_balanced_positive_cycles_are_reshuffled():
    labels = np.r_[np.ones(20, dtype=int), np.zeros(2000, dtype=int)]
    sampler = BatchBalancedSampler(labels, batch_size=50, pos_per_batch=2, seed=0)
    stream = [j for batch in sampler for j in batch if labels[j] == 1]
    cycles = [tuple(stream[i : i + 20]) for i in range(0, len(stream) - 19, 20)]
    assert len(cycles) >= 4 and len(set(cycles)) == len(cycles)


def test_batch_balanced_pos_fraction():
    labels = np.r_[np.ones(10), np.zeros(100)].astype(int)
    sampler = BatchBalancedSampler(labels, batch_size=20, pos_fraction=0.25, seed=0)
    assert sampler.pos_per_batch == 5
    assert all(labels[b].sum() == 5 for b in sampler)


@settings(max_examples=100, deadline=None)
@given(labels=label_vectors(), ratio=st.floats(0.1, 5))
def test_undersample_guarantees(labels, ratio):
    sampler = UnderSampler(labels, ratio=ratio, seed=3)
    n_pos = labels.sum()
    epochs = [list(sampler) for _ in range(2)]
    for rows in epochs:
        assert len(rows) == len(sampler)
        counts = Counter(labels[rows].tolist())
        assert counts[1] == n_pos and sorted(r for r in rows if labels[r]) == sorted(
            np.flatnonzero(labels).tolist()
        )
        expected_neg = min((labels == 0).sum(), max(1, round(ratio * n_pos)))
        assert counts[0] == expected_neg
        assert len(set(rows)) == len(rows)  # without replacement


@settings(max_examples=100, deadline=None)
@given(labels=label_vectors(), ratio=st.floats(0.1, 5))
def test_oversample_guarantees(labels, ratio):
    sampler = OverSampler(labels, ratio=ratio, seed=3)
    rows = list(sampler)
    n_neg = (labels == 0).sum()
    counts = Counter(labels[rows].tolist())
    assert counts[0] == n_neg and len(set(r for r in rows if labels[r] == 0)) == n_neg
    assert counts[1] == max(labels.sum(), round(ratio * n_neg))
    assert set(np.flatnonzero(labels)) <= set(rows)  # no positive left out


def test_weighted_gives_each_class_half():
    labels = np.r_[np.ones(10), np.zeros(990)].astype(int)
    sampler = WeightedSampler(labels, num_samples=20000, seed=0)
    share = labels[list(sampler)].mean()
    assert 0.48 < share < 0.52
    assert len(WeightedSampler(labels, seed=0)) == 1000


@pytest.mark.parametrize(
    "make",
    [
        lambda y, **kw: BatchBalancedSampler(y, 16, pos_per_batch=2, **kw),
        lambda y, **kw: WeightedSampler(y, **kw),
        lambda y, **kw: UnderSampler(y, ratio=3, **kw),
        lambda y, **kw: OverSampler(y, **kw),
        lambda y, **kw: BlockShuffleSampler(y, block_size=8, window=4, **kw),
    ],
)
def test_reproducible_and_epochs_differ(make):
    labels = np.r_[np.ones(15), np.zeros(300)].astype(int)
    a, b = make(labels, seed=11), make(labels, seed=11)
    first_a, first_b = list(a), list(b)
    assert first_a == first_b
    assert list(a) != first_a  # the next epoch draws afresh
    b.set_epoch(0)
    assert list(b) == first_a


def test_seed_none_follows_torch_manual_seed():
    labels = np.r_[np.ones(5), np.zeros(50)].astype(int)
    torch.manual_seed(0)
    a = list(UnderSampler(labels))
    torch.manual_seed(0)
    assert list(UnderSampler(labels)) == a


@settings(max_examples=60, deadline=None)
@given(labels=label_vectors(200), replicas=st.integers(1, 5))
def test_ranks_get_disjoint_shares_covering_the_epoch(labels, replicas):
    for make in (
        lambda **kw: BatchBalancedSampler(labels, 8, **kw),
        lambda **kw: UnderSampler(labels, **kw),
    ):
        full = list(make(seed=5))
        shares = [
            list(make(seed=5, num_replicas=replicas, rank=r)) for r in range(replicas)
        ]
        assert len({len(s) for s in shares}) == 1  # equal shares
        if isinstance(full[0], list):
            full, shares = (
                [tuple(b) for b in full],
                [[tuple(b) for b in s] for s in shares],
            )
        n_real = len(full)
        # interleaving the shares rebuilds the plan (the tail wraps to pad)
        interleaved = [s[i] for i in range(len(shares[0])) for s in shares]
        assert interleaved[:n_real] == full


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: BatchBalancedSampler([0, 0, 0], 4), r"0 positive\(s\)"),
        (lambda: BatchBalancedSampler([1, 1], 4), r"0 negative\(s\)"),
        (
            lambda: BatchBalancedSampler([0, 1], 4, pos_per_batch=4),
            r"pos_per_batch=4 must be smaller than batch_size=4",
        ),
        (lambda: UnderSampler([0, 1], ratio=0), r"ratio must be a float > 0, got 0"),
        (
            lambda: OverSampler([0, 1], ratio=-1.0),
            r"ratio must be a float > 0, got -1.0",
        ),
        (lambda: WeightedSampler([0, 2]), r"labels must be 0/1 or bool"),
        (
            lambda: BlockShuffleSampler([0, 1], block_size=0),
            r"block_size must be an int >= 1, got 0",
        ),
        (
            lambda: BlockShuffleSampler([0, 1], window=2.5),
            r"window must be an int >= 1, got 2.5",
        ),
        (
            lambda: BatchBalancedSampler([0, 1], 4, block_size=-3),
            r"block_size must be an int >= 1, got -3",
        ),
        (
            lambda: UnderSampler([0, 1], num_replicas=2, rank=2),
            r"rank must be an int in",
        ),
    ],
)
def test_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 700),
    pos_share=st.floats(0, 0.5),
    block_size=st.integers(1, 40),
    window=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_block_shuffle_guarantees(n, pos_share, block_size, window, seed):
    labels = (np.random.default_rng(seed).random(n) < pos_share).astype(int)
    sampler = BlockShuffleSampler(labels, block_size, window, seed=seed)
    epochs = []
    for _ in range(3):
        order = np.array(list(sampler))
        assert len(order) == len(sampler) == n
        assert np.array_equal(np.sort(order), np.arange(n))  # every row once
        # The majority rows come in windows of whole blocks (minority rows aside).
        majority = order[~np.isin(order, sampler.minority_indices)]
        if majority.size:
            assert _max_open_blocks(majority // block_size) <= window
        epochs.append(order)
    if n >= 10:  # at least 10! / (10 - k)! orders: a repeat would be a bug
        assert not np.array_equal(epochs[0], epochs[1])


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 700),
    pos_share=st.floats(0, 1),
    block_size=st.integers(1, 40),
    window=st.integers(1, 12),
    reuse=st.integers(0, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_block_shuffle_draws_its_epoch_a_window_at_a_time(
    n, pos_share, block_size, window, reuse, seed
):
    labels = (np.random.default_rng(seed).random(n) < pos_share).astype(int)
    sampler = BlockShuffleSampler(
        labels, block_size, window, reuse_blocks=reuse, seed=seed
    )
    for epoch in (0, 1, 2, 1):
        sampler.set_epoch(epoch)
        pieces = list(sampler.epoch_pieces())
        sampler.set_epoch(epoch)
        assert np.array_equal(np.concatenate(pieces), sampler.epoch_indices())
        # no piece holds more than one window of majority rows (plus the minority
        # rows that fall among them): the epoch is never one array
        majority = [(labels[p] != sampler.minority).sum() for p in pieces]
        assert max(majority) <= window * block_size
        # the plan of the whole epoch at once: the block-shuffled majority rows,
        # the minority rows inserted at uniform random places among them
        rows = sampler._blocks.shuffled(
            window,
            sampler._rng(0, epoch),
            sampler._blocks.order(epoch, reuse, sampler._rng),
        )
        rng = sampler._rng(3, epoch)
        minority = rng.permutation(sampler.minority_indices)
        places = np.sort(rng.integers(0, rows.size + 1, minority.size))
        assert np.array_equal(np.concatenate(pieces), np.insert(rows, places, minority))


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 30), max_size=12),
    batch_size=st.integers(1, 25),
    drop_last=st.booleans(),
)
def test_batches_of_pieces_are_the_batches_of_their_concatenation(
    lengths, batch_size, drop_last
):
    plan = np.arange(sum(lengths))
    pieces = np.split(plan, np.cumsum(lengths)[:-1]) if lengths else []
    expected = [plan[i : i + batch_size] for i in range(0, plan.size, batch_size)]
    if drop_last and expected and expected[-1].size < batch_size:
        expected.pop()
    got = list(batches_of(pieces, batch_size, drop_last))
    assert len(got) == len(expected)
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))


def _max_open_blocks(block_of):
    """Most blocks begun but not finished at any point of the epoch: the reader's
    working set. Block shuffling bounds it by `window`; a full shuffle does not."""
    last = np.zeros(block_of.max() + 1, dtype=int)
    last[block_of] = np.arange(len(block_of))  # the last position of each block
    first = np.full(block_of.max() + 1, len(block_of))
    np.minimum.at(first, block_of, np.arange(len(block_of)))
    present = np.unique(block_of)
    opened = np.bincount(first[present], minlength=len(block_of)).cumsum()
    closed = np.bincount(last[present] + 1, minlength=len(block_of) + 1).cumsum()
    return int((opened - closed[: len(block_of)]).max())


def test_block_shuffle_mixes_rows_inside_a_window():
    order = np.array(list(BlockShuffleSampler(np.zeros(4096), 64, 8, seed=0)))
    window = order[: 64 * 8]
    # The first window: 8 whole blocks, interleaved (not block after block).
    assert len(np.unique(window // 64)) == 8
    assert np.mean(np.diff(window) == 1) < 0.1
    # Blocks come from all over the data, not in file order.
    assert len(np.unique(order[: 64 * 8 * 4] // 64)) == 32
    assert not np.array_equal(np.unique(order[:512] // 64), np.arange(8))


def test_block_shuffle_spreads_the_minority_class_even_in_a_sorted_file():
    labels = np.r_[np.zeros(9800), np.ones(200)].astype(int)  # sorted by label
    sampler = BlockShuffleSampler(labels, block_size=100, window=4, seed=0)
    for _ in range(3):
        order = np.array(list(sampler))
        where_positives = np.flatnonzero(labels[order] == 1)
        per_tenth = np.bincount(where_positives * 10 // len(order), minlength=10)
        assert per_tenth.min() >= 8 and per_tenth.max() <= 35  # about 20 each
        # and the negatives still come in windows of 4 whole blocks
        negatives = order[labels[order] == 0]
        assert _max_open_blocks(negatives // 100) == 4


@settings(max_examples=80, deadline=None)
@given(
    labels=label_vectors(),
    batch_size=st.integers(2, 64),
    block_size=st.integers(1, 30),
    window=st.integers(1, 6),
)
def test_batch_balanced_with_blocks_keeps_its_guarantees(
    labels, batch_size, block_size, window
):
    plain = BatchBalancedSampler(labels, batch_size, seed=3)
    blocked = BatchBalancedSampler(
        labels, batch_size, block_size=block_size, window=window, seed=3
    )
    assert len(blocked) == len(plain)
    for _ in range(2):
        batches = list(blocked)
        assert all(int(labels[b].sum()) == 1 for b in batches)
        negatives = np.array([j for b in batches for j in b if labels[j] == 0])
        assert np.array_equal(np.sort(negatives), np.flatnonzero(labels == 0))
        assert _max_open_blocks(negatives // block_size) <= window


def test_block_shuffle_full_window_is_a_plain_shuffle():
    labels = np.r_[np.ones(10), np.zeros(90)]
    sampler = BlockShuffleSampler(labels, block_size=10, window=10, seed=3)
    assert sampler.epoch_class_counts() == (90, 10)
    firsts = [list(sampler)[0] for _ in range(30)]
    assert len(set(firsts)) > 10  # any row can come first
    # the working-set measure used above does see a full shuffle
    assert _max_open_blocks(np.array(list(sampler)) // 10) > 5


def test_usable_in_a_plain_dataloader():
    labels = np.r_[np.ones(6), np.zeros(60)].astype(int)
    dataset = TensorDataset(torch.arange(66), torch.tensor(labels))
    loader = DataLoader(dataset, batch_sampler=BatchBalancedSampler(labels, 10, seed=0))
    assert all(int(y.sum()) == 1 for _, y in loader)
    loader = DataLoader(dataset, sampler=OverSampler(labels, seed=0), batch_size=32)
    assert sum(len(x) for x, _ in loader) == 120


def test_classifier_trains_on_batch_balanced_batches(rare):
    X, y = rare
    recorder = RecordBatches()
    clf = quiet(
        sampler="batch_balanced",
        sampler__pos_per_batch=3,
        batch_size=64,
        callbacks=[recorder],
        max_epochs=2,
    ).fit(X, y)
    n_neg_train = round(0.8 * (y == 0).sum())
    per_epoch = -(-n_neg_train // 61)
    assert len([b[1] for b in recorder.batches_]) == 2 * per_epoch
    assert all(b.sum() == 3 for b in [b[1] for b in recorder.batches_])
    assert all(len(b) == 64 for b in [b[1] for b in recorder.batches_][: per_epoch - 1])
    # the weight is resolved on what the sampler presents: 61 negatives per 3 positives
    assert clf.pos_weight_ == pytest.approx(n_neg_train / (3 * per_epoch))


def test_sampler_maps_back_to_training_rows(rare):
    X, y = rare
    recorder = RecordBatches()
    # the sampler indexes the training Subset: an epoch must hold exactly the
    # training positives and as many negatives
    clf = quiet(
        sampler="undersample", callbacks=[recorder], max_epochs=1, pos_weight=None
    ).fit(X, y)
    seen = np.concatenate([b[1] for b in recorder.batches_])
    n_pos_train = round(0.8 * y.sum())
    assert seen.sum() == n_pos_train and len(seen) == 2 * n_pos_train
    assert clf.pos_weight_ == 1.0


@pytest.mark.parametrize("name", ["weighted", "undersample", "oversample"])
def test_resampling_samplers_do_not_double_correct(rare, name):
    X, y = rare
    clf = quiet(sampler=name, max_epochs=1).fit(X, y)
    assert clf.pos_weight_ == pytest.approx(1.0, abs=0.01)


def test_classifier_sampler_batches_are_reproducible(rare):
    X, y = rare
    runs = []
    for _ in range(2):
        recorder = RecordBatches()
        quiet(sampler="batch_balanced", callbacks=[recorder], max_epochs=2).fit(X, y)
        runs.append(np.concatenate([b[1] for b in recorder.batches_]))
    np.testing.assert_array_equal(*runs)


def test_user_sampler_class_and_instance(rare):
    X, y = rare
    clf = quiet(sampler=UnderSampler, sampler__ratio=2.0, max_epochs=1).fit(X, y)
    assert isinstance(clf.sampler_, UnderSampler) and clf.sampler_.ratio == 2.0
    y_train = y[: int(0.8 * len(y))]  # only sizes matter for a user instance
    instance = torch.utils.data.RandomSampler(range(len(y_train)))
    clf = quiet(sampler=instance, max_epochs=1, train_split=None, pos_weight=None)
    clf.fit(X[: len(y_train)], y_train)
    assert clf.sampler_ is instance


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 400),
    block_size=st.integers(1, 40),
    window=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    shuffled_storage=st.booleans(),
)
def test_blocks_cut_over_storage_positions(
    n, block_size, window, seed, shuffled_storage
):
    # The rows drawn from are a split of a stored table: the sampler's blocks are the
    # table's blocks, so a reader keeps at most `window` of them open.
    rng = np.random.default_rng(seed)
    stored_at = np.sort(rng.choice(3 * n, n, replace=False))
    if shuffled_storage:  # rows not in storage order: still whole stored blocks
        stored_at = rng.permutation(stored_at)
    labels = (rng.random(n) < 0.1).astype(int)
    for sampler in (
        BlockShuffleSampler(labels, block_size, window, stored_at, seed=seed),
        BatchBalancedSampler(
            labels, 8, block_size=block_size, window=window,
            storage_positions=stored_at, seed=seed,
        ) if 0 < labels.sum() < n else None,
    ):  # fmt: skip
        if sampler is None:
            continue
        order = np.concatenate([np.asarray(b).ravel() for b in sampler])
        majority = order[labels[order] == (0 if labels.sum() * 2 <= n else 1)]
        if isinstance(sampler, BatchBalancedSampler):
            majority = order[labels[order] == 0]
            assert np.array_equal(np.sort(majority), np.flatnonzero(labels == 0))
        else:
            assert np.array_equal(np.sort(order), np.arange(n))
        if majority.size:
            assert _max_open_blocks(stored_at[majority] // block_size) <= window


def test_storage_positions_are_checked():
    with pytest.raises(ValueError, match=r"storage_positions must be 4 ints .* \(3,\)"):
        BlockShuffleSampler([0, 0, 1, 0], storage_positions=[0, 1, 2])
    with pytest.raises(ValueError, match="storage_positions must be >= 0, got -1"):
        BlockShuffleSampler([0, 0, 1, 0], storage_positions=[0, 1, 2, -1])


def _blocks_of(rows, block_size):
    return set((rows // block_size).tolist())


@settings(max_examples=40, deadline=None)
@given(
    n_blocks=st.integers(2, 30),
    window=st.integers(1, 4),
    windows_reused=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_reused_blocks_open_the_next_epoch(n_blocks, window, windows_reused, seed):
    # A cache that keeps the blocks read last holds, when an epoch ends, the blocks
    # the next epoch's first windows ask for; every epoch is still every row once.
    block_size = 8
    reuse = window * windows_reused
    labels = np.zeros(n_blocks * block_size, dtype=int)
    sampler = BlockShuffleSampler(
        labels, block_size, window, reuse_blocks=reuse, seed=seed
    )
    plans = [np.fromiter(sampler, np.int64) for _ in range(4)]
    reused = min(reuse, n_blocks)
    # The last `reused` blocks' rows sit in the last window-aligned stretch of the
    # plan, which may also hold up to window - 1 blocks before them.
    tail = min(reused + window - 1, n_blocks) * block_size
    for before, after in zip(plans[:-1], plans[1:], strict=True):
        assert np.array_equal(np.sort(after), np.arange(labels.size))
        opening = _blocks_of(after[: reused * block_size], block_size)
        assert len(opening) == reused
        assert opening <= _blocks_of(before[-tail:], block_size)
        if window == 1:  # blocks one after another: exactly the last ones
            assert opening == _blocks_of(before[-reused * block_size :], block_size)
    if reused < n_blocks:  # and not the same opening every epoch
        assert len({tuple(np.sort(p[: reused * block_size])) for p in plans}) > 1


def test_reused_blocks_keep_each_epoch_a_function_of_seed_and_epoch():
    labels = (np.random.default_rng(0).random(2000) < 0.05).astype(int)
    make = [
        lambda: BlockShuffleSampler(labels, 16, 2, reuse_blocks=20, seed=7),
        lambda: BatchBalancedSampler(
            labels, 64, block_size=16, window=2, reuse_blocks=20, seed=7
        ),
    ]
    for new in make:
        in_turn = new()
        plans = [np.concatenate(list(map(np.ravel, in_turn))) for _ in range(4)]
        jumped = new()
        jumped.set_epoch(3)  # a fresh sampler, straight to epoch 3 (a resumed fit)
        assert np.array_equal(np.concatenate(list(map(np.ravel, jumped))), plans[3])
        jumped.set_epoch(1)  # and back: the chain is drawn again
        assert np.array_equal(np.concatenate(list(map(np.ravel, jumped))), plans[1])


def test_reuse_blocks_is_checked():
    for bad in (-1, 2.5, True):
        message = f"reuse_blocks must be an int >= 0, got {bad!r}"
        with pytest.raises(ValueError, match=message):
            BlockShuffleSampler([0, 1, 0], reuse_blocks=bad)
        with pytest.raises(ValueError, match=message):
            BatchBalancedSampler([0, 1, 0], 2, block_size=1, reuse_blocks=bad)


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 9), max_size=120),
    block_size=st.integers(1, 20),
    chunk=st.integers(1, 40),
    positioned=st.booleans(),
)
def test_block_runs_in_chunks_are_runs_of_the_block_numbers(
    gaps, block_size, chunk, positioned
):
    from skimb.data.index import block_runs, runs_of

    # rows stored at ascending positions with gaps (a subset's), or at their own
    stored = np.cumsum(gaps).astype(np.int32) + 4 if gaps else np.zeros(0, np.int32)
    if not positioned:
        stored = np.arange(len(gaps))
    _, starts, counts = runs_of(stored // block_size)
    got = block_runs(len(gaps), block_size, stored if positioned else None, chunk)
    np.testing.assert_array_equal(got[0], starts)
    np.testing.assert_array_equal(got[1], counts)
    backwards = stored[::-1].copy()
    if np.any(np.diff(backwards // block_size) < 0):  # stored out of order: None
        assert block_runs(len(gaps), block_size, backwards, chunk) is None


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(0, 300),
    pos_share=st.floats(0, 1),
    block_size=st.integers(1, 20),
    window=st.integers(1, 6),
    chunk=st.integers(1, 50),
    gaps=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_blocks_picked_from_the_labels_are_the_blocks_of_the_listed_rows(
    n, pos_share, block_size, window, chunk, gaps, seed
):
    """The label-picked blocks give the plan of the rows listed and cut by block
    (the definition, and the path for rows stored out of order), draw for draw."""
    from skimb.data import index
    from skimb.data.index import concatenated_ranges, runs_of
    from skimb.samplers import _Blocks

    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < pos_share).astype(np.int8)
    stored = np.cumsum(rng.integers(1, 4, n)) if gaps else None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(index, "SCAN_ROWS", chunk)  # runs cut and counted in chunks
        blocks = _Blocks(labels, 0, block_size, stored)
    assert blocks.rows is None  # picked from the labels
    rows = np.flatnonzero(labels == 0)
    _, starts, counts = runs_of(
        (rows if stored is None else stored[rows]) // block_size
    )
    draws = np.random.default_rng(seed)
    order, expected = draws.permutation(counts.size), []
    for first in range(0, order.size, window):
        b = order[first : first + window]
        window_rows = rows[concatenated_ranges(starts[b], counts[b])]
        draws.shuffle(window_rows)
        expected.append(window_rows)
    got = list(blocks.windows(window, np.random.default_rng(seed)))
    assert len(got) == len(expected)
    for piece, want in zip(got, expected, strict=True):
        np.testing.assert_array_equal(piece, want)
        assert piece.dtype == np.int32


def _lru_decodes(batches, capacity):
    """Units a least-recently-used cache of ``capacity`` units decodes to serve
    these batches (lists of units), in order."""
    cache, decodes = [], 0
    for units in batches:
        for unit in units:
            if unit in cache:
                cache.remove(unit)
            else:
                decodes += 1
            cache.append(unit)
        del cache[:-capacity]
    return decodes


def test_block_shuffle_over_uneven_read_units_opens_each_epoch_in_the_cache():
    """Read units of uneven size (a Parquet file written 100,000 rows at a time
    with row groups of 65,536: units of 65,536 and 34,464 rows) end the lanes
    unevenly, so an epoch's last blocks span more units than the lanes. The next
    epoch opens with those blocks: more than the cache's units at once, every
    batch of the opening windows decoded them again (17 decodes for 2 units,
    measured on 1,000,000 rows)."""
    from skimb.data.index import ReadUnits, stored_positions
    from skimb.samplers import BlockShuffleSampler

    unit_rows, lanes, capacity = 2**16, 2, 4
    sizes = [unit_rows, 100_000 - unit_rows] * 8
    positions = np.concatenate(
        [u * unit_rows + np.arange(n) for u, n in enumerate(sizes)]
    )
    units = ReadUnits(unit_rows, np.arange(len(sizes)), lanes)
    spare_blocks = (capacity - lanes) * int(np.mean(sizes)) // 256
    sampler = BlockShuffleSampler(
        np.zeros(len(positions), np.int8),
        storage_positions=stored_positions(positions, units),
        reuse_blocks=spare_blocks - 32,  # as the classifier sets it
        seed=0,
    )
    order = []
    for epoch in range(4):
        sampler.set_epoch(epoch)
        order.append(np.fromiter(iter(sampler), dtype=np.int64))
    unit_of = positions // unit_rows
    batches = [
        [np.unique(unit_of[rows[i : i + 512]]).tolist() for i in range(0, n, 512)]
        for rows in order
        for n in [len(rows)]
    ]
    decodes = _lru_decodes([b for epoch in batches for b in epoch], capacity)
    # each epoch decodes each unit once, the first epoch of all, the later ones
    # less the units they open with (found in the cache)
    assert decodes <= 4 * len(sizes)
    for epoch in batches:
        assert max(len(b) for b in epoch) <= capacity
