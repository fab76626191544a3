"""The named networks (skimb.modules) and how the classifier trains and predicts
with them: recipes, ensembles, prior correction of an ensemble."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import GradientNormClipping

from skimb import ImbalancedNetClassifier
from skimb.modules import MLP, RealMLP, SmallRealMLP, TabM, recipe_of, resolve_module
from skimb.prior import corrected_proba
from tests.conftest import quiet

SMALL = {
    "mlp": {},
    "realmlp": {"module__hidden_units": (32, 32), "module__d_embedding": 4},
    "tabm": {"module__k": 4, "module__d_block": 32},
}


def _separable(n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 1.6).astype(int)  # about 13% positives
    return X, y


@pytest.mark.parametrize(
    "name, cls", [("mlp", MLP), ("realmlp", RealMLP), ("tabm", TabM)]
)
def test_names_pick_the_module_and_infer_the_input_size(name, cls):
    X, y = _separable(d=7)
    clf = quiet(module=name, max_epochs=1, **SMALL[name]).fit(X, y)
    assert type(clf.module_) is cls
    with torch.no_grad():
        out = clf.module_(torch.zeros(3, 7))
    assert out.shape == ((3, 4) if name == "tabm" else (3,))
    assert clf.predict_proba(X).shape == (len(X), 2)


def test_unknown_module_name_is_named():
    X, y = _separable()
    with pytest.raises(ValueError, match=r"module='resnet' is not one of None, "):
        quiet(module="resnet").fit(X, y)


@pytest.mark.parametrize("name", ["mlp", "realmlp", "tabm"])
def test_each_module_learns_a_separable_problem(name):
    X, y = _separable(600)
    X_test, y_test = _separable(600, seed=1)
    clf = quiet(module=name, max_epochs=40, lr="auto", **SMALL[name]).fit(X, y)
    from sklearn.metrics import average_precision_score

    assert average_precision_score(y_test, clf.predict_proba(X_test)[:, 1]) > 0.9


@pytest.mark.parametrize("name", ["realmlp", "tabm"])
def test_random_state_reproduces_and_pickle_round_trips(name):
    X, y = _separable()
    first = quiet(module=name, **SMALL[name]).fit(X, y)
    second = quiet(module=name, **SMALL[name]).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    loaded = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(loaded.predict_proba(X), first.predict_proba(X))


def test_grid_search_over_module_and_a_module_option():
    X, y = _separable()
    grid = GridSearchCV(
        quiet(),
        {"module": ["mlp", "realmlp"], "module__dropout": [0.0, 0.2]},
        cv=2,
        scoring="average_precision",
        error_score="raise",
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.best_estimator_.module in ("mlp", "realmlp")


def test_recipe_is_used_when_optimizer_and_lr_are_auto():
    X, y = _separable()
    clf = quiet(module="tabm", lr="auto", **SMALL["tabm"]).fit(X, y)
    assert type(clf.optimizer_) is torch.optim.AdamW
    group = clf.optimizer_.param_groups[0]
    assert group["lr"] == 2e-3 and group["weight_decay"] == 3e-4
    clip = dict(clf.callbacks_)["gradient_clipping"]
    assert isinstance(clip, GradientNormClipping) and clip.gradient_clip_value == 1.0
    assert clf.optimizer_.param_groups[0]["lr"] == recipe_of(TabM).lr


def test_user_settings_win_over_the_recipe():
    X, y = _separable()
    own = quiet(
        module="tabm", lr=0.01, optimizer__weight_decay=0.5, **SMALL["tabm"]
    ).fit(X, y)
    group = own.optimizer_.param_groups[0]
    assert type(own.optimizer_) is torch.optim.AdamW  # optimizer still "auto"
    assert group["lr"] == 0.01 and group["weight_decay"] == 0.5
    sgd = quiet(module="tabm", optimizer=torch.optim.SGD, **SMALL["tabm"]).fit(X, y)
    assert type(sgd.optimizer_) is torch.optim.SGD
    assert "gradient_clipping" not in dict(sgd.callbacks_)  # recipe not applied
    realmlp = quiet(module="realmlp", lr="auto", **SMALL["realmlp"]).fit(X, y)
    assert realmlp.optimizer_.param_groups[0]["betas"] == (0.9, 0.95)
    default = quiet(lr="auto").fit(X, y)
    assert type(default.optimizer_) is torch.optim.Adam
    assert default.optimizer_.param_groups[0]["lr"] == 1e-3


def test_bad_lr_and_optimizer_are_named():
    X, y = _separable()
    with pytest.raises(ValueError, match=r"lr must be 'auto' or a float > 0, got -1"):
        quiet(lr=-1).fit(X, y)
    with pytest.raises(ValueError, match=r"optimizer must be 'auto' or a torch"):
        quiet(optimizer="adam").fit(X, y)


class Members(torch.nn.Module):
    """Two fixed 'members': logits a*x and b*x of the first feature."""

    ensemble_size = 2  # declared: one logit per member

    def __init__(self, input_dim=1, a=2.0, b=-1.0):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(a))
        self.b = torch.nn.Parameter(torch.tensor(b))

    def forward(self, X):
        return torch.stack([self.a * X[:, 0], self.b * X[:, 0]], dim=1)


def test_ensemble_loss_is_the_mean_of_the_members_weighted_losses():
    clf = quiet(
        module=Members,
        pos_weight=3.0,
        max_epochs=1,
        scaling=None,
        train_split=None,
        device="cpu",
    )
    X = np.array([[0.5], [-1.0], [2.0], [0.1]], np.float32)
    y = np.array([1, 0, 1, 0])
    clf.fit(X, y)
    logits = clf.infer(torch.as_tensor(X))
    loss = clf.get_loss(logits, torch.tensor(y, dtype=torch.float32))
    z = logits.detach().double().numpy()
    t = y[:, None].astype(float)
    w = clf.pos_weight_
    p = 1 / (1 + np.exp(-z))
    bce = -(w * t * np.log(p) + (1 - t) * np.log(1 - p))
    assert w == 3.0 and z.shape == (4, 2)
    assert float(loss) == pytest.approx(bce.mean(), rel=1e-6)


def test_ensemble_prior_correction_against_a_hand_computation():
    X = np.linspace(-2, 2, 50, dtype=np.float32).reshape(-1, 1)
    y = (X[:, 0] > 1.2).astype(int)
    clf = quiet(
        module=Members, module__a=2.0, module__b=-1.0, lr=1e-12, max_epochs=1,
        scaling=None, train_split=None, threshold=0.5,
    ).fit(X, y)  # fmt: skip
    shift = clf.logit_shift_
    n_pos = y.sum()
    assert shift == pytest.approx(np.log((len(y) - n_pos) / n_pos))
    a, b = clf.module_.a.item(), clf.module_.b.item()
    x = X[:, 0].astype(np.float64)

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    expected = (sigmoid(a * x - shift) + sigmoid(b * x - shift)) / 2
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], expected, rtol=1e-5)
    # averaging first and correcting the mean's logit is another (wrong) answer
    mean = (sigmoid(a * x) + sigmoid(b * x)) / 2
    wrong = sigmoid(np.log(mean / (1 - mean)) - shift)
    assert np.abs(wrong - expected).max() > 0.05
    z = np.stack([a * x, b * x], 1)
    np.testing.assert_allclose(corrected_proba(z, shift), expected, rtol=1e-12)


def test_resolve_module_passes_the_users_own_through():
    assert resolve_module(None) is MLP
    assert resolve_module(None, categorical=True) is SmallRealMLP
    assert resolve_module("realmlp", categorical=True) is RealMLP
    own = torch.nn.Linear(3, 1)
    assert resolve_module(own) is own
    assert isinstance(ImbalancedNetClassifier().get_params()["lr"], str)


def test_mlp_members_are_independent_networks():
    torch.manual_seed(0)
    mlp = MLP(input_dim=4, hidden_units=(8, 6), members=3)
    X = torch.randn(10, 4)
    out = mlp(X)
    assert out.shape == (10, 3)
    # member 1 computed by hand from its own slice of every layer
    h = X
    layers = [m for m in mlp.net if hasattr(m, "weight")]
    for i, layer in enumerate(layers):
        h = h @ layer.weight[1] + layer.bias[1]
        if i < len(layers) - 1:
            h = torch.relu(h)
    torch.testing.assert_close(out[:, 1], h.squeeze(-1))
    with torch.no_grad():  # changing member 2 leaves the others alone
        for layer in layers:
            layer.weight[2].zero_()
    torch.testing.assert_close(mlp(X)[:, :2], out[:, :2])
    with pytest.raises(ValueError, match="members must be an int >= 1, got 0"):
        MLP(input_dim=4, members=0)


def test_mlp_members_fit_through_the_classifier():
    X, y = _separable(600)
    clf = quiet(module__members=4, max_epochs=30).fit(X, y)
    assert clf.module_(torch.zeros(2, X.shape[1])).shape == (2, 4)
    proba = clf.predict_proba(X)[:, 1]
    from sklearn.metrics import average_precision_score

    assert average_precision_score(y, proba) > 0.9


def test_small_realmlp_is_realmlp_with_the_table_defaults():
    small = SmallRealMLP(input_dim=3, cardinalities=(5,))
    same = RealMLP(
        input_dim=3,
        hidden_units=(64, 32),
        d_embedding=4,
        n_frequencies=4,
        cardinalities=(5,),
    )
    shapes = {k: v.shape for k, v in small.state_dict().items()}
    assert shapes == {k: v.shape for k, v in same.state_dict().items()}
    assert SmallRealMLP.recipe is RealMLP.recipe


def test_member_periodic_embeddings_are_rtdls_member_by_member():
    """Each member's embedding is rtdl_num_embeddings' PeriodicEmbeddings
    (lite=False, no activation) given that member's parameters (float64), with
    the raw inputs first; a subset of members gives those members' rows."""
    from rtdl_num_embeddings import PeriodicEmbeddings

    from skimb.modules.periodic import MemberPeriodicEmbeddings

    torch.manual_seed(0)
    k, d, f, e = 3, 5, 4, 2
    ours = MemberPeriodicEmbeddings(k, d, n_frequencies=f, d_embedding=e).double()
    X = torch.randn(7, d, dtype=torch.float64) * 3
    out = ours(X)
    assert out.shape == (k, 7, d * (1 + e))
    for j in range(k):
        reference = PeriodicEmbeddings(
            d, e, n_frequencies=f, activation=False, lite=False
        ).double()
        with torch.no_grad():
            reference.periodic.weight.copy_(ours.frequencies[j])
            reference.linear.weight.copy_(ours.weight[j])
            reference.linear.bias.copy_(ours.bias[j])
        torch.testing.assert_close(out[j, :, :d], X)
        torch.testing.assert_close(out[j, :, d:].reshape(7, d, e), reference(X))
    members = torch.tensor([2, 0])
    torch.testing.assert_close(ours(X, members), out[members])
    with pytest.raises(ValueError, match="d_embedding must be an int >= 1, got 0"):
        MemberPeriodicEmbeddings(2, 3, d_embedding=0)


