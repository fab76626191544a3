"""The networks of ``ImbalancedNetClassifier(module=...)``: each returns one logit a
row, shape (n,), or one a row per ensemble member, shape (n, k).

``"mlp"`` is :class:`MLP`, ``"realmlp"`` :class:`RealMLP`, ``"tabm"`` :class:`TabM`;
each carries the :class:`Recipe` it is trained with when the classifier's
``optimizer`` and ``lr`` are ``"auto"``.
"""

from .mlp import MLP
from .realmlp import RealMLP
from .recipe import Recipe, recipe_of
from .tabm import TabM

NAMED_MODULES = {"mlp": MLP, "realmlp": RealMLP, "tabm": TabM}
DEFAULT_MODULE = MLP


def resolve_module(module):
    """The network class (or instance) that ``module`` names: None is the default
    network, a name one of :data:`NAMED_MODULES`, anything else is the user's."""
    if module is None:
        return DEFAULT_MODULE
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


__all__ = ["MLP", "RealMLP", "TabM", "Recipe", "recipe_of", "resolve_module"]
