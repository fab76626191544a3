"""Tables: DataFrames with categorical columns and missing values (skimb.tables),
and how networks take them (skimb.modules.tables)."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from skimb import ImbalancedNetClassifier
from skimb.data.split import light_valid_split
from skimb.modules import MLP, RealMLP, SmallRealMLP
from skimb.modules.tables import TableInputs, embedding_dim
from skimb.scaling import FeatureScaler
from skimb.tables import TableEncoder
from skimb.tables.encoder import MISSING_CODE, RARE_CODE
from tests.conftest import quiet


def table(n=1200, seed=0):
    """Two numbers (one with gaps), a string column, a category column with
    missing values, an int-coded category; about 10% positives driven by both."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, n),
            "age": rng.normal(40, 12, n),
            "country": rng.choice(["CN", "US", "DE", "FR", "BR"], n),
            "channel": pd.Categorical(rng.choice(["web", "app", None], n)),
            "store": rng.integers(0, 4, n),
        }
    )
    frame.loc[rng.random(n) < 0.15, "age"] = np.nan
    logit = -3.2 + 2.0 * (frame.country == "CN") + 0.8 * np.log(frame.amount) - 2.4
    logit += 1.0 * (frame.channel == "app")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(int)
    return frame, y


# -- the encoder against its reference -------------------------------------------


def test_numbers_imputed_with_the_training_median_and_an_indicator():
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0, 10.0, None], "z": [1, 2, 3, 4, 5]})
    encoder = TableEncoder()
    packed = encoder.fit_transform(frame, np.array([0, 1, 0, 1, 0]))
    median = float(np.median([1.0, 3.0, 10.0]))
    np.testing.assert_array_equal(packed[:, 0], [1.0, median, 3.0, 10.0, median])
    np.testing.assert_array_equal(packed[:, 1], [1, 2, 3, 4, 5])
    # one indicator, for the column with gaps only
    assert encoder.layout_.n_scaled == 2 and encoder.layout_.n_numeric == 3
    np.testing.assert_array_equal(packed[:, 2], [0, 1, 0, 0, 1])
    # gaps at predict time in a column without them in training: imputed, no input
    np.testing.assert_array_equal(
        encoder.transform(pd.DataFrame({"x": [2.0], "z": [None]})), [[2.0, 3.0, 0.0]]
    )


def test_imputation_reads_only_the_training_rows():
    # Rows the default split validates on get huge values: a median over all rows
    # would move, one over the training rows does not.
    frame, y = table(600)
    clf = quiet(max_epochs=1)
    split = light_valid_split(clf.train_split, y.astype(np.float32))
    train, valid = (np.asarray(rows) for rows in split)
    frame.loc[valid, "age"] = 1e6
    frame.loc[valid[:5], "amount"] = np.nan  # gaps only among validation rows
    clf.fit(frame, y)
    encoder = clf.table_encoder_
    column = encoder.numeric_columns_.index("age")
    expected = np.nanmedian(frame["age"].to_numpy()[train])
    assert encoder.fill_[column] == pytest.approx(expected)
    # the scaling statistics too: the training rows' observed values, in float64
    observed = frame["age"].to_numpy()[train]
    np.testing.assert_allclose(encoder.scaler_.center_[column], np.nanmean(observed))
    np.testing.assert_allclose(encoder.scaler_.scale_[column], np.nanstd(observed))
    # no gap in the training rows' `amount`: no indicator for it
    assert encoder.numeric_columns_.index("amount") not in encoder.indicators_


def test_category_codes_reserve_missing_and_rare():
    values = ["a"] * 6 + ["b"] * 5 + ["c"] * 2 + [None]
    frame = pd.DataFrame({"c": values})
    encoder = TableEncoder(min_category_rows=5)
    codes = encoder.fit_transform(frame, np.zeros(len(values)))[:, 0]
    assert encoder.layout_.cardinalities == (4,)  # a, b, missing, rare
    assert codes.tolist() == [2] * 6 + [3] * 5 + [RARE_CODE] * 2 + [MISSING_CODE]
    new = encoder.transform(pd.DataFrame({"c": ["zzz", None, np.nan, pd.NA, "b"]}))
    assert new[:, 0].tolist() == [RARE_CODE] + [MISSING_CODE] * 3 + [3]


