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
    ### BEGIN SOLUTION
    num_layers = sum(1 for key in params if key.startswith("W"))
    inputs, pre_acts = [], []
    a = x
    for i in range(1, num_layers + 1):
        inputs.append(a)
        z = a @ params[f"W{i}"] + params[f"b{i}"]
        pre_acts.append(z)
        a = z if i == num_layers else np.maximum(z, 0.0)

    shifted = a - np.max(a, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = float(np.mean(-np.sum(y * log_probs, axis=1)))

    grads = {}
    dz = (np.exp(log_probs) - y) / x.shape[0]
    for i in range(num_layers, 0, -1):
        grads[f"W{i}"] = inputs[i - 1].T @ dz
        grads[f"b{i}"] = np.sum(dz, axis=0)
        if i > 1:
            dz = (dz @ params[f"W{i}"].T) * (pre_acts[i - 2] > 0)
    return loss, grads
    ### END SOLUTION


def sgd_step(w, dw, lr):
    """One step of gradient descent, w <- w - lr * dw.

    w, dw: arrays of the same shape (e.g. (D, M)), lr: float; returns the new w.

    Hint: return a new array (w - ...), do not update w in place (w -= ...).
    """
    ### BEGIN SOLUTION
    return w - lr * dw
    ### END SOLUTION


def momentum_step(w, dw, velocity, lr, momentum=0.9):
    """One step of SGD with momentum, as Keras' SGD(momentum=...):

        velocity <- momentum * velocity - lr * dw
        w        <- w + velocity

    w, dw, velocity: arrays of the same shape (start with velocity = zeros);
    returns (w, velocity), both new arrays of that shape.

    Hint: the velocity is a running, decaying sum of past steps; update it first.
    """
    ### BEGIN SOLUTION
    velocity = momentum * velocity - lr * dw
    return w + velocity, velocity
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    m = beta1 * m + (1.0 - beta1) * dw
    v = beta2 * v + (1.0 - beta2) * dw**2
    m_hat = m / (1.0 - beta1**t)
    v_hat = v / (1.0 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    order = np.random.default_rng(seed).permutation(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {OPTIMIZERS}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    if y.ndim == 1:
        labels = y.astype(np.int64)
        y = np.eye(int(labels.max()) + 1)[labels]
    y = y.astype(np.float64)

    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], hidden, y.shape[1]]
    params = {}
    for i in (1, 2):
        fan_in, fan_out = sizes[i - 1], sizes[i]
        params[f"W{i}"] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        params[f"b{i}"] = np.zeros(fan_out)

    first = {key: np.zeros_like(value) for key, value in params.items()}  # velocity, or Adam's m
    second = {key: np.zeros_like(value) for key, value in params.items()}  # Adam's v
    step = 0
    for epoch in range(epochs):
        for batch in minibatches(x.shape[0], batch_size, seed=seed + 1 + epoch):
            _, grads = _mlp_loss_and_grads(params, x[batch], y[batch])
            step += 1
            for key in params:
                if optimizer == "sgd":
                    params[key] = sgd_step(params[key], grads[key], lr)
                elif optimizer == "momentum":
                    params[key], first[key] = momentum_step(params[key], grads[key], first[key], lr)
                else:
                    params[key], first[key], second[key] = adam_step(
                        params[key], grads[key], first[key], second[key], step, lr=lr
                    )
    return params
    ### END SOLUTION
