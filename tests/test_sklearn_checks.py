"""scikit-learn's own estimator checks, run on ImbalancedNetClassifier."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skimb import ImbalancedNetClassifier

# Each check expected to fail, with the reason.
EXPECTED_FAILED_CHECKS = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_, "
        "and stores prefixed keyword arguments; this is skorch's design"
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