def test_rows_as_sqlite_returns_them_encode_as_the_frame():
    # transform_rows is the read path of a table on disk: tuples with None for
    # NULL, NaN where a float column is categorical, unseen and empty blocks.
    frame, y = table(400)
    encoder = TableEncoder(categorical=["country", "channel", "store"])
    encoder.fit_transform(frame, y)
    new = frame.head(6).astype(object)
    new.loc[0, "country"], new.loc[1, "channel"], new.loc[2, "store"] = "??", None, 99
    new.loc[3, "age"], new.loc[4, "country"] = None, np.nan
    rows = [tuple(None if v is pd.NA else v for v in r) for r in new.itertuples(False)]
    expected = encoder.transform(new.astype({"amount": float, "age": float}))
    np.testing.assert_array_equal(encoder.transform_rows(rows), expected)
    assert expected[4, -3] == MISSING_CODE and expected[0, -3] == RARE_CODE
    assert encoder.transform_rows([]).shape == (0, encoder.layout_.width)


def test_int_and_bool_category_columns():
    frame = pd.DataFrame({"code": [7, 7, 9, 9, 7, 9], "flag": [True, False] * 3})
    encoder = TableEncoder(categorical=["code", 1], min_category_rows=1)
    codes = encoder.fit_transform(frame, np.zeros(6))
    assert encoder.categorical_columns_ == ["code", "flag"]
    assert encoder.layout_.n_numeric == 0
    assert set(codes[:, 0]) == {2.0, 3.0} and set(codes[:, 1]) == {2.0, 3.0}
    assert (codes[:, 0] == codes[0, 0]).tolist() == (frame.code == 7).tolist()
    # "auto" takes booleans for categories, int columns for numbers
    auto = TableEncoder()
    auto.fit_transform(frame, np.zeros(6))
    assert auto.categorical_columns_ == ["flag"] and auto.numeric_columns_ == ["code"]


def test_all_missing_columns():
    frame = pd.DataFrame(
        {"x": [np.nan] * 4, "c": pd.Series([None] * 4, dtype=object), "z": [1.0] * 4}
    )
    encoder = TableEncoder(categorical=["c"])
    packed = encoder.fit_transform(frame, np.array([0, 1, 0, 1]))
    assert np.isfinite(packed).all()
    np.testing.assert_array_equal(packed[:, 0], 0.0)  # nothing to take a median of
    assert encoder.layout_.cardinalities == (2,)


def test_target_encoding_never_reads_a_rows_own_label():
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(0)
    n = 400
    cities = rng.choice([f"c{i}" for i in range(30)], n).astype(object)
    cities[:20] = [f"once{i}" for i in range(20)]  # categories of a single row
    frame = pd.DataFrame({"city": cities})
    y = rng.integers(0, 2, n)
    y[:20] = 1
    encoder = TableEncoder(target_encoding=True)
    packed = encoder.fit_transform(frame, y, folds=5, random_state=3)
    assert encoder.target_encoded_ == [0]  # 50 levels > 10
    te = encoder.layout_.n_scaled - 1
    splitter = StratifiedKFold(5, shuffle=True, random_state=3)
    for fit_rows, held_rows in splitter.split(frame, y):
        # a category no other fold holds gets the other folds' positive rate: its
        # own (positive) label would pull the value up
        prior = y[fit_rows].mean()
        once = held_rows[held_rows < 20]
        np.testing.assert_allclose(packed[once, te], prior, rtol=1e-6)  # float32
    # rows predicted later get the encoding of all training rows
    full = encoder.transform(frame.iloc[:1])[0, te]
    assert full > packed[0, te]  # its own positive label now counts


def test_encoder_errors_name_the_column():
    frame = pd.DataFrame({"x": [1.0, np.inf], "c": ["a", "b"]})
    with pytest.raises(ValueError, match="column 'x' holds infinite values"):
        TableEncoder().fit_transform(frame, [0, 1])
    with pytest.raises(ValueError, match="categorical column 'nope' is not a column"):
        TableEncoder(categorical=["nope"]).fit_transform(frame, [0, 1])
    with pytest.raises(ValueError, match="column 'c' is not numeric"):
        TableEncoder(categorical=None).fit_transform(frame.iloc[:1], [0])


# -- scaling with missing values and passed-through columns -----------------------


