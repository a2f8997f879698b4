"""Call texts in failure messages (autograder/suites/feedback.py): rendered only when used, from the values of the call."""
import numpy as np
import pytest

from autograder.course.config import Tolerances
from autograder.suites.expect import assert_close
from autograder.suites.feedback import CallText, Mismatch


def test_a_call_text_keeps_the_arguments_as_they_were_unless_told_not_to_copy():
    x = np.array([1.0, 2.0])
    kept, shared = CallText("relu", (x,), {"axis": 0}), CallText("relu", (x,), {"axis": 0}, copy=False)
    x[0] = -7.0  # the caller changes its array after the call
    assert "1" in str(kept) and "-7" not in str(kept) and str(kept).startswith("relu(")
    assert "-7" in str(shared)


def test_assert_close_renders_the_call_at_once_when_it_fails():
    x = np.array([1.0, 2.0])
    with pytest.raises(Mismatch) as e:
        assert_close(np.array([1.0, 5.0]), np.array([1.0, 2.0]), call=CallText("relu", (x,), {}, copy=False),
                     tol=Tolerances())
    x[1] = -9.0
    assert e.value.message.startswith("relu(array float64 (2,) [1., 2.])") and "-9" not in e.value.message
