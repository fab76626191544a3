"""Which rows each member of a packed bag trains on, and the loss that keeps to it."""

import math

import numpy as np
import torch
from torch.utils.data import Subset

from ..losses import elementwise_loss
from ..weights import resolve_pos_weight

#: The columns of a packed fit's targets: label, row weight, the row's fold.
LABEL, WEIGHT, FOLD = 0, 1, 2


class EveryRow:
    """A skorch ``train_split`` that trains and validates on every row: the rows'
    folds (carried in the targets, :class:`MemberRows`) say which member trains on a
    row and which is validated on it."""

    def __call__(self, dataset, y=None, groups=None):
        rows = np.arange(len(dataset))
        return Subset(dataset, rows), Subset(dataset, rows)

    def __repr__(self):
        return "EveryRow()"


class MemberRows:
    """The rows of a packed bag of ``n_members`` networks: row ``r`` validates
    member ``folds[r]`` and trains every other one.

    Made by :func:`~.fit.fit_packed` and carried by the fit's plan, it gives the
    classifier's hooks what differs from a fit of one network: the targets (label,
    weight, fold), the members' positive weights, the masked loss and the
    callbacks that score and select each member.

    Parameters
    ----------
    folds : ndarray of shape (n_rows,)
        The fold of each row, ``0 .. n_members - 1``.
    n_members : int
        The bag's networks.

    Attributes
    ----------
    pos_weights, logit_shifts : list of float
        Each member's positive weight (as the criterion holds it, float32) and the
        logit shift of its prior correction, once the fit has resolved them.
    """

    def __init__(self, folds, n_members):
        self.folds = np.asarray(folds)
        self.n_members = int(n_members)
        self.pos_weights = None
        self.logit_shifts = None
        self._losses = {}
        self._trained = None  # (k,) bool tensor of the members trained; None: all

    def train_only(self, members, module):
        """Train only ``members`` (indices; None: all) from now on, where the
        module can compute a subset of its members (``module.train_members``, as
        ``MLP``'s) and at least two members are left out: the others' logits are
        then 0 in training, and their loss entries left out.

        Otherwise every member trains on (a member's weights are restored from
        its selected epoch in any case): gathering a subset of the stacked
        weights costs about what one member saves (a step of five 64-32 MLPs on
        640 rows, one thread: 1.20 ms, of four 1.12 ms, three 0.90 ms, two 0.72
        ms, one 0.50 ms; one network alone 0.37 ms)."""
        train_members = getattr(module, "train_members", None)
        if not callable(train_members):
            return
        if members is None or len(members) > self.n_members - 2:
            self._trained = None
            train_members(None)
            return
        device = next(module.parameters()).device
        self._trained = torch.zeros(self.n_members, dtype=torch.bool, device=device)
        self._trained[list(members)] = True
        train_members(sorted(members))

    def targets(self, y01, sample_weight=None):
        """``(n, 3)`` float32 targets: the 0/1 label, the row weight (1 without
        ``sample_weight``) and the row's fold."""
        targets = np.empty((len(self.folds), 3), np.float32)
        targets[:, LABEL] = np.asarray(y01).reshape(-1)
        targets[:, WEIGHT] = 1.0 if sample_weight is None else sample_weight
        targets[:, FOLD] = self.folds
        return targets

    def batch_size(self, batch_size, resolved):
        """Rows a training batch: for ``batch_size="auto"``, ``k / (k - 1)`` times
        the ``resolved`` one, so that each member's share of a batch (the rows not
        in its fold) is the batch a network of a sequential bag trains on, and an
        epoch takes as many steps; any other value as it was resolved."""
        if batch_size != "auto":
            return resolved
        k = self.n_members
        return math.ceil(resolved * k / (k - 1))

    def resolve_weights(self, net, labels, pos_weight):
        """Write each member's positive weight, resolved on its own training folds
        (``labels`` of every row, in row order), into ``net.criterion_``; set
        ``pos_weights`` and ``logit_shifts``. Returns their mean (``pos_weight_``)."""
        labels = np.asarray(labels)
        weights = [
            resolve_pos_weight(pos_weight, labels[self.folds != j])
            for j in range(self.n_members)
        ]
        buffer = getattr(net.criterion_, "pos_weight", None)
        if not isinstance(buffer, torch.Tensor) or buffer.numel() != self.n_members:
            raise ValueError(
                "a packed bag needs a criterion with one pos_weight per member"
            )
        buffer.copy_(torch.as_tensor(weights, dtype=buffer.dtype))
        self.pos_weights = buffer.tolist()  # as the loss applies them
        self.logit_shifts = [net.logit_shift(w) for w in self.pos_weights]
        return float(np.mean(self.pos_weights))

    def loss(self, criterion, logits, y_true, training):
        """The mean over members of each member's mean loss on the batch's rows it
        trains on (``training``) or is validated on: a member's gradient is the one
        a network of a sequential bag gets from those rows, over ``k``.

        ``logits``: ``(n, k)``; ``y_true``: the ``(n, 3)`` targets. Each member's
        sum and row count are kept for its epoch losses
        (:meth:`epoch_losses`)."""
        members = torch.arange(self.n_members, device=logits.device)
        validates = y_true[:, FOLD : FOLD + 1].long() == members  # (n, k)
        used = ~validates if training else validates
        if training and self._trained is not None:
            # Members no longer trained: no loss, and no count of rows. The mean is
            # still over all k members, so a trained member's gradient is what it
            # was with every member computed.
            used = used & self._trained
        targets = y_true[:, LABEL : LABEL + 1].expand_as(logits)
        per_entry = elementwise_loss(criterion, logits, targets)
        weights = y_true[:, WEIGHT : WEIGHT + 1] * used
        sums = (per_entry * weights).sum(dim=0)
        counts = used.sum(dim=0)
        self._add(training, sums.detach(), counts)
        loss = (sums / counts.clamp(min=1)).mean()
        if training and self._trained is not None:
            # The value recorded (the epoch's train_loss) is the mean over the
            # members trained; the gradient stays that of the mean over k.
            scale = self.n_members / int(self._trained.sum()) - 1
            loss = loss + (loss * scale).detach()
        return loss

    def _add(self, training, sums, counts):
        held = self._losses.get(training)
        self._losses[training] = (
            (sums, counts) if held is None else (held[0] + sums, held[1] + counts)
        )

    def epoch_losses(self, training):
        """Each member's mean loss over the epoch's training (or validation) rows
        it used, as a list; the sums start again."""
        held = self._losses.pop(training, None)
        if held is None:
            return [math.nan] * self.n_members
        sums, counts = held
        losses = sums.double() / counts.clamp(min=1)
        # a member that used no row (no longer trained) has no loss, not 0
        return torch.where(counts > 0, losses, math.nan).tolist()
