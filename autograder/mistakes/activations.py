"""Classic mistakes in activations.py."""
import numpy as np

from autograder.mistakes import mistake
from dlref import activations as ref


@mistake("activations", "relu_grad", "relu'(0) must be 0 (as TensorFlow and PyTorch): use z > 0, not z >= 0.")
def relu_grad_one_at_zero(z):
    return (np.asarray(z) >= 0).astype(np.float64)


@mistake("activations", "sigmoid_grad", "sigmoid'(z) is s * (1 - s) with s = sigmoid(z), not sigmoid(z) * (1 - z).")
def sigmoid_grad_of_z(z):
    return ref.sigmoid(z) * (1 - z)


@mistake("activations", "tanh_grad", "tanh'(z) is 1 - tanh(z)**2: square the tanh.")
def tanh_grad_unsquared(z):
    return 1 - np.tanh(z)


@mistake("activations", "softmax", "normalise along `axis` (sum with axis=axis, keepdims=True), not over the whole array.")
def softmax_whole_array(z, axis=-1):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


@mistake("activations", "softmax", "normalise along `axis` (sum with axis=axis, keepdims=True), not over the whole array.")
def softmax_whole_array_after_shift(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))  # the shift right, the sum not
    return e / np.sum(e)


@mistake("activations", "softmax", "softmax must use the `axis` argument; you normalised along the last axis.")
def softmax_last_axis(z, axis=-1):
    return ref.softmax(z, axis=-1)


@mistake("activations", "softmax", "subtract the max along `axis` before exp: exp(1000) overflows to inf and inf/inf is nan.")
def softmax_no_shift(z, axis=-1):
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


@mistake("activations", "sigmoid", "sigmoid is 1 / (1 + exp(-z)); check the sign inside exp.")
def sigmoid_wrong_sign(z):
    return ref.sigmoid(-np.asarray(z))