def test_scaler_ignores_missing_values_and_passes_later_columns():
    rng = np.random.default_rng(0)
    X = rng.normal(5, 3, (500, 3))
    X[rng.random((500, 3)) < 0.2] = np.nan
    halves = [X[:200], X[200:]]
    scaler = FeatureScaler("standard", columns=2).fit(halves)
    np.testing.assert_allclose(scaler.center_, np.nanmean(X[:, :2], axis=0))
    np.testing.assert_allclose(scaler.scale_, np.nanstd(X[:, :2], axis=0))
    robust = FeatureScaler("robust", columns=2).fit([X])
    np.testing.assert_allclose(robust.center_, np.nanmedian(X[:, :2], axis=0))
    filled = torch.as_tensor(np.nan_to_num(X), dtype=torch.float32)
    out = robust.transform(filled)
    assert torch.equal(out[:, 2], filled[:, 2])  # codes and indicators untouched


# -- networks --------------------------------------------------------------------


def test_table_inputs_one_hot_for_an_undeclared_module():
    inner = torch.nn.Identity()
    x = torch.tensor([[0.5, 2.0, 0.0], [1.5, 1.0, 2.0]])
    out = TableInputs(inner, 1, [3, 4])(x)
    expected = [[0.5, 0, 0, 1, 1, 0, 0, 0], [1.5, 0, 1, 0, 0, 0, 1, 0]]
    assert out.tolist() == expected


def test_declared_modules_get_numbers_and_long_codes():
    seen = {}

    class Declared(torch.nn.Module):
        categorical_inputs = True

        def forward(self, x_num, x_cat):
            seen.update(num=x_num, cat=x_cat)
            return x_num.sum(1)

    TableInputs(Declared(), 2, [5])(torch.tensor([[1.0, 2.0, 4.0]]))
    assert seen["num"].tolist() == [[1.0, 2.0]]
    assert seen["cat"].dtype == torch.long and seen["cat"].tolist() == [[4]]


def test_builtin_networks_embed_categories():
    mlp = MLP(input_dim=2, hidden_units=(8,), cardinalities=(5, 40))
    first = mlp.net[0]
    assert first.in_features == 2 + embedding_dim(5) + embedding_dim(40)
    x_num, x_cat = torch.zeros(3, 2), torch.tensor([[0, 39], [4, 0], [1, 1]])
    assert mlp(x_num, x_cat).shape == (3,)
    codes = torch.tensor([[0], [2]])
    assert MLP(input_dim=0, cardinalities=(3,))(torch.zeros(2, 0), codes).shape == (2,)
    assert RealMLP(input_dim=2, cardinalities=(5, 40))(x_num, x_cat).shape == (3,)
    with pytest.raises(ValueError, match="input_dim must be an int >= 1"):
        MLP(input_dim=0)


# -- the classifier on tables ----------------------------------------------------


def test_fit_a_dataframe_as_it_is_and_predict_new_categories():
    frame, y = table()
    clf = quiet(max_epochs=8).fit(frame, y)
    assert clf.n_features_in_ == 5
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert clf.table_encoder_.categorical_columns_ == ["country", "channel"]
    assert isinstance(clf.module_, TableInputs) and clf.module_.declared
    new = frame.iloc[:4].copy()
    new["country"] = ["XX", None, "CN", "US"]
    new["channel"] = pd.Categorical(["phone", None, "web", "app"])
    new.loc[0, "amount"] = np.nan
    proba = clf.predict_proba(new)
    assert proba.shape == (4, 2) and np.isfinite(proba).all()
    assert set(clf.predict(new)) <= {0, 1}


def test_other_columns_at_predict_are_named():
    frame, y = table(300)
    clf = quiet(max_epochs=1).fit(frame, y)
    with pytest.raises(ValueError, match="store"):  # scikit-learn's check names it
        clf.predict_proba(frame.drop(columns="store").assign(other=1))
    with pytest.raises(ValueError, match="same order"):
        clf.predict_proba(frame[frame.columns[::-1]])
    with pytest.raises(ValueError, match="expecting 5 features"):
        clf.predict_proba(frame.iloc[:, :3].to_numpy())


