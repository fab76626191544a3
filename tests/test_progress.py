import pickle

import numpy as np
from sklearn.model_selection import cross_val_score

from skimb import SQLiteDataset, write_sqlite
from tests.conftest import quiet


def test_progress_true_draws_bars_for_epochs_and_dataset_passes(
    tmp_path, imbalanced, capsys
):
    X, y = imbalanced
    path = tmp_path / "p.db"
    write_sqlite(path, X, y)
    ds = SQLiteDataset(path)
    clf = quiet(max_epochs=2, progress=True, verbose=1).fit(ds, None)
    clf.predict_proba(ds)
    err = capsys.readouterr().err
    for description in (
        "epoch 1",
        "epoch 2",
        "scaling statistics",
        "threshold",
        "predicting",
    ):
        assert description in err, description
    restored = pickle.loads(pickle.dumps(clf))  # no tqdm object survives a fit
    np.testing.assert_allclose(restored.predict_proba(X), clf.predict_proba(X))


def test_auto_shows_nothing_for_a_quick_fit_and_false_never(imbalanced, capsys):
    X, y = imbalanced
    quiet(max_epochs=2, verbose=1).fit(X, y)
    quiet(max_epochs=2, verbose=1, progress=False).fit(X, y)
    assert "epoch 1:" not in capsys.readouterr().err
    assert "progress_bar" not in dict(quiet(progress=False).get_default_callbacks())


def test_progress_bars_work_in_joblib_workers(imbalanced):
    X, y = imbalanced
    scores = cross_val_score(
        quiet(max_epochs=2, progress=True, verbose=1), X, y, cv=2, n_jobs=2,
        scoring="average_precision",
    )  # fmt: skip
    assert np.isfinite(scores).all()
