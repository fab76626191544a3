"""The networks of ``ImbalancedNetClassifier(module=...)``: each returns one logit a
row, shape (n,), or one a row per ensemble member, shape (n, k).

``"mlp"`` is :class:`MLP`, ``"realmlp"`` :class:`RealMLP`, ``"tabm"`` :class:`TabM`;
``None`` is :class:`MLP`, or :class:`SmallRealMLP` for a table with categorical
columns (the networks ``bench_quality.py`` and ``bench_tables.py`` measured best
for each); each carries the :class:`Recipe` it is trained with when the classifier's
``optimizer`` and ``lr`` are ``"auto"``.
"""

from .mlp import MLP
from .realmlp import RealMLP, SmallRealMLP
from .recipe import Recipe, recipe_of
from .tabm import TabM

NAMED_MODULES = {"mlp": MLP, "realmlp": RealMLP, "tabm": TabM}
DEFAULT_MODULE = MLP
DEFAULT_TABLE_MODULE = SmallRealMLP


def resolve_module(module, categorical=False):
    """The network class (or instance) that ``module`` names: None is the default
    network (for a table with categorical columns where ``categorical``), a name
    one of :data:`NAMED_MODULES`, anything else is the user's."""
    if module is None:
        return DEFAULT_TABLE_MODULE if categorical else DEFAULT_MODULE
    if isinstance(module, str):
        try:
            return NAMED_MODULES[module]
        except KeyError:
            valid = ", ".join(repr(name) for name in NAMED_MODULES)
            raise ValueError(
                f"module={module!r} is not one of None, {valid}, "
                "or an nn.Module class or instance"
            ) from None
    return module


def network_of(net):
    """The network class (or instance) the classifier ``net`` trains: its
    ``module`` resolved for the data it is fitted on (``table_encoder_``, set in
    ``fit`` before the module is built, says whether they have categorical
    columns)."""
    encoder = getattr(net, "table_encoder_", None)
    categorical = encoder is not None and bool(encoder.layout_.cardinalities)
    return resolve_module(net.module, categorical=categorical)


__all__ = [
    "MLP",
    "RealMLP",
    "SmallRealMLP",
    "TabM",
    "Recipe",
    "recipe_of",
    "resolve_module",
    "network_of",
]
