"""TabM (Gorishniy et al., ICLR 2025): one network that holds k weight-sharing MLPs
(BatchEnsemble), from the authors' ``tabm`` package."""

import torch
from torch import nn

from .mlp import check_input_dim
from .realmlp import periodic_embeddings
from .recipe import Recipe


class TabM(nn.Module):
    """TabM returning the logits of its ``k`` members, shape (n, k).

    All members see the same batches. :class:`skimb.ImbalancedNetClassifier` trains
    on the mean of the members' losses (each member with the positive weight or
    focal loss in force) and predicts the mean of the members' probabilities, each
    prior-corrected before averaging (:func:`skimb.prior.corrected_proba`).

    Parameters
    ----------
    input_dim : int
        Number of input features, inferred from ``X`` at fit time.
    k : int, default=32
        Number of ensemble members (the authors' 32).
    n_blocks : int or None, default=None
        Depth; None = the authors' default (3, or 2 with embeddings).
    d_block : int, default=512
        Width of each block (the authors' 512).
    dropout : float in [0, 1), default=0.1
        Dropout (the authors' 0.1).
    embeddings : None or "periodic", default=None
        Numerical embeddings in front of the backbone: None (plain TabM), or the
        periodic embeddings of ``rtdl_num_embeddings``. The piecewise-linear
        embeddings of TabM-dagger need bins fitted on the data before the optimizer
        exists, which skorch creates before the validation split; not offered.
    cardinalities : sequence of int, default=()
        One per categorical input, one-hot encoded inside ``tabm`` (its
        ``cat_cardinalities``); filled in by the classifier for a table.

    Attributes
    ----------
    recipe : Recipe
        AdamW, learning rate 2e-3, weight decay 3e-4, gradient norm clipped at 1
        (the authors' recipe).

    References
    ----------
    Gorishniy, Kotelnikov, Babenko. "TabM: Advancing tabular deep learning with
    parameter-efficient ensembling." ICLR 2025.

    Examples
    --------
    >>> import torch
    >>> from skimb.modules import TabM
    >>> TabM(input_dim=5, k=4, d_block=16)(torch.zeros(3, 5)).shape
    torch.Size([3, 4])
    """

    recipe = Recipe(
        optimizer=torch.optim.AdamW,
        lr=2e-3,
        optimizer_options={"weight_decay": 3e-4},
        gradient_clip=1.0,
    )
    categorical_inputs = True  # forward(x_num, x_cat) for tables (modules.tables)

    def __init__(
        self,
        input_dim,
        k=32,
        n_blocks=None,
        d_block=512,
        dropout=0.1,
        embeddings=None,
        cardinalities=(),
    ):
        super().__init__()
        try:
            import tabm
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(
                "module='tabm' needs the tabm package: pip install 'skimb[networks]'"
            ) from None
        check_input_dim(input_dim, cardinalities)
        if embeddings not in (None, "periodic"):
            raise ValueError(
                f"embeddings={embeddings!r} is not one of None, 'periodic'"
            )
        options = {"k": int(k), "d_block": int(d_block), "dropout": float(dropout)}
        if n_blocks is not None:
            options["n_blocks"] = int(n_blocks)
        if cardinalities:
            options["cat_cardinalities"] = [int(c) for c in cardinalities]
        if embeddings == "periodic" and int(input_dim):
            options["num_embeddings"] = periodic_embeddings(
                int(input_dim), 16, 48, 0.01
            )
        self.ensemble_size = int(k)  # (n, k) logits: one per member
        self.tabm = tabm.TabM.make(n_num_features=int(input_dim), d_out=1, **options)

    def forward(self, X, x_cat=None):
        x_num = X if X.shape[1] else None
        return self.tabm(x_num, x_cat).squeeze(-1)
