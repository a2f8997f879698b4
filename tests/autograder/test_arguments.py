"""autograder.inside.arguments: arrays found without binding are the ones binding finds; a change is named by parameter."""
import numpy as np
import pytest

from autograder.inside import arguments


def plain(x, params, scale=1.0):
    return x


def star(x, *rest, **options):
    return x


def opaque_signature(*args, **kwargs):
    return None


CALLS = [
    (plain, [np.zeros(2), {"W1": np.ones((2, 2)), "b": [np.zeros(1), np.ones(1)]}], {}),
    (plain, [np.zeros(2)], {"params": {"W1": np.ones(1)}, "scale": np.float64(2.0)}),
    (star, [np.zeros(2), np.ones(3), (np.ones(1),)], {"k": np.zeros(4)}),
    (plain, [np.zeros(2)], {}),  # too few arguments: labelled by position
    (len, [np.zeros(3)], {}),  # a builtin whose signature may be unknown
]


@pytest.mark.parametrize("func, args, kwargs", CALLS)
def test_snapshots_hold_every_array_binding_would_name(func, args, kwargs):
    found = [id(a) for a, copy in arguments.snapshots(func, args, kwargs)]
    named = [id(a) for _, a in arguments._labelled(func, args, kwargs)]
    assert sorted(found) == sorted(named) and found
    assert all(np.array_equal(a, c) and a is not c for a, c in arguments.snapshots(func, args, kwargs))


def test_a_changed_argument_is_named_by_its_parameter():
    params = {"W1": np.ones((2, 2)), "b": [np.zeros(1), np.ones(1)]}
    x = np.zeros(2)
    snaps = arguments.snapshots(plain, [x, params], {})
    params["W1"] -= 0.5
    params["b"][1][0] = 7.0
    changed = [a for a, c in snaps if arguments.changed(a, c)]
    assert arguments.labels(plain, [x, params], {}, changed) == ["params['W1']", "params['b'][1]"]
    rest = np.ones(3)
    snaps = arguments.snapshots(star, [x, rest], {"k": np.zeros(1)})
    rest *= 2
    changed = [a for a, c in snaps if arguments.changed(a, c)]
    assert arguments.labels(star, [x, rest], {"k": np.zeros(1)}, changed) == ["rest[0]"]


def test_changed_is_array_equal_with_nans():
    a = np.array([np.nan, 0.0, 1.0])
    assert not arguments.changed(a, a.copy())
    assert not arguments.changed(np.array([0.0]), np.array([-0.0])), "equal values, other bits"
    assert arguments.changed(a, np.array([np.nan, 0.0, 2.0]))
    assert arguments.changed(a, a.astype(np.float32))
