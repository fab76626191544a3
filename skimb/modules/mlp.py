"""skimb's small multi-layer perceptron that outputs one logit."""

import torch
from torch import nn

from .periodic import MemberPeriodicEmbeddings
from .recipe import Recipe
from .tables import CategoryEmbeddings, with_categories


class MLP(nn.Module):
    """Multi-layer perceptron for binary classification, returning logits of shape (n,).

    Parameters
    ----------
    input_dim : int
        Number of numeric input features. :class:`skimb.ImbalancedNetClassifier`
        fills it in from ``X`` at fit time.
    hidden_units : sequence of int, default=(64, 32)
        Width of each hidden layer; an empty sequence gives logistic regression.
    dropout : float in [0, 1), default=0.0
        Dropout probability after each hidden layer. 0 by default: with best-epoch
        selection, dropout 0.1 scored no better on ``benchmarks/bench_quality.py``
        and cost about 15% of the fit time on the CPU (see the README).
    members : int, default=1
        Independent MLPs of this shape trained side by side (a deep ensemble in
        one module, computed with batched matrix products): the output is then
        (n, members), and the classifier trains each member on every batch (a
        packed bag: on the rows of its training folds, until it has stopped) and
        predicts the mean of their prior-corrected probabilities.
    cardinalities : sequence of int, default=()
        One per categorical input: each is embedded
        (:class:`~skimb.modules.tables.CategoryEmbeddings`) and the embeddings go
        into the first layer beside the numeric inputs. Filled in by the
        classifier for a table with categorical columns.
    embeddings : None or "periodic", default=None
        ``"periodic"``: each numeric input goes into the first layer with its
        periodic embedding beside it, each member its own
        (:class:`~skimb.modules.periodic.MemberPeriodicEmbeddings`: 4
        frequencies into 4 dimensions, as ``SmallRealMLP``'s). On the test folds
        of ``benchmarks/bench_quality.py`` it raised the default packed bag's mean
        AP from 0.630 to 0.640 and lowered its log loss from 0.150 to 0.144, at
        2.1x the fit time (docs/defaults.md).

    Examples
    --------
    >>> import torch
    >>> from skimb.modules import MLP
    >>> MLP(input_dim=5, hidden_units=(8,))(torch.zeros(3, 5)).shape
    torch.Size([3])
    """

    recipe = Recipe()  # Adam, learning rate 1e-3
    # A bag of k MLPs trains as MLP(members=k), its parameters stacked member-first
    # (skimb.packing).
    packed_members = "members"
    categorical_inputs = True  # forward(x_num, x_cat) for tables (modules.tables)
    # The members a training forward computes (None: all; see train_members). A
    # class attribute too, so that a model pickled before it existed trains on.
    training_members = None

    def __init__(
        self,
        input_dim,
        hidden_units=(64, 32),
        dropout=0.0,
        members=1,
        cardinalities=(),
        embeddings=None,
    ):
        super().__init__()
        if isinstance(hidden_units, int):
            hidden_units = (hidden_units,)
        check_input_dim(input_dim, cardinalities)
        if any(int(h) < 1 for h in hidden_units):
            raise ValueError(
                f"hidden_units must be positive ints, got {hidden_units!r}"
            )
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if isinstance(members, bool) or int(members) != members or members < 1:
            raise ValueError(f"members must be an int >= 1, got {members!r}")
        if embeddings not in (None, "periodic"):
            raise ValueError(
                f"embeddings must be None or 'periodic', got {embeddings!r}"
            )
        self.members = int(members)
        self.training_members = None

        def linear(width, units):
            if self.members == 1:
                return nn.Linear(width, units)
            return MemberLinear(self.members, width, units)

        self.categories = CategoryEmbeddings(cardinalities) if cardinalities else None
        layers = []
        numeric = int(input_dim) * (1 + PERIODIC_DIMENSIONS if embeddings else 1)
        width = numeric + (self.categories.width if cardinalities else 0)
        for units in hidden_units:
            layers += [linear(width, int(units)), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(units)
        layers.append(linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.embeddings = None
        if embeddings and int(input_dim):
            self.embeddings = MemberPeriodicEmbeddings(
                self.members, int(input_dim), d_embedding=PERIODIC_DIMENSIONS
            )

    @property
    def ensemble_size(self):
        return self.members  # (n, members) logits when members > 1

    def train_members(self, members):
        """Compute only these members (indices) in training forwards, the others'
        logits 0 with no gradient; ``None``: all. A packed bag stops computing
        members once their patience has run out (:mod:`skimb.packing`): on the
        CPU a step of five members costs about three times one network's, and
        the last members often train on alone. Evaluation forwards compute every
        member. The members left out are not frozen: an optimizer with momentum
        or weight decay still moves them (a packed bag puts back each member's
        weights of its selected epoch at the end)."""
        if members is not None and len(members) == self.members:
            members = None
        if members is not None:
            members = torch.as_tensor(
                members, dtype=torch.long, device=self.net[0].weight.device
            )
        self.training_members = members

    def forward(self, X, x_cat=None):
        members = self.training_members if self.training else None
        if self.embeddings is not None:
            hidden = self._embedded(X, x_cat, members)  # (k, n, width)
            if self.members == 1:
                return self.net(hidden[0]).squeeze(-1)
        else:
            X = with_categories(X, x_cat, self.categories)
            if self.members == 1:
                return self.net(X).squeeze(-1)
            k = self.members if members is None else len(members)
            hidden = X.unsqueeze(0).expand(k, *X.shape)  # (k, n, d)
        for layer in self.net:
            if isinstance(layer, MemberLinear):
                hidden = layer(hidden, members)
            else:
                hidden = layer(hidden)
        logits = hidden.squeeze(-1).T  # (n, k)
        if members is None:
            return logits
        every = logits.new_zeros(len(X), self.members)
        return every.index_copy(1, members, logits)

    def _embedded(self, X, x_cat, members):
        """Each member's first-layer inputs: the numeric ones with their periodic
        embeddings, then the embedded categories (shared by the members)."""
        hidden = self.embeddings(X, members)
        categories = with_categories(X[:, :0], x_cat, self.categories)
        if categories.shape[1]:
            expanded = categories.unsqueeze(0).expand(len(hidden), *categories.shape)
            hidden = torch.cat([hidden, expanded], dim=-1)
        return hidden


#: Size of each numeric input's periodic embedding (``embeddings="periodic"``).
PERIODIC_DIMENSIONS = 4


class MemberLinear(nn.Module):
    """``k`` independent linear layers applied to (k, n, in) inputs, each initialised
    as ``nn.Linear`` is (uniform in +-1/sqrt(in))."""

    def __init__(self, k, in_features, out_features):
        super().__init__()
        bound = in_features**-0.5
        self.weight = nn.Parameter(torch.empty(k, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(k, 1, out_features))
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, X, members=None):
        """``X``: (k, n, in), or (len(members), n, in) for those members alone."""
        if members is None:
            return torch.baddbmm(self.bias, X, self.weight)
        return torch.baddbmm(
            self.bias.index_select(0, members), X, self.weight.index_select(0, members)
        )


def check_input_dim(input_dim, cardinalities=()):
    """Raise unless ``input_dim`` is an int >= 1 (>= 0 beside categorical inputs)."""
    low = 0 if len(cardinalities) else 1
    if isinstance(input_dim, bool) or int(input_dim) != input_dim or input_dim < low:
        raise ValueError(
            f"input_dim must be an int >= {low}, got {input_dim!r}"
            + ("" if low else " (0 only beside categorical inputs)")
        )
