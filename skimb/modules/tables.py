"""Categorical inputs for networks: embeddings for the built-in networks, one-hot
columns for a network of the user's own.

A fitted table reaches the module as one float32 matrix (:class:`skimb.tables.
TableLayout`): numeric inputs, then one integer code per categorical column.
:class:`TableInputs` splits it. A module class that declares
``categorical_inputs = True`` is built with ``input_dim`` (its numeric inputs) and
``cardinalities`` (one int per categorical column) and called as
``forward(x_num, x_cat)``, ``x_cat`` a long tensor of codes in
``0 .. cardinality - 1``; any other module gets one float matrix with the codes
one-hot encoded, and ``input_dim`` counts those columns.
"""

import torch
from torch import nn

from .ensembles import ensemble_size

#: Widest embedding of one categorical column.
MAX_EMBEDDING_DIM = 32


def declares_categorical_inputs(module):
    """Whether the module class (or instance) takes ``(x_num, x_cat)``."""
    cls = module if isinstance(module, type) else type(module)
    return getattr(cls, "categorical_inputs", False) is True


def embedding_dim(cardinality):
    """Width of a column's embedding: ``round(1.6 * c ** 0.56)`` (the rule of
    fastai's ``emb_sz_rule``, fitted on many tabular tasks), at most
    ``MAX_EMBEDDING_DIM``.

    >>> [embedding_dim(c) for c in (2, 5, 50, 5000)]
    [2, 4, 14, 32]
    """
    return int(min(MAX_EMBEDDING_DIM, max(1, round(1.6 * cardinality**0.56))))


class CategoryEmbeddings(nn.Module):
    """One ``nn.Embedding`` per categorical column, concatenated: ``(n, n_cat)``
    codes in, ``(n, width)`` floats out.

    >>> CategoryEmbeddings([3, 10])(torch.tensor([[0, 9], [2, 1]])).shape
    torch.Size([2, 9])
    """

    def __init__(self, cardinalities):
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.Embedding(int(c), embedding_dim(c)) for c in cardinalities
        )
        self.width = sum(e.embedding_dim for e in self.embeddings)

    def forward(self, x_cat):
        return torch.cat(
            [embed(x_cat[:, j]) for j, embed in enumerate(self.embeddings)], dim=1
        )


def with_categories(x_num, x_cat, embeddings):
    """``x_num`` with the embedded codes ``x_cat`` appended (``x_num`` alone when
    there are none)."""
    if x_cat is None or embeddings is None or x_cat.shape[1] == 0:
        return x_num
    embedded = embeddings(x_cat).to(x_num.dtype)
    return torch.cat([x_num, embedded], dim=1)


def one_hot_width(n_numeric, cardinalities):
    """Input width of a module that gets the codes one-hot encoded."""
    return int(n_numeric) + int(sum(cardinalities))


class TableInputs(nn.Module):
    """A module fed from a packed table matrix: ``module(x_num, x_cat)`` for a module
    that declares ``categorical_inputs``, else ``module(x)`` with the codes one-hot.

    Parameters
    ----------
    module : nn.Module
    n_numeric : int
        Leading numeric columns of the packed matrix.
    cardinalities : sequence of int
        Cardinality of each categorical column after them.

    Examples
    --------
    >>> inner = nn.Linear(2 + 3, 1)
    >>> TableInputs(inner, 2, [3])(torch.tensor([[0.5, 1.0, 2.0]])).shape
    torch.Size([1, 1])
    """

    def __init__(self, module, n_numeric, cardinalities):
        super().__init__()
        self.module = module
        self.n_numeric = int(n_numeric)
        self.cardinalities = tuple(int(c) for c in cardinalities)
        self.declared = declares_categorical_inputs(module)

    @property
    def ensemble_size(self):
        return ensemble_size(self.module)

    def forward(self, X, **kwargs):
        x_num = X[:, : self.n_numeric]
        x_cat = X[:, self.n_numeric :].long()
        if self.declared:
            return self.module(x_num, x_cat, **kwargs)
        one_hot = [
            nn.functional.one_hot(x_cat[:, j], c).to(X.dtype)
            for j, c in enumerate(self.cardinalities)
        ]
        return self.module(torch.cat([x_num, *one_hot], dim=1), **kwargs)
