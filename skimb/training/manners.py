"""What scikit-learn asks of the classifier beyond skorch's own manners."""

from skorch import NeuralNet


class BinaryEstimatorManners:
    """Mixin for a skorch binary classifier: its scikit-learn tags, its parameter
    names, and ``classes_`` learned from the labels (skorch's
    ``NeuralNetBinaryClassifier`` hard-codes ``[0, 1]``)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.target_tags.required = True
        tags.input_tags.allow_nan = True  # imputed (skimb.tables)
        return tags

    def set_params(self, **params):
        # skimb's parameters that also name an option prefix (sampler, bagging,
        # ...) are parameters here: skorch would take them for a component's
        # options and, on a fitted net, refuse them.
        own = set(self.prefixes_) - set(NeuralNet.prefixes_)
        for name in [name for name in params if name in own]:
            setattr(self, name, params.pop(name))
        return super().set_params(**params)

    def _get_param_names(self):
        # skorch stores `_params_to_validate` in __init__; it is no parameter.
        return [k for k in super()._get_param_names() if not k.startswith("_")]

    @property
    def classes_(self):
        try:
            return self.__dict__["classes_"]
        except KeyError:
            raise AttributeError("classes_ is set by fit") from None

    @classes_.setter
    def classes_(self, value):
        self.__dict__["classes_"] = value
