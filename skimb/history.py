"""The training history's per-batch records, stored by column once their epoch ends.

skorch's ``History`` keeps a dict per batch (``{"train_loss": ...,
"train_batch_size": ...}``): about 360 bytes a batch with its values (tracemalloc, a
fit of 2 million rows). A default fit of a 4-million-row ``SQLiteDataset`` runs 20
epochs of ~7,800 batches: some 50 MiB of history, more than everything else in the
fit that grows with the table (``benchmarks/bench_sqlite_defaults.py``). Once an
epoch is over and its callbacks have read its batches, :func:`close_epoch` stores
them as a :class:`BatchColumns`: one array per key, 8 bytes for each float or int
value recorded (and a byte a batch for a key recorded in scattered batches).

To skorch, ``json`` and ``pickle`` a ``BatchColumns`` is the list of dicts it
replaced: indexing, slicing, iteration, ``len``, ``==``,
``history[:, "batches", :, "train_loss"]``, ``History.to_file`` and pickling give
what the list gave. It is read-only (a finished epoch is not written again), and each
access builds fresh dicts: changing one does not change the history.
"""

import operator

import numpy as np

_MISSING = object()
_INT64 = np.iinfo(np.int64)


class BatchColumns(list):
    """A finished epoch's batch records (a list of dicts), stored by key.

    Parameters
    ----------
    batches : list of dict
        The epoch's batch records. Every batch must list its keys in the order of
        their first appearance in the epoch (skorch records them so), so that the
        dicts are rebuilt as they were; :func:`close_epoch` leaves any other list
        as it is.

    Examples
    --------
    >>> batches = BatchColumns([{"train_loss": 0.5, "train_batch_size": 512},
    ...                         {"valid_loss": 0.25, "valid_batch_size": 100}])
    >>> batches[-1]
    {'valid_loss': 0.25, 'valid_batch_size': 100}
    >>> [b["train_loss"] for b in batches if "train_loss" in b]
    [0.5]
    """

    __slots__ = ("_n_rows", "_keys", "_columns", "_present")

    def __init__(self, batches):
        super().__init__()
        batches = list(batches)
        keys = {}
        for number, batch in enumerate(batches):
            if type(batch) is not dict:
                raise TypeError(
                    f"batch {number} is a {type(batch).__name__}, not a dict"
                )
            for key in batch:
                keys.setdefault(key, len(keys))
            where = [keys[key] for key in batch]
            if where != sorted(where):
                raise ValueError(
                    f"batch {number} lists its keys {list(batch)} in another order "
                    f"than the epoch's first batches ({list(keys)})"
                )
        self._n_rows, self._keys = len(batches), tuple(keys)
        columns, present = [], []
        for key in self._keys:
            values = [batch.get(key, _MISSING) for batch in batches]
            found = np.fromiter((v is not _MISSING for v in values), bool, len(values))
            where = _as_run(found)
            if where is not None:  # skorch's case: training batches, then validation
                values, found = values[where.start : where.stop], found[where]
            columns.append(_column(values, found))
            present.append(where if where is not None else found)
        self._columns, self._present = tuple(columns), tuple(present)

    @classmethod
    def _from_columns(cls, n_rows, keys, columns, present):
        self = cls([])
        self._n_rows, self._keys = n_rows, tuple(keys)
        self._columns, self._present = tuple(columns), tuple(present)
        return self

    def _row(self, i):
        row = {}
        for key, column, found in zip(
            self._keys, self._columns, self._present, strict=True
        ):
            if isinstance(found, range):  # the key's batches are one run of them
                if i not in found:
                    continue
                value = column[i - found.start]
            elif found[i]:
                value = column[i]
            else:
                continue
            row[key] = value.item() if isinstance(column, np.ndarray) else value
        return row

    def to_list(self):
        """The batch records as a plain list of dicts."""
        return [self._row(i) for i in range(self._n_rows)]

    # -- read as a list --------------------------------------------------------------
    def __len__(self):
        return self._n_rows

    def __iter__(self):
        return map(self._row, range(self._n_rows))

    def __reversed__(self):
        return map(self._row, reversed(range(self._n_rows)))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._row(i) for i in range(*index.indices(self._n_rows))]
        i = operator.index(index)
        if not -self._n_rows <= i < self._n_rows:
            raise IndexError("list index out of range")
        return self._row(i % self._n_rows)

    def __contains__(self, value):
        return any(row == value for row in self)

    def count(self, value):
        return sum(row == value for row in self)

    def index(self, value, *args):
        return self.to_list().index(value, *args)

    def copy(self):
        return self.to_list()

    def __eq__(self, other):
        return self.to_list() == _plain(other) if isinstance(other, list) else False

    def __ne__(self, other):
        return not self == other

    def __lt__(self, other):
        return self.to_list() < _plain(other)

    def __le__(self, other):
        return self.to_list() <= _plain(other)

    def __gt__(self, other):
        return self.to_list() > _plain(other)

    def __ge__(self, other):
        return self.to_list() >= _plain(other)

    __hash__ = None

    def __add__(self, other):
        return self.to_list() + _plain(other)

    def __radd__(self, other):
        return _plain(other) + self.to_list()

    def __mul__(self, times):
        return self.to_list() * times

    __rmul__ = __mul__

    def __repr__(self):
        return repr(self.to_list())

    def __sizeof__(self):
        arrays = sum(
            c.nbytes if isinstance(c, np.ndarray) else c.__sizeof__()
            for c in self._columns
        )
        masks = sum(p.nbytes for p in self._present if isinstance(p, np.ndarray))
        return super().__sizeof__() + arrays + masks

    def __reduce__(self):
        return (
            _rebuild,
            (self._n_rows, self._keys, self._columns, self._present),
        )

    # -- not written again -----------------------------------------------------------
    def _read_only(self, *args, **kwargs):
        raise TypeError(
            "the batch records of a finished epoch are read-only (stored by column "
            "by skimb.history); copy them with .to_list() to change them"
        )

    append = extend = insert = pop = remove = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only


