"""The mechanics of a fit, each module one job; none imports the classifier.

* :mod:`.inputs`: ``X``, ``y`` and ``sample_weight`` checked, labels encoded 0/1;
* :mod:`.plan`: the :class:`~.plan.FitPlan` of one fit (split, sampler, weight,
  scaler, the rows the threshold is tuned on), built once and dropped at its end;
* :mod:`.loading`: datasets and batch iterators;
* :mod:`.construction`: module, optimizer, criterion, schedule and callbacks from
  the parameters;
* :mod:`.step`: the per-batch numerics (ensemble logits, row weights, mixed
  precision);
* :mod:`.decision`: what ``predict_proba`` and ``predict`` apply (logit shift,
  threshold), as values;
* :mod:`.runtime`: device, threads and random state around a fit;
* :mod:`.prediction`: ``predict_proba`` and ``predict``;
* :mod:`.manners`: scikit-learn's tags, parameter names and ``classes_``.
"""