def test_mlp_with_periodic_embeddings_packs_and_fits():
    """``module__embeddings="periodic"``: one network, and a packed bag whose
    members each embed with their own parameters (member-first, so that each
    keeps its selected epoch)."""
    torch.manual_seed(0)
    mlp = MLP(input_dim=4, hidden_units=(8,), members=3, embeddings="periodic")
    X = torch.randn(10, 4)
    out = mlp(X)
    assert out.shape == (10, 3)
    with torch.no_grad():  # a member's embedding moves its logits alone
        mlp.embeddings.frequencies[1].mul_(3)
    changed = mlp(X)
    torch.testing.assert_close(changed[:, [0, 2]], out[:, [0, 2]])
    assert not torch.allclose(changed[:, 1], out[:, 1])
    with pytest.raises(ValueError, match="embeddings must be None or 'periodic'"):
        MLP(input_dim=4, embeddings="plr")
    X, y = _separable(600)
    from sklearn.metrics import average_precision_score

    one = quiet(module__embeddings="periodic", max_epochs=20).fit(X, y)
    assert one.module_.embeddings is not None
    assert average_precision_score(y, one.predict_proba(X)[:, 1]) > 0.9
    bag = quiet(module__embeddings="periodic", bagging=3, max_epochs=10).fit(X, y)
    packed = pickle.loads(pickle.dumps(bag))
    np.testing.assert_allclose(packed.predict_proba(X), bag.predict_proba(X))
    assert average_precision_score(y, bag.predict_proba(X)[:, 1]) > 0.9


def test_mlp_with_periodic_embeddings_takes_a_table():
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "x": rng.normal(size=400),
        "c": pd.Categorical(rng.choice(["a", "b", "c"], 400)),
    })  # fmt: skip
    y = ((frame["x"] > 1) | (frame["c"] == "a") & (rng.random(400) < 0.2)).to_numpy()
    clf = quiet(module="mlp", module__embeddings="periodic", max_epochs=5)
    proba = clf.fit(frame, y.astype(int)).predict_proba(frame)
    assert proba.shape == (400, 2) and np.isfinite(proba).all()
