"""The fit's mechanics (skimb.training), through their own interfaces."""

import numpy as np
import pytest

from skimb.training.inputs import encode_labels


def test_a_tables_int8_labels_are_counted_and_not_copied_when_0_1():
    y = np.array([0, 1, 1, 0], np.int8)
    classes, encoded = encode_labels(y, dtype=np.int8)
    assert encoded is y  # read only
    assert classes.tolist() == [0, 1] and classes.dtype == np.int8
    y = np.array([-1, 1, 1, -1], np.int8)
    classes, encoded = encode_labels(y, dtype=np.int8)
    assert encoded.tolist() == [0, 1, 1, 0] and classes.tolist() == [-1, 1]
    with pytest.raises(ValueError, match=r"3 classes: \[-1, 0, 1\]"):
        encode_labels(np.array([0, 1, -1], np.int8), dtype=np.int8)
    with pytest.raises(ValueError, match=r"labels \[0, 3\] not seen"):
        encode_labels(np.array([0, 3], np.int8), classes=classes, dtype=np.int8)


def test_labels_are_encoded_against_the_later_class():
    classes, encoded = encode_labels(np.array(["yes", "no", "yes"]))
    assert classes.tolist() == ["no", "yes"]
    assert encoded.dtype == np.float32 and encoded.tolist() == [1.0, 0.0, 1.0]
