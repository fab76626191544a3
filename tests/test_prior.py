import math

import numpy as np
import pytest
import torch

from skimb.prior import odds_distortion
from tests.conftest import quiet


def _odds(p):
    return p / (1 - p)


def test_odds_distortion_against_the_formula():
    w, presented, true, alpha = 7.0, (600.0, 300.0), (900, 100), 0.25
    expected = math.log(w) + math.log((300 / 600) / (100 / 900)) + math.log(0.25 / 0.75)
    assert odds_distortion(w, presented, true, alpha) == pytest.approx(
        expected, abs=1e-12
    )
    assert odds_distortion() == 0.0
    assert odds_distortion(2.0, alpha=1.0) == pytest.approx(math.log(2.0))


def test_shift_maps_weighted_optimum_to_true_probability():
    # the minimiser of the expected weighted log loss at true probability p has
    # odds w * odds(p): check it is stationary, then that the shift undoes it
    p = torch.linspace(0.01, 0.99, 50, dtype=torch.float64)
    w = 13.0
    z = torch.log(w * p / (1 - p)).requires_grad_()
    loss = -(
        w * p * torch.nn.functional.logsigmoid(z)
        + (1 - p) * torch.nn.functional.logsigmoid(-z)
    ).sum()
    (grad,) = torch.autograd.grad(loss, z)
    assert grad.abs().max() < 1e-12
    corrected = torch.sigmoid(z.detach() - odds_distortion(w))
    np.testing.assert_allclose(corrected.numpy(), p.numpy(), atol=1e-12)


def _logistic_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    logit = X @ np.array([1.5, -1.0, 0.5]) - 3.5  # about 6% positives
    p = 1 / (1 + np.exp(-logit))
    return X.astype(np.float32), (rng.random(n) < p).astype(int), p


@pytest.mark.parametrize(
    "params",
    [
        {"pos_weight": "balanced"},
        {"pos_weight": None, "sampler": "undersample"},
        {"pos_weight": 4.0, "sampler": "oversample", "sampler__ratio": 0.5},
    ],
)
def test_corrected_probabilities_match_the_true_ones(params):
    X, y, _ = _logistic_data(20_000, seed=0)
    X_test, _, p_test = _logistic_data(5_000, seed=1)
    common = dict(
        module__hidden_units=(),  # logistic regression: the model class is right
        max_epochs=20,
        batch_size=128,
        lr=0.02,
        train_split=None,
        scaling=None,
        **params,
    )
    corrected = quiet(**common).fit(X, y)
    raw = quiet(prior_correction=False, **common).fit(X, y)
    error_corrected = np.abs(corrected.predict_proba(X_test)[:, 1] - p_test).mean()
    error_raw = np.abs(raw.predict_proba(X_test)[:, 1] - p_test).mean()
    assert error_corrected < 0.01
    assert error_raw > 5 * error_corrected
    assert corrected.logit_shift_ > 1.0
    assert raw.logit_shift_ == 0.0
    # rankings are unchanged: the shift is a constant on the logit
    np.testing.assert_array_equal(
        np.argsort(corrected.predict_proba(X_test)[:, 1], kind="stable"),
        np.argsort(
            1
            / (
                1
                + np.exp(-(corrected.forward(X_test).numpy() - corrected.logit_shift_))
            ),
            kind="stable",
        ),
    )


def test_shift_uses_the_weight_in_force_at_the_selected_epoch(imbalanced):
    X, y = imbalanced
    clf = quiet(weight_schedule="linear", max_epochs=6).fit(X, y)
    weight = clf.history[clf.best_epoch_ - 1, "pos_weight"]
    assert clf.logit_shift_ == pytest.approx(math.log(weight))


def test_focal_alpha_is_part_of_the_shift(imbalanced):
    X, y = imbalanced
    clf = quiet(loss="focal", focal_alpha=0.25, max_epochs=1).fit(X, y)
    assert clf.logit_shift_ == pytest.approx(math.log(clf.pos_weight_ * 0.25 / 0.75))
