# Exercise: implement the functions below; test them with `python3 -m autograder check backprop`
# (from the student bundle's folder; `dlgrade check backprop` in a course checkout).
"""Dense layers and a multi-layer perceptron trained by back-propagation.

Shapes: x (N, D) is a batch of N samples; a dense layer maps (N, D) -> (N, M)
with W (D, M), b (M,). A network's parameters are a dict "W1", "b1", ..., "WL", "bL".

How this file is graded (docs/grading-rules.md): each test grades named functions, with
batches of 1 to 64 samples wherever there is a batch dimension; a convention (the "Graded:"
lines below) costs points only in the tests about it. Functions must not print (one test
checks it and shows what was printed) and must not warn for finite inputs.
"""
# Self-contained rule: this file imports only numpy. What it needs from an
# earlier exercise is a private copy below (names starting with "_"): fill them
# in too; your code from activations.py and losses.py will do.
import numpy as np

ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear")


def _activation(z, name):
    """g(z) elementwise for name in ACTIVATIONS; z: any shape, returns the same shape.

    Hint: as in activations.py (a stable sigmoid); ValueError for an unknown name.
    """
    raise NotImplementedError("_activation: not implemented yet")


def _activation_grad(z, name):
    """g'(z) elementwise for name in ACTIVATIONS; z: any shape, returns the same shape.

    Hint: relu' is 1.0 where z > 0 else 0.0; sigmoid' = s (1 - s); tanh' = 1 - tanh**2.
    """
    raise NotImplementedError("_activation_grad: not implemented yet")


def _num_layers(params):
    """L, the number of dense layers: the count of keys "W1".."WL" in params."""
    return sum(1 for key in params if key.startswith("W"))


def dense_forward(x, W, b):
    """Fully connected layer, out = x @ W + b.

    x: (N, D), W: (D, M), b: (M,); returns out: (N, M).

    Hint: b broadcasts over the N rows.
    """
    raise NotImplementedError("dense_forward: not implemented yet")


def dense_backward(dout, x, W):
    """Gradients of a dense layer from the upstream gradient dout = dJ/dout.

    dout: (N, M), x: (N, D), W: (D, M); returns (dx, dW, db) with shapes
    (N, D), (D, M), (M,), by the chain rule on out = x @ W + b:
        dx = dout @ W.T,   dW = x.T @ dout,   db = sum of dout over the batch.

    Hint: check each product by its shapes; the batch dimension N is summed away in dW and db.
    """
    raise NotImplementedError("dense_backward: not implemented yet")


def init_params(layer_sizes, sigma=0.01, seed=0):
    """Random initial parameters of an MLP with layer sizes [D, H1, ..., K].

    layer_sizes: sequence of L + 1 ints; returns a dict with, for i = 1..L,
    "Wi": (sizes[i-1], sizes[i]) drawn from N(0, sigma**2) and "bi": (sizes[i],) zeros.
    Draw with rng = np.random.default_rng(seed), one rng.normal call per layer
    in layer order, so the same seed gives the same network.
    Graded: shapes, zero biases, std sigma, seeding, and (weight 0.5) these exact draws.

    Hint: rng.normal(0.0, sigma, size=(fan_in, fan_out)).
    """
    raise NotImplementedError("init_params: not implemented yet")


def mlp_forward(params, x, activation="relu"):
    """Forward pass of the MLP; returns the logits (N, K).

    params: {"W1": (D, H1), "b1": (H1,), ..., "WL": (H_{L-1}, K), "bL": (K,)}, x: (N, D).
    Layers 1..L-1 compute a = g(a @ Wi + bi) with g = `activation` ("relu",
    "sigmoid", "tanh" or "linear"); layer L is dense only (no activation: logits).

    Hint: loop i = 1..L over params[f"W{i}"], params[f"b{i}"].
    """
    raise NotImplementedError("mlp_forward: not implemented yet")


def mlp_loss_and_grads(params, x, y, activation="relu"):
    """Softmax cross-entropy loss of the MLP and its gradient for every parameter.

    params as in mlp_forward, x: (N, D), y: (N, K) one-hot labels; returns
    (loss, grads): loss a float, mean over N of -sum_k y_k log softmax(logits)_k,
    and grads a dict with the keys and shapes of params.

    Back-propagation: dJ/dlogits = (softmax(logits) - y) / N; then, from the
    last layer down, dense_backward gives dWi, dbi and the gradient for the
    layer's input a_{i-1}; through the activation, dz = da * g'(z).

    Numerical stability: compute log-softmax with log-sum-exp (subtract the
    row max), never log(softmax).
    Graded: relu'(0) = 0 in the backward pass, only in the checks that put a
    pre-activation exactly at 0.

    Hint: in the forward pass, keep each layer's input a and pre-activation z;
    the backward pass needs them.
    """
    raise NotImplementedError("mlp_loss_and_grads: not implemented yet")
