# Exercise: implement the functions below; test them with `python3 -m autograder check optim`
# (from the student bundle's folder; `dlgrade check optim` in a course checkout).
"""Optimizers and mini-batch training.

Slides: "Gradient descent", "Mini-batches", "Adaptive learning rates".

Each step function updates one parameter array w of any shape, e.g. (D, M),
from its gradient dw (same shape); the caller loops over a params dict.
Steps return new arrays and never modify their arguments.

How this file is graded (docs/grading-rules.md): each test grades named functions, with
batches of 1 to 64 samples wherever there is a batch dimension; a convention (the "Graded:"
lines below) costs points only in the tests about it. Functions must not print (one test
checks it and shows what was printed) and must not warn for finite inputs.
"""
# Self-contained rule: this file imports only numpy. What it needs from an
# earlier exercise is a private copy below (names starting with "_"): fill it in
# too; your code from backprop.py will do.
import numpy as np

OPTIMIZERS = ("sgd", "momentum", "adam")


def _mlp_loss_and_grads(params, x, y):
    """Softmax cross-entropy of a ReLU MLP and its gradients (as backprop.mlp_loss_and_grads).

    params: {"W1": (D, H), "b1": (H,), ...}, x: (N, D), y: (N, K) one-hot;
    returns (loss, grads) with grads shaped like params.

    Hint: forward keeping each layer's input and pre-activation, then dense
    backward from (softmax(logits) - y) / N down to the first layer.
    """
    raise NotImplementedError("_mlp_loss_and_grads: not implemented yet")


def sgd_step(w, dw, lr):
    """One step of gradient descent, w <- w - lr * dw.

    w, dw: arrays of the same shape (e.g. (D, M)), lr: float; returns the new w.

    Hint: return a new array (w - ...), do not update w in place (w -= ...).
    """
    raise NotImplementedError("sgd_step: not implemented yet")


def momentum_step(w, dw, velocity, lr, momentum=0.9):
    """One step of SGD with momentum, as Keras' SGD(momentum=...):

        velocity <- momentum * velocity - lr * dw
        w        <- w + velocity

    w, dw, velocity: arrays of the same shape (start with velocity = zeros);
    returns (w, velocity), both new arrays of that shape.

    Hint: the velocity is a running, decaying sum of past steps; update it first.
    """
    raise NotImplementedError("momentum_step: not implemented yet")


def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    """One Adam step (Kingma & Ba 2015, Algorithm 1) for step number t >= 1:

        m <- beta1 * m + (1 - beta1) * dw            first moment (mean of gradients)
        v <- beta2 * v + (1 - beta2) * dw**2         second moment (uncentered variance)
        m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)   bias correction
        w <- w - lr * m_hat / (sqrt(v_hat) + eps)

    w, dw, m, v: arrays of the same shape (start with m = v = zeros, t = 1);
    returns (w, m, v), new arrays of that shape.

    Hint: without bias correction the first steps are far too small, because
    m and v start at zero; eps only guards the division when v_hat is 0.
    """
    raise NotImplementedError("adam_step: not implemented yet")


def minibatches(n, batch_size, seed=0):
    """Shuffled mini-batches of the indices 0..n-1 for one epoch.

    n, batch_size: ints; returns a list of integer index arrays of shape
    (batch_size,), the last one (n % batch_size,) when batch_size does not
    divide n. Together they are the permutation
    np.random.default_rng(seed).permutation(n), cut into consecutive pieces:
    the same seed gives the same batches.
    Graded: this exact order in one public and one hidden check (weight 0.5
    each); the others grade the properties: a permutation of range(n), the
    batch sizes, shuffled, same seed same order, another seed another order.

    Hint: slice the permutation with a step of batch_size.
    """
    raise NotImplementedError("minibatches: not implemented yet")


def train_mlp(x, y, hidden=64, epochs=20, batch_size=32, lr=1e-2, optimizer="adam", seed=0):
    """Train a one-hidden-layer ReLU MLP classifier with mini-batch gradient descent.

    x: (N, D) features; y: (N,) integer labels 0..K-1 or (N, K) one-hot.
    Network: logits = relu(x @ W1 + b1) @ W2 + b2, with W1: (D, hidden),
    W2: (hidden, K); loss: softmax cross-entropy (mean over the batch).
    optimizer: "sgd", "momentum" (0.9) or "adam" (default betas), learning
    rate lr; each epoch visits every sample once in shuffled mini-batches.
    Returns the trained params {"W1", "b1", "W2", "b2"}: predictions are
    argmax of the logits (backprop.mlp_forward with "relu").

    Hint: He initialization, W ~ N(0, 2 / fan_in), trains ReLU networks faster
    than a tiny sigma; keep one optimizer state (velocity, or m and v) per key,
    and count Adam's t over all steps, not per epoch.
    """
    raise NotImplementedError("train_mlp: not implemented yet")
