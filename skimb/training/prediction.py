"""Prediction: probabilities streamed batch by batch, labels by the threshold."""

from sklearn.utils.validation import check_is_fitted
from skorch.exceptions import NotInitializedError
from skorch.utils import is_dataset

from ..progress import progress
from ..threads import cooperative_threads
from . import decision
from .inputs import dataset_input, table_input
from .loading import predicted_proba


class ThresholdedPrediction:
    """Mixin for the classifier: ``predict_proba`` with the fitted logit shift
    applied, and ``predict`` by ``threshold_``."""

    def predict_proba(self, X):
        """Probabilities of shape ``(n_samples, 2)``, columns in ``classes_`` order.

        ``X`` may be an array, a DataFrame or a torch Dataset (streamed by batch).
        """
        if not hasattr(self, "threshold_"):
            # skorch's error, a NotFittedError: both except clauses catch it
            raise NotInitializedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' "
                "with appropriate arguments before using this estimator."
            )
        check_is_fitted(self)
        X = dataset_input(self, X) if is_dataset(X) else table_input(self, X)
        with cooperative_threads(), self._device_context():
            return predicted_proba(self, X, self._get_predict_nonlinearity())

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity != "auto":
            return super()._get_predict_nonlinearity()
        return decision.two_column_proba(getattr(self, "logit_shift_", 0.0))

    def predict(self, X):
        """Labels from ``classes_``: positive where its probability > ``threshold_``."""
        positive = self.predict_proba(X)[:, 1] > self.threshold_
        return self.classes_[positive.astype(int)]

    def forward_iter(self, X, training=False, device="cpu"):
        with self._device_context():
            batches = super().forward_iter(X, training=training, device=device)
            if is_dataset(X):
                batches = progress(batches, self, len(X), "predicting")
            yield from batches
