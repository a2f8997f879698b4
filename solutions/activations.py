"""Activation functions g(z) and their derivatives g'(z) (slides: "Activation functions").

Everything here is elementwise on an array of any shape, except softmax, which
normalizes along one axis. Inputs are float64 arrays; outputs have the input's shape.

How this file is graded (docs/grading-rules.md): each test grades named functions, with
batches of 1 to 64 samples wherever there is a batch dimension; a convention (the "Graded:"
lines below) costs points only in the tests about it. Functions must not print (one test
checks it and shows what was printed) and must not warn for finite inputs.
"""
# Self-contained rule: this file imports only numpy and needs no other exercise.
import numpy as np


def sigmoid(z):
    """Logistic sigmoid g(z) = 1 / (1 + exp(-z)), elementwise.

    z: array of any shape, e.g. (N,) or (N, M); returns an array of the same
    shape with values in [0, 1].

    Numerical stability: for z < -709, exp(-z) overflows (a RuntimeWarning,
    then inf). Graded: |z| = 1000 gives the right values, and no warning (a
    test of its own). Only ever exponentiate a non-positive number, e = exp(-|z|),
    which lies in (0, 1]:
        z >= 0:  g(z) = 1 / (1 + e)
        z <  0:  g(z) = e / (1 + e)      (multiply top and bottom by exp(z))
    so sigmoid(-1000.0) is exactly 0.0 with no warning.

    Hint: compute e once, then let np.where choose the form per element.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ### END SOLUTION


def sigmoid_grad(z):
    """Derivative of the sigmoid, g'(z) = g(z) * (1 - g(z)), elementwise.

    z: array of any shape; returns an array of the same shape, values in [0, 0.25].

    Numerical stability: for large z, g(z) rounds to 1.0 and 1 - g(z) to 0.0,
    losing the tiny true value. With e = exp(-|z|) as in sigmoid,
    g(z) * (1 - g(z)) = e / (1 + e)**2 for both signs of z (g'(z) is even),
    which stays accurate and never overflows.

    Hint: g'(z) = g(|z|) * g(-|z|); write both factors with e = exp(-|z|).
    """
    ### BEGIN SOLUTION
    e = np.exp(-np.abs(np.asarray(z, dtype=np.float64)))
    return e / (1.0 + e) ** 2
    ### END SOLUTION


def tanh(z):
    """Hyperbolic tangent g(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z)), elementwise.

    z: array of any shape; returns an array of the same shape, values in [-1, 1].

    Hint: the formula above overflows for |z| > 709; numpy has a stable tanh.
    Graded: |z| = 1000 gives the right values, and no overflow warning (a test of its own).
    """
    ### BEGIN SOLUTION
    return np.tanh(np.asarray(z, dtype=np.float64))
    ### END SOLUTION


def tanh_grad(z):
    """Derivative of tanh, g'(z) = 1 - tanh(z)**2, elementwise.

    z: array of any shape; returns an array of the same shape, values in [0, 1].

    Numerical stability: for |z| > 19, tanh(z)**2 rounds to 1.0 and 1 - it to
    0.0, losing the tiny true value. Since 1 - tanh(z)**2 = 1 / cosh(z)**2,
    with e = exp(-2|z|) in (0, 1] it equals 4e / (1 + e)**2 (even in z, like
    sigmoid_grad), accurate everywhere and free of overflow.

    Hint: the slide formula is fine for moderate z; e = exp(-2|z|) handles the tails.
    """
    ### BEGIN SOLUTION
    e = np.exp(-2.0 * np.abs(np.asarray(z, dtype=np.float64)))
    return 4.0 * e / (1.0 + e) ** 2
    ### END SOLUTION


def relu(z):
    """Rectified linear unit g(z) = max(0, z), elementwise.

    z: array of any shape; returns an array of the same shape.

    Hint: np.maximum compares elementwise (np.max reduces an axis: not that one).
    """
    ### BEGIN SOLUTION
    return np.maximum(np.asarray(z, dtype=np.float64), 0.0)
    ### END SOLUTION


def relu_grad(z):
    """Derivative of ReLU: 1.0 where z > 0, else 0.0, elementwise.

    z: array of any shape; returns a float64 array of the same shape.
    ReLU has no derivative at z == 0; like TensorFlow and PyTorch, use 0 there.
    Graded: relu_grad(0.0) == 0.0, only in the checks about z == 0 (elsewhere z is never 0).

    Hint: a boolean comparison cast to float.
    """
    ### BEGIN SOLUTION
    return (np.asarray(z, dtype=np.float64) > 0).astype(np.float64)
    ### END SOLUTION


def softmax(z, axis=-1):
    """Softmax along `axis`: softmax(z)_i = exp(z_i) / sum_j exp(z_j).

    z: array of any shape, typically logits (N, K) with axis=-1; returns an
    array of the same shape whose entries along `axis` are positive and sum to 1.

    Numerical stability: exp(1000) overflows. Softmax does not change when a
    constant is subtracted from every z_j, so subtract the maximum along `axis`
    first: the largest exponent is then exp(0) = 1 and nothing overflows.

    Hint: keepdims=True keeps the reduced axis so the max and the sum broadcast.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
    ### END SOLUTION
