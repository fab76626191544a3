"""scikit-learn's own estimator checks, run on ImbalancedNetClassifier."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skimb import ImbalancedNetClassifier

# Each check expected to fail, with the reason.
EXPECTED_FAILED_CHECKS = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_, "
        "and stores prefixed keyword arguments; this is skorch's design"
    ),
    "check_classifiers_train": (
        # scikit-learn's own reason for TunedThresholdClassifierCV
        "Threshold at probability 0.5 does not hold: threshold='f1' tunes the "
        "decision threshold on the validation split"
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        # as for scikit-learn's own SGD estimators
        "sample_weight is not equivalent to removing/adding samples in stochastic "
        "mini-batch training: repeated rows change the batches and the validation "
        "split; the weighted loss itself equals the repeated-rows loss "
        "(tests/test_sample_weight.py)"
    ),
}


def _small_net():
    return ImbalancedNetClassifier(max_epochs=20, lr=0.01, verbose=0, random_state=0)


@parametrize_with_checks(
    [_small_net()],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
