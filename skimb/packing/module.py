"""The fitted packed bag as a module, and which fits can be packed."""

import torch
from skorch.utils import is_dataset

from ..modules import network_of


class PackedBag(torch.nn.Module):
    """The ``k`` networks of a packed bag as one module: logits of shape ``(n, k)``,
    column ``j`` member ``j``'s, scaled by the bag's ``scaler`` and prior-corrected
    by member ``j``'s ``logit_shifts[j]``, so that the classifier averages their
    probabilities and shifts nothing more (as for a
    :class:`~skimb.bagging.BaggedModule`).

    ``partial_fit`` trains it on as an ensemble, every member on every row, as it
    does a sequential bag.

    Parameters
    ----------
    network : nn.Module
        The packed module, ``(n, d) -> (n, k)`` logits (``MLP(members=k)``).
    scaler : FeatureScaler or None
        The feature scaling of the bag's fit, fitted on all its rows.
    logit_shifts : sequence of k floats
        Each member's prior correction.
    """

    def __init__(self, network, scaler, logit_shifts):
        super().__init__()
        self.network = network
        self.scaler = scaler
        self.register_buffer(
            "logit_shifts", torch.as_tensor(logit_shifts, dtype=torch.float32)
        )

    @property
    def n_bags(self):
        return len(self.logit_shifts)

    @property
    def ensemble_size(self):
        return self.n_bags

    def forward(self, X):
        logits = self.network(X if self.scaler is None else self.scaler.transform(X))
        if isinstance(logits, tuple):
            logits = logits[0]
        return logits.reshape(len(X), -1).float() - self.logit_shifts


#: Samplers under which a member's batches are what they are for one network: they
#: reorder the rows, never resample them (the resampling ones are defined on the
#: whole batch, which member masks would break; their bags are sequential).
PACKED_SAMPLERS = (None, "block_shuffle")


def packing_refusal(net, X):
    """Why the bag of ``net`` on ``X`` (the bag's input, encoded if it is a table)
    is fitted one network after another, or None where it is packed.

    A bag is packed when the module class declares ``packed_members`` (the keyword
    that builds ``k`` independent networks side by side with their parameters
    stacked member-first, as ``MLP``'s ``members`` does), the data are in memory,
    the sampler only reorders rows, there is no weight schedule and the criterion
    is skimb's (BCE or focal), and ``bagging__packed=False`` does not ask for the
    sequential bag (the packed one is the default since the full quality run:
    the same mean AP, F1 and log loss at two thirds of the time; see
    ``docs/defaults.md``).
    """
    options = net.get_params_for("bagging")
    if options.get("packed", True) is False:
        return "bagging__packed=False"
    module = network_of(net)
    if not isinstance(module, type):
        return "a module instance is trained as given"
    keyword = getattr(module, "packed_members", None)
    if keyword is None:
        return f"{module.__name__} declares no packed_members"
    if keyword in net.get_params_for("module"):
        return f"module__{keyword} is given"
    if is_dataset(X):
        return "the data are a Dataset (packing holds its rows' folds in memory)"
    encoder = getattr(net, "table_encoder_", None)
    if encoder is not None and encoder.layout_.cardinalities:
        return "categorical columns (the network's embeddings are shared)"
    if not (net.sampler is None or net.sampler in PACKED_SAMPLERS):
        return f"sampler={net.sampler!r} resamples each batch"
    if net.weight_schedule is not None:
        return "a weight_schedule sets one weight for all members"
    if net.criterion is not torch.nn.BCEWithLogitsLoss:
        return "a criterion of the user's own"
    if "pos_weight" in net.get_params_for("criterion"):
        return "criterion__pos_weight is given"
    return None
