"""Packed cross-fit bagging: the ``k`` networks of a bag trained as one module.

A bag of ``k`` networks fitted one after another costs ``k`` fits, and a small MLP
on the CPU is bound by the overhead of each batch, not by its arithmetic. So where
the network can be packed (:func:`~.module.packing_refusal` says where not), the
bag trains one module holding the ``k`` networks side by side (``MLP(members=k)``:
batched matrix products) in one fit over all the training rows:

* every row carries the fold it validates (:class:`~.members.MemberRows`): member
  ``j``'s loss leaves out the rows of fold ``j``, and the one validation pass of an
  epoch scores member ``j`` on fold ``j`` alone;
* each member has its own positive weight and prior correction, resolved on its
  own training folds (a ``(k,)`` ``pos_weight`` buffer in the criterion);
* each member keeps its own best epoch, by the rule of
  :class:`~skimb.selection.BestEpoch` (smoothing, ``min_delta``, the tie on the
  validation loss) and its own patience (:class:`~.callbacks.MemberSelection`);
  training ends when every member has stopped, and each member's selected weights
  are restored.

The result predicts as a sequential bag does, the mean of the members'
prior-corrected probabilities (:class:`~.module.PackedBag`), with the threshold
tuned on all out-of-fold rows (:func:`~.fit.fit_packed`).
"""
