"""Periodic embeddings of numeric inputs for ``k`` networks side by side.

``rtdl_num_embeddings.PeriodicEmbeddings(lite=False, activation=False)``
(Gorishniy et al. 2022) embeds feature ``x_j`` as ``W_j [cos(2 pi f_j x_j),
sin(2 pi f_j x_j)] + b_j``, with learned frequencies ``f_j`` and a linear map per
feature. It holds one network's parameters; a packed bag (:mod:`skimb.packing`)
needs ``k`` independent sets stacked member-first, so that each member keeps its
own best epoch, and one batched product for all of them. This module is that
embedding with a member dimension (tested equal, member by member, to
``PeriodicEmbeddings``), with the raw value kept beside it, as RealMLP's PBLD
embeddings keep it.

References
----------
Gorishniy, Rubachev, Babenko. "On embeddings for numerical features in tabular
deep learning." NeurIPS 2022.
"""

import math

import torch
from torch import nn


class MemberPeriodicEmbeddings(nn.Module):
    """``(n, d)`` numeric inputs to ``(k, n, d * (1 + d_embedding))``: for each of
    ``k`` members, each feature ``x_j`` followed by its periodic embedding
    ``W_j [cos(2 pi f_j x_j), sin(2 pi f_j x_j)] + b_j`` (all features' raw values
    first, then their embeddings, feature by feature).

    Parameters
    ----------
    members : int
        Independent sets of parameters (``k``), stacked on the first dimension.
    n_features : int
        Numeric inputs ``d``.
    n_frequencies : int, default=4
        Frequencies per feature.
    d_embedding : int, default=4
        Size of each feature's embedding.
    frequency_scale : float, default=0.1
        Standard deviation of the initial frequencies (RealMLP's ``plr_sigma``;
        the inputs are standardised by the classifier).

    Examples
    --------
    >>> import torch
    >>> MemberPeriodicEmbeddings(3, 5)(torch.zeros(2, 5)).shape
    torch.Size([3, 2, 25])
    """

    def __init__(
        self, members, n_features, n_frequencies=4, d_embedding=4, frequency_scale=0.1
    ):
        super().__init__()
        k, d, f, e = int(members), int(n_features), int(n_frequencies), int(d_embedding)
        for name, value in [("n_frequencies", f), ("d_embedding", e)]:
            if value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not frequency_scale > 0:
            raise ValueError(f"frequency_scale must be > 0, got {frequency_scale!r}")
        self.frequencies = nn.Parameter(torch.randn(k, d, f) * frequency_scale)
        bound = (2 * f) ** -0.5  # nn.Linear's initialisation, per feature
        self.weight = nn.Parameter(torch.empty(k, d, 2 * f, e).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(k, d, e).uniform_(-bound, bound))

    def forward(self, X, members=None):
        """``X``: (n, d); ``members``: indices of the members to compute (None:
        all), whose rows of the output come in that order."""
        parameters = (self.frequencies, self.weight, self.bias)
        if members is not None:
            parameters = tuple(p[members] for p in parameters)
        frequencies, weight, bias = parameters
        k, d, f = frequencies.shape
        n, e = X.shape[0], bias.shape[-1]
        # (k, d, n, f): member and feature first, so that one batched product
        # applies each feature's own linear map
        angles = 2 * math.pi * X.T[None, :, :, None] * frequencies[:, :, None, :]
        periodic = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
        embedded = torch.baddbmm(
            bias.reshape(k * d, 1, e),
            periodic.reshape(k * d, n, 2 * f),
            weight.reshape(k * d, 2 * f, e),
        )  # (k * d, n, e)
        embedded = embedded.reshape(k, d, n, e).permute(0, 2, 1, 3).flatten(2)
        return torch.cat([X.unsqueeze(0).expand(k, n, d), embedded], dim=-1)
