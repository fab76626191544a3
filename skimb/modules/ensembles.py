"""Which networks are ensembles: a module that returns one logit per member for
each row, shape (n, k), declares ``ensemble_size = k``.

A binary classifier's network returns one logit a row, (n,) or (n, 1). An (n, k)
output is an ensemble of k members only where the module says so; an (n, 2)
output is otherwise the two-unit head of a softmax classifier, which skimb refuses
rather than average as two members. The built-in ``MLP(members=k)``, ``TabM`` and
a bag of networks (:class:`skimb.bagging.BaggedModule`) declare theirs.
"""


def ensemble_size(module):
    """The ``ensemble_size`` a module (or the module inside a wrapper such as
    ``DistributedDataParallel``, through ``.module``) declares; 1 if none."""
    while module is not None:
        size = getattr(module, "ensemble_size", None)
        if size is not None:
            return int(size)
        module = getattr(module, "module", None)
    return 1
