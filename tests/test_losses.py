"""FocalLoss against a plain float64 reference formula, gradients, extremes."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skimb.losses import FocalLoss


def reference_focal(x, t, alpha, gamma, pos_weight):
    """The formula, written plainly in float64 NumPy.

    p and 1 - p each come from their own expression (not 1 - p), and log p from
    log1p: 1 - p computed as a difference loses all digits at |x| = 30 even in float64.
    """
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    p, one_minus_p = 1 / (1 + np.exp(-x)), 1 / (1 + np.exp(x))
    log_p, log_1mp = -np.log1p(np.exp(-x)), -np.log1p(np.exp(x))
    w = 1.0 if pos_weight is None else pos_weight
    bce = -(w * t * log_p + (1 - t) * log_1mp)
    one_minus_pt = t * one_minus_p + (1 - t) * p
    loss = one_minus_pt**gamma * bce
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss


def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss, reduction='none' (copied formula)."""
    p = torch.sigmoid(inputs)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(
        inputs, targets, reduction="none"
    )
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


PARAMS = [
    (0.25, 2.0, None),
    (None, 2.0, None),
    (0.25, 0.0, None),
    (0.5, 1.0, 10.0),
    (None, 0.5, 3.0),
    (0.9, 5.0, 0.2),
]


@pytest.mark.parametrize("alpha, gamma, pos_weight", PARAMS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_matches_reference_formula(alpha, gamma, pos_weight, reduction):
    rng = np.random.default_rng(0)
    x = rng.uniform(-30, 30, 500)
    t = rng.integers(0, 2, 500).astype(np.float64)
    t[:50] = rng.uniform(0, 1, 50)  # soft targets too
    loss = FocalLoss(alpha, gamma, pos_weight, reduction)(
        torch.tensor(x), torch.tensor(t)
    )
    expected = reference_focal(x, t, alpha, gamma, pos_weight)
    expected = {"none": expected, "mean": expected.mean(), "sum": expected.sum()}[
        reduction
    ]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-7, atol=1e-12)


def test_equals_bce_at_gamma_zero_without_alpha_values_and_grads():
    torch.manual_seed(0)
    x = torch.randn(64, dtype=torch.float64) * 10
    t = (torch.rand(64) < 0.3).double()
    for pos_weight in (None, 7.0):
        pw = None if pos_weight is None else torch.tensor(pos_weight, dtype=x.dtype)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        ours = FocalLoss(alpha=None, gamma=0.0, pos_weight=pos_weight)(x1, t)
        bce = torch.nn.BCEWithLogitsLoss(pos_weight=pw)(x2, t)
        ours.backward()
        bce.backward()
        torch.testing.assert_close(ours, bce.to(ours.dtype))
        torch.testing.assert_close(x1.grad, x2.grad)


def test_equals_torchvision_formula_without_pos_weight():
    torch.manual_seed(1)
    x = torch.randn(200, dtype=torch.float64) * 5
    t = (torch.rand(200) < 0.5).double()
    for alpha, gamma in [(0.25, 2.0), (0.75, 1.0), (0.5, 3.0)]:
        ours = FocalLoss(alpha, gamma, reduction="none")(x, t)
        theirs = torchvision_sigmoid_focal_loss(x, t, alpha, gamma)
        torch.testing.assert_close(ours, theirs)


def test_pos_weight_is_not_derived_from_exp_of_weighted_bce():
    # With pos_weight set, p_t must still be sigmoid(x): exp(-weighted BCE) is not.
    x, t = torch.tensor([0.3]), torch.tensor([1.0])
    loss = FocalLoss(alpha=None, gamma=2.0, pos_weight=5.0, reduction="none")(x, t)
    p = torch.sigmoid(x)
    expected = (1 - p) ** 2 * 5.0 * -torch.log(p)
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("logit", [-1e4, -100.0, -30.0, 30.0, 100.0, 1e4])
def test_finite_loss_and_gradient_at_extreme_logits(dtype, logit):
    for gamma in (0.0, 0.5, 2.0):
        for target in (0.0, 1.0, 0.3):
            x = torch.tensor([logit], dtype=dtype, requires_grad=True)
            loss = FocalLoss(0.25, gamma, pos_weight=10.0)(
                x, torch.tensor([target], dtype=dtype)
            )
            loss.backward()
            assert torch.isfinite(loss).all() and torch.isfinite(x.grad).all()


def test_extreme_logits_have_the_right_limits():
    loss = FocalLoss(alpha=None, gamma=2.0, reduction="none")
    # confidently right: ~0; confidently wrong: ~|x| (BCE) times (1-p_t)^g -> 1
    right = loss(torch.tensor([100.0, -100.0]), torch.tensor([1.0, 0.0]))
    wrong = loss(torch.tensor([-100.0, 100.0]), torch.tensor([1.0, 0.0]))
    assert (right < 1e-30).all()
    torch.testing.assert_close(wrong, torch.tensor([100.0, 100.0]))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_finite_under_half_precision_input(dtype):
    x = torch.tensor([-300.0, -60.0, 0.0, 60.0, 300.0]).to(dtype).requires_grad_()
    t = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = FocalLoss(pos_weight=50.0)(x, t)
    loss.backward()
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def test_gradcheck_float64():
    torch.manual_seed(2)
    x = (torch.randn(20, dtype=torch.float64) * 4).requires_grad_()
    t = torch.rand(20, dtype=torch.float64)
    for alpha, gamma, pw in PARAMS:
        fn = FocalLoss(alpha, gamma, pw, reduction="none")
        assert torch.autograd.gradcheck(lambda z, fn=fn: fn(z, t), (x,))


def test_accepts_n_by_1_logits():
    x, t = torch.randn(8, 1), (torch.rand(8) < 0.5).float()
    flat = FocalLoss()(x.reshape(-1), t)
    torch.testing.assert_close(FocalLoss()(x, t), flat)
    torch.testing.assert_close(FocalLoss()(x, t.reshape(8, 1)), flat)


@settings(max_examples=200, deadline=None)
@given(
    logits=st.lists(st.floats(-50, 50), min_size=1, max_size=30),
    gamma=st.floats(0, 5),
    pos_weight=st.floats(0.01, 100),
    data=st.data(),
)
def test_focal_never_exceeds_weighted_bce_without_alpha(
    logits, gamma, pos_weight, data
):
    t = data.draw(st.lists(st.floats(0, 1), min_size=len(logits), max_size=len(logits)))
    x, t = (
        torch.tensor(logits, dtype=torch.float64),
        torch.tensor(t, dtype=torch.float64),
    )
    focal = FocalLoss(None, gamma, pos_weight, reduction="none")(x, t)
    bce = torch.nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor(pos_weight, dtype=torch.float64), reduction="none"
    )(x, t)
    # torch's BCE formula cancels (x - x + log1p) and is off by ~1e-16 * |x|
    assert (focal <= bce + 1e-13 * (1 + x.abs())).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": 1.5}, r"alpha must be None or a float in \[0, 1\], got 1.5"),
        ({"gamma": -1.0}, r"gamma must be a float >= 0, got -1.0"),
        ({"reduction": "avg"}, r"reduction='avg' is not one of"),
        ({"pos_weight": 0.0}, r"pos_weight must be > 0, got 0.0"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FocalLoss(**kwargs)
