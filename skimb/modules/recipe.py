"""How each network is trained when the user leaves ``optimizer`` and ``lr`` at
``"auto"``: its authors' optimizer, learning rate and gradient clipping."""

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Recipe:
    """The training settings a network ships with.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer class
        Used when the classifier's ``optimizer="auto"``.
    lr : float
        Used when the classifier's ``lr="auto"``.
    optimizer_options : dict
        Extra optimizer arguments (``weight_decay``, ``betas``), used with
        ``optimizer="auto"`` unless the user passes the same ``optimizer__*``.
    gradient_clip : float or None
        Maximum gradient norm (skorch's ``GradientNormClipping``), or None.

    Examples
    --------
    >>> from skimb.modules import MLP, recipe_of
    >>> recipe_of(MLP).lr
    0.001
    """

    optimizer: type = torch.optim.Adam
    lr: float = 1e-3
    optimizer_options: dict = field(default_factory=dict)
    gradient_clip: float | None = None


def recipe_of(module):
    """The :class:`Recipe` of a network class or instance: its ``recipe`` class
    attribute, or Adam at 1e-3 (skimb's MLP recipe) for a network of the user's own."""
    cls = module if isinstance(module, type) else type(module)
    recipe = getattr(cls, "recipe", None)
    return recipe if isinstance(recipe, Recipe) else Recipe()