def test_string_labels_sample_weight_and_pickle():
    frame, y = table(500)
    labels = np.where(y == 1, "fraud", "ok")
    weights = np.where(y == 1, 2.0, 1.0)
    clf = quiet(max_epochs=2).fit(frame, labels, sample_weight=weights)
    assert clf.classes_.tolist() == ["fraud", "ok"]
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(frame), clf.predict_proba(frame))
    assert set(again.predict(frame)) <= {"fraud", "ok"}


def test_the_default_network_is_small_realmlp_for_categorical_columns_only():
    frame, y = table(600)
    numbers = frame[["amount", "age"]]

    def network(clf):
        module = clf.module_
        return type(getattr(module, "module", module))

    fit = {"max_epochs": 2, "bagging": None}
    assert network(quiet(**fit).fit(frame, y)) is SmallRealMLP
    assert network(quiet(**fit).fit(numbers, y)) is MLP  # gaps, no categories
    assert network(quiet(**fit).fit(numbers.to_numpy(), y)) is MLP
    assert network(quiet(**fit, module="mlp").fit(frame, y)) is MLP
    clf = quiet(**fit, module__hidden_units=(8,)).fit(frame, y)
    assert [m.out_features for m in clf.module_.module.net[::3]] == [8, 1]
    # a refit on numbers after a table builds the numeric default again
    assert network(clf.fit(numbers.fillna(0).to_numpy(), y)) is MLP


def test_arrays_with_missing_values_are_imputed():
    frame, y = table(500)
    X = frame[["amount", "age"]].to_numpy()
    clf = quiet(max_epochs=2).fit(X, y)
    assert clf.table_encoder_.layout_.n_numeric == 3  # one indicator
    assert np.isfinite(clf.predict_proba(X)).all()


def test_user_module_gets_one_hot_columns():
    widths = []

    class Linear(torch.nn.Module):
        def __init__(self, input_dim):
            super().__init__()
            widths.append(input_dim)
            self.layer = torch.nn.Linear(input_dim, 1)

        def forward(self, X):
            return self.layer(X).squeeze(-1)

    frame, y = table(400)
    clf = quiet(module=Linear, max_epochs=1).fit(frame, y)
    layout = clf.table_encoder_.layout_
    assert widths == [layout.n_numeric + sum(layout.cardinalities)]


@pytest.mark.parametrize("module", ["mlp", "realmlp", "tabm"])
def test_builtin_networks_train_on_tables(module):
    pytest.importorskip("rtdl_num_embeddings")
    frame, y = table(400)
    options = {"module__k": 4, "module__d_block": 16} if module == "tabm" else {}
    clf = quiet(module=module, max_epochs=1, **options).fit(frame, y)
    assert np.isfinite(clf.predict_proba(frame)).all()


def test_only_categorical_columns():
    frame, y = table(400)
    clf = quiet(max_epochs=1).fit(frame[["country", "channel"]], y)
    assert clf.table_encoder_.layout_.n_numeric == 0
    assert clf.predict_proba(frame[["country", "channel"]]).shape == (400, 2)


def test_bagged_table_shares_one_encoding():
    frame, y = table(800)
    clf = ImbalancedNetClassifier(max_epochs=3, verbose=0, random_state=0, lr=0.01)
    clf.fit(frame, y)
    assert clf.n_bags_ == 5 and clf.n_features_in_ == 5
    assert list(clf.feature_names_in_) == list(frame.columns)
    members = clf.module_.members
    assert all(isinstance(m, TableInputs) for m in members)
    proba = clf.predict_proba(frame)
    assert np.isfinite(proba).all()
    clf.partial_fit(frame, y)  # goes on with the same encoding
    assert clf.predict_proba(frame).shape == (800, 2)


def test_scikit_learn_tools_on_tables():
    from imblearn.over_sampling import SMOTENC
    from imblearn.pipeline import make_pipeline
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate

    frame, y = table(600)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_validate(
        quiet(max_epochs=2), frame, y, cv=cv, scoring=["average_precision", "f1"]
    )
    assert np.isfinite(scores["test_average_precision"]).all()
    search = GridSearchCV(
        quiet(max_epochs=2), {"pos_weight": ["balanced", 1.0]}, cv=cv,
        scoring="average_precision",
    )  # fmt: skip
    search.fit(frame, y)
    assert search.best_params_["pos_weight"] in ("balanced", 1.0)
    # SMOTENC needs no gaps: the table-aware baseline on a complete copy
    complete = frame.assign(
        age=frame.age.fillna(40.0), channel=frame.channel.astype(str)
    )
    pipeline = make_pipeline(
        SMOTENC(categorical_features=["country", "channel", "store"], random_state=0),
        quiet(max_epochs=2, categorical=["country", "channel", "store"]),
    )
    pipeline.fit(complete, y)
    assert pipeline.predict_proba(complete).shape == (600, 2)


