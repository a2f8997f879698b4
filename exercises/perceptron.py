# Exercise: implement the functions below; test them with `python3 -m autograder check perceptron`
# (from the student bundle's folder; `dlgrade check perceptron` in a course checkout).
"""The perceptron (slides: "The Perceptron"): weighted sum, non-linearity, Rosenblatt's rule.

Shapes: x (N, m) holds N samples of m inputs, w (m,) the weights, b the bias (a float).

How this file is graded (docs/grading-rules.md): each test grades named functions, with
batches of 1 to 64 samples wherever there is a batch dimension; a convention (the "Graded:"
lines below) costs points only in the tests about it. Functions must not print (one test
checks it and shows what was printed) and must not warn for finite inputs.
"""
# Self-contained rule: this file imports only numpy. What it needs from an
# earlier exercise is a private copy below (name starting with "_"): fill it in
# too; your code from activations.py will do.
import numpy as np

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")


def _sigmoid(z):
    """Stable sigmoid 1 / (1 + exp(-z)), elementwise; z: any shape (as activations.sigmoid).

    Hint: exponentiate only -|z|, then np.where between 1 / (1 + e) and e / (1 + e).
    """
    raise NotImplementedError("_sigmoid: not implemented yet")


def weighted_sum(x, w, b):
    """Pre-activation of one perceptron, z = b + sum_j x_j w_j, for every sample.

    x: (N, m), w: (m,), b: float; returns z: (N,).

    Hint: one matrix-vector product does the sum for all N samples at once.
    """
    raise NotImplementedError("weighted_sum: not implemented yet")


def perceptron_forward(x, w, b, activation="sigmoid"):
    """Output of the perceptron, y_hat = g(b + x @ w).

    x: (N, m), w: (m,), b: float; returns y_hat: (N,).
    activation: g, one of "sigmoid", "tanh", "relu", "linear" (g(z) = z);
    any other name raises ValueError (never guess what the caller meant).
    Graded: ValueError (not KeyError, not a default) for "softplus" and "step", in one check.

    Hint: compute z with weighted_sum, then pick g by name.
    """
    raise NotImplementedError("perceptron_forward: not implemented yet")


def perceptron_predict(x, w, b):
    """Hard class labels of the perceptron: 1 where z = b + x @ w >= 0, else 0.

    x: (N, m), w: (m,), b: float; returns integer labels (N,).
    The decision boundary is the hyperplane z = 0 (sigmoid(z) = 0.5).
    Graded: z == 0 exactly predicts 1, and the labels' dtype is an integer one
    (not float or bool), each in the checks about it; the other checks read
    0/1 labels of any dtype and never put z exactly at 0.

    Hint: compare z with 0 and cast the booleans to int.
    """
    raise NotImplementedError("perceptron_predict: not implemented yet")


def perceptron_train(x, y, lr=1.0, epochs=100):
    """Rosenblatt's perceptron learning rule; returns the learned (w, b).

    x: (N, m) samples, y: (N,) labels in {0, 1}; returns w: (m,) float64 and b: float.
    Start from w = 0, b = 0. Each epoch visits the samples in order i = 0..N-1:
        pred_i = 1 if b + x_i @ w >= 0 else 0
        w += lr * (y_i - pred_i) * x_i
        b += lr * (y_i - pred_i)
    (nothing changes when pred_i is right). Stop after `epochs` epochs, or
    earlier, after the first epoch without a mistake: the data are then
    separated and nothing would change any more.
    Graded: the values on random and separable data (exact: the data are on a
    grid), and, in a check of its own, that a call with epochs=10**8 on data
    whose first epoch has no mistake returns at once (within 0.25 s of CPU).

    Hint: the update needs the prediction with the current w, b, so the loop
    over samples cannot be vectorized; count the mistakes of each epoch.
    """
    raise NotImplementedError("perceptron_train: not implemented yet")
