"""RowRuns: ascending rows held as runs and short lists, read as the int array."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skimb.data import index
from skimb.data.batches import IndexSubset
from skimb.data.row_runs import RowRuns
from skimb.data.split import first_stratified_fold


@st.composite
def row_runs(draw):
    """Pieces of ascending rows (runs and listed rows, some empty) and the array
    they stand for."""
    pieces, whole, row = [], [], 0
    for _ in range(draw(st.integers(0, 4))):
        row += draw(st.integers(0, 5))
        length = draw(st.integers(0, 6))
        if draw(st.booleans()):
            piece = range(row, row + length)
            whole.extend(piece)
        else:
            gaps = draw(st.lists(st.integers(1, 3), min_size=length, max_size=length))
            piece = row + np.cumsum(gaps) - 1
            whole.extend(piece.tolist())
        pieces.append(piece)
        row = (whole[-1] + 1) if whole else row
    return RowRuns(pieces, np.int32), np.asarray(whole, dtype=np.int32)


@settings(max_examples=300, deadline=None)
@given(rows_and_array=row_runs(), data=st.data())
def test_reads_as_the_array_it_stands_for(rows_and_array, data):
    rows, array = rows_and_array
    assert len(rows) == rows.size == array.size and rows.shape == array.shape
    np.testing.assert_array_equal(np.asarray(rows), array)
    assert np.asarray(rows).dtype == np.int32
    n = array.size
    if n:
        i = data.draw(st.integers(-n, n - 1))
        assert rows[i] == array[i] and type(rows[i]) is int
        assert rows.min() == array.min() and rows.max() == array.max()
    start = data.draw(st.integers(-n - 2, n + 2))
    stop = data.draw(st.integers(-n - 2, n + 2))
    step = data.draw(st.sampled_from([None, 1, 2, -1]))
    np.testing.assert_array_equal(rows[start:stop:step], array[start:stop:step])
    positions = np.asarray(
        data.draw(st.lists(st.integers(-n, n - 1), max_size=8)) if n else [], int
    )
    np.testing.assert_array_equal(rows[positions], array[positions])
    mask = np.asarray(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(index, "SCAN_ROWS", 2)  # chunk edges inside the rows
        np.testing.assert_array_equal(rows[mask.astype(bool)], array[mask.astype(bool)])
    values = np.arange(int(array.max()) + 1 if n else 0) * 10
    np.testing.assert_array_equal(rows.take_from(values), values[array])
    np.testing.assert_array_equal(rows // 3, array // 3)  # operators: the array's
    if rows.is_one_run():  # held as one run: consecutive rows
        assert n == 0 or bool(np.all(np.diff(array) == 1))


def test_bad_positions_say_what_is_wrong():
    rows = RowRuns([range(0, 3), np.array([7, 9])], np.int32)
    with pytest.raises(IndexError, match="row 5 out of range for 5 rows"):
        rows[5]
    with pytest.raises(IndexError, match="out of range for 5 rows"):
        rows[np.array([0, 5])]
    with pytest.raises(IndexError, match=r"mask of shape \(4,\) does not match 5"):
        rows[np.ones(4, bool)]
    with pytest.raises(IndexError, match="must be ints"):
        rows[np.array([0.5])]
    with pytest.raises(ValueError, match="step 1"):
        RowRuns([range(0, 6, 2)], np.int32)


def test_the_split_of_a_shuffled_table_lists_only_the_middle_stretch():
    y = np.random.default_rng(0).random(400_000) < 0.01
    train, test = first_stratified_fold(y, 5)
    listed = [
        p.size
        for part in (train, test)
        for p in part._pieces
        if isinstance(p, np.ndarray)
    ]
    assert sum(listed) < 0.05 * y.size  # ~20,000 rows: 10 KiB, not 1.6 MiB
    subset = IndexSubset(np.arange(y.size), train)
    assert subset.indices is train  # kept as runs