def test_numeric_dataframe_without_gaps_trains_as_its_array(imbalanced):
    X, y = imbalanced
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    from_frame = quiet(max_epochs=2).fit(frame, y)
    from_array = quiet(max_epochs=2).fit(X, y)
    assert not hasattr(from_frame, "table_encoder_")
    np.testing.assert_array_equal(
        from_frame.predict_proba(frame), from_array.predict_proba(X)
    )


def test_categorical_none_refuses_text_by_name():
    frame, y = table(200)
    with pytest.raises(ValueError, match="column 'country' is not numeric"):
        quiet(categorical=None).fit(frame, y)


# -- tables on disk --------------------------------------------------------------


def test_write_sqlite_writes_a_frames_columns(tmp_path):
    import sqlite3

    from skimb.data import SQLiteDataset, write_sqlite

    frame, y = table(300)
    path = tmp_path / "t.db"
    chunks = ((frame.iloc[i : i + 100], y[i : i + 100]) for i in range(0, 300, 100))
    write_sqlite(path, chunks)
    conn = sqlite3.connect(path)
    types = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(data)")}
    assert types == {
        "id": "INTEGER", "amount": "REAL", "age": "REAL", "country": "TEXT",
        "channel": "TEXT", "store": "INTEGER", "label": "INTEGER",
    }  # fmt: skip
    n_null = conn.execute("SELECT SUM(age IS NULL), SUM(channel IS NULL) FROM data")
    assert list(n_null.fetchone()) == [
        frame.age.isna().sum(),
        frame.channel.isna().sum(),
    ]
    conn.close()
    ds = SQLiteDataset(path)
    assert ds.categorical_columns == ["country", "channel"] and ds.is_table
    back = ds.read_frame([5, 0])
    assert back.country.tolist() == frame.country.iloc[[5, 0]].tolist()
    with pytest.raises(ValueError, match="categorical columns are encoded by a fit"):
        ds[0]
    with pytest.raises(ValueError, match="feature columns"):
        write_sqlite(path, frame.drop(columns="age"), y, if_exists="append")
    with pytest.raises(ValueError, match="'label' of X is one write_sqlite writes"):
        write_sqlite(tmp_path / "u.db", frame.assign(label=1), y)
    assert not (tmp_path / "u.db").exists()


def test_rows_far_apart_are_read_without_the_rows_between(tmp_path):
    # The scaling sample of a table on disk is whole blocks spread over it: one
    # query from the first to the last read every row between (at a million rows
    # most of the table, for a sample of an eighth of it).
    import re

    from skimb.data import SQLiteDataset, write_sqlite

    frame, y = table(3000)
    write_sqlite(tmp_path / "t.db", frame, y)
    ds = SQLiteDataset(tmp_path / "t.db")
    rows = np.r_[0:256, 2000:2256, 2900, 2902]
    statements = []
    ds.reader.connection().set_trace_callback(statements.append)
    back = ds.read_frame(rows[::-1])
    ds.reader.connection().set_trace_callback(None)
    expected = frame.iloc[rows[::-1]].reset_index(drop=True)
    for name in frame.columns:  # as the table holds them: None or NaN for NULL
        got, want = back[name].astype(object), expected[name].astype(object)
        assert (got.isna() == want.isna()).all()
        assert got[want.notna()].tolist() == want[want.notna()].tolist()
    spans = [
        (int(a), int(b))
        for sql in statements
        for a, b in re.findall(r"BETWEEN (\d+) AND (\d+)", sql)
    ]
    ids = ds._ids_of(rows)
    # rows 2900 and 2902: one query reads through the row between
    assert sorted(spans) == [
        (ids[0], ids[255]),
        (ids[256], ids[511]),
        (ids[512], ids[513]),
    ]