def _rebuild(n_rows, keys, columns, present):
    return BatchColumns._from_columns(n_rows, keys, columns, present)


def _plain(other):
    return other.to_list() if isinstance(other, BatchColumns) else other


def _as_run(found):
    """The positions where ``found`` is True as a ``range``, when they are one run
    (all of them, or none: an empty range), else None."""
    where = np.flatnonzero(found)
    if where.size == 0:
        return range(0)
    if where[-1] - where[0] + 1 == where.size:
        return range(int(where[0]), int(where[-1]) + 1)
    return None


def _column(values, found):
    """``values`` (``_MISSING`` where ``found`` is False) as a float64, int64 or bool
    array when every value found is exactly a Python float, int or bool (read back
    as the same value and type), else as the list itself."""
    pairs = list(zip(values, found, strict=True))
    kinds = {type(v) for v, here in pairs if here}
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind is int and any(
        here and not _INT64.min <= v <= _INT64.max for v, here in pairs
    ):
        kind = None  # past int64
    if kind not in (float, int, bool):
        return [v if here else None for v, here in pairs]
    filler = kind()  # where a batch has no value: never read (found is False)
    dtype = {float: np.float64, int: np.int64, bool: np.bool_}[kind]
    return np.array([v if here else filler for v, here in pairs], dtype)


def close_epoch(history):
    """Store the batch records of ``history``'s last epoch as a :class:`BatchColumns`.

    Call it once the epoch's callbacks have read them. A history of another kind
    (skorch's ``DistributedHistory``), an epoch without a list of dict records, or
    one whose batches list their keys in differing orders is left as it is.
    """
    if not isinstance(history, list) or not history:
        return
    row = history[-1]
    batches = row.get("batches") if isinstance(row, dict) else None
    if type(batches) is not list:
        return
    try:
        row["batches"] = BatchColumns(batches)
    except (TypeError, ValueError):
        pass  # kept as the list it is