@pytest.mark.parametrize("gaps", [False, True])
def test_category_counts_of_a_split_are_counted_exactly(tmp_path, gaps):
    # Counted by SQLite over runs of ids, less the rows inside a run that were
    # not asked for; with gaps: a table whose ids are not a range.
    import sqlite3

    from skimb.data import SQLiteDataset

    rng = np.random.default_rng(0)
    n = 3000
    cities = rng.choice(["x", "y", "z", None], n).tolist()
    codes = rng.integers(0, 5, n).tolist()
    path = tmp_path / "t.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE data (id INTEGER PRIMARY KEY, city TEXT, code, label)")
    ids = np.arange(1, n + 1) * (3 if gaps else 1)
    labels = (rng.random(n) < 0.1).astype(int).tolist()
    conn.executemany(
        "INSERT INTO data VALUES (?, ?, ?, ?)",
        zip(ids.tolist(), cities, codes, labels, strict=True),
    )
    conn.commit()
    conn.close()
    ds = SQLiteDataset(path, categorical=["city", "code"])
    rows = np.r_[0:700, 705:1500, 2000:2999][rng.permutation(2494)]
    rows = rows[rng.random(rows.size) < 0.97]  # scattered rows left out too
    frame = pd.DataFrame({"city": cities, "code": codes}).iloc[rows]
    for got, name in zip(ds.category_counts(rows), ["city", "code"], strict=True):
        want = frame[name].value_counts(dropna=True)
        assert got.sort_index().to_dict() == want.sort_index().to_dict()
    assert ds[100:200].category_counts()[0].sum() == pd.Series(cities[100:200]).count()


def test_a_sqlite_table_fits_as_its_dataframe(tmp_path):
    from skimb.data import SQLiteDataset, write_sqlite

    frame, y = table(1000)
    frame = frame.assign(channel=frame.channel.astype(object))
    path = tmp_path / "t.db"
    write_sqlite(path, frame, y)
    ds = SQLiteDataset(path)
    options = {"sampler": "batch_balanced", "max_epochs": 3}
    # on disk, batch_balanced reads its negatives in blocks: the same in memory
    in_memory = quiet(**options, sampler__block_size=256).fit(frame, y)
    on_disk = quiet(**options).fit(ds, None)
    a, b = in_memory.table_encoder_, on_disk.table_encoder_
    assert [list(map(str, v)) for v in a.vocabularies_] == [
        list(v) for v in b.vocabularies_
    ]
    np.testing.assert_allclose(a.fill_, b.fill_)
    np.testing.assert_array_equal(a.indicators_, b.indicators_)
    np.testing.assert_allclose(a.scaler_.center_, b.scaler_.center_)
    np.testing.assert_allclose(
        in_memory.predict_proba(frame), on_disk.predict_proba(ds), atol=2e-4
    )
    again = pickle.loads(pickle.dumps(on_disk))
    np.testing.assert_array_equal(again.predict_proba(ds), on_disk.predict_proba(ds))


def test_an_ordinary_sqlite_table_with_text_and_nulls(tmp_path):
    import sqlite3

    from skimb.data import SQLiteDataset

    path = tmp_path / "users.db"
    rng = np.random.default_rng(0)
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE events (amount REAL, merchant VARCHAR(20), n INTEGER, y INT)"
    )
    rows = [
        (
            None if rng.random() < 0.1 else float(rng.normal()),
            None if rng.random() < 0.05 else str(rng.choice(["a", "b", "c"])),
            int(rng.integers(0, 9)),
            int(rng.random() < 0.1),
        )
        for _ in range(600)
    ]
    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    ds = SQLiteDataset(path, table="events", label="y")
    assert ds.categorical_columns == ["merchant"]
    clf = quiet(max_epochs=2).fit(ds, None)
    assert clf.table_encoder_.layout_.n_numeric == 3  # amount, n, amount's indicator
    assert np.isfinite(clf.predict_proba(ds)).all()
    bagged = ImbalancedNetClassifier(max_epochs=2, verbose=0, random_state=0)
    bagged.fit(ds, None)
    assert bagged.n_bags_ == 5 and np.isfinite(bagged.predict_proba(ds)).all()
    with pytest.raises(ValueError, match=r"categorical column\(s\) \['nope'\]"):
        SQLiteDataset(path, table="events", label="y", categorical=["nope"])
