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
    ### BEGIN SOLUTION
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    if name == "tanh":
        return np.tanh(z)
    if name == "linear":
        return z
    raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
    ### END SOLUTION


def _activation_grad(z, name):
    """g'(z) elementwise for name in ACTIVATIONS; z: any shape, returns the same shape.

    Hint: relu' is 1.0 where z > 0 else 0.0; sigmoid' = s (1 - s); tanh' = 1 - tanh**2.
    """
    ### BEGIN SOLUTION
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name == "sigmoid":
        s = _activation(z, "sigmoid")
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "linear":
        return np.ones_like(z)
    raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
    ### END SOLUTION


def _num_layers(params):
    """L, the number of dense layers: the count of keys "W1".."WL" in params."""
    return sum(1 for key in params if key.startswith("W"))


def dense_forward(x, W, b):
    """Fully connected layer, out = x @ W + b.

    x: (N, D), W: (D, M), b: (M,); returns out: (N, M).

    Hint: b broadcasts over the N rows.
    """
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=np.float64) @ W + b
    ### END SOLUTION


def dense_backward(dout, x, W):
    """Gradients of a dense layer from the upstream gradient dout = dJ/dout.

    dout: (N, M), x: (N, D), W: (D, M); returns (dx, dW, db) with shapes
    (N, D), (D, M), (M,), by the chain rule on out = x @ W + b:
        dx = dout @ W.T,   dW = x.T @ dout,   db = sum of dout over the batch.

    Hint: check each product by its shapes; the batch dimension N is summed away in dW and db.
    """
    ### BEGIN SOLUTION
    dout = np.asarray(dout, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    return dout @ W.T, x.T @ dout, np.sum(dout, axis=0)
    ### END SOLUTION


def init_params(layer_sizes, sigma=0.01, seed=0):
    """Random initial parameters of an MLP with layer sizes [D, H1, ..., K].

    layer_sizes: sequence of L + 1 ints; returns a dict with, for i = 1..L,
    "Wi": (sizes[i-1], sizes[i]) drawn from N(0, sigma**2) and "bi": (sizes[i],) zeros.
    Draw with rng = np.random.default_rng(seed), one rng.normal call per layer
    in layer order, so the same seed gives the same network.
    Graded: shapes, zero biases, std sigma, seeding, and (weight 0.5) these exact draws.

    Hint: rng.normal(0.0, sigma, size=(fan_in, fan_out)).
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]), start=1):
        params[f"W{i}"] = rng.normal(0.0, sigma, size=(fan_in, fan_out))
        params[f"b{i}"] = np.zeros(fan_out)
    return params
    ### END SOLUTION


def mlp_forward(params, x, activation="relu"):
    """Forward pass of the MLP; returns the logits (N, K).

    params: {"W1": (D, H1), "b1": (H1,), ..., "WL": (H_{L-1}, K), "bL": (K,)}, x: (N, D).
    Layers 1..L-1 compute a = g(a @ Wi + bi) with g = `activation` ("relu",
    "sigmoid", "tanh" or "linear"); layer L is dense only (no activation: logits).

    Hint: loop i = 1..L over params[f"W{i}"], params[f"b{i}"].
    """
    ### BEGIN SOLUTION
    a = np.asarray(x, dtype=np.float64)
    num_layers = _num_layers(params)
    for i in range(1, num_layers + 1):
        z = dense_forward(a, params[f"W{i}"], params[f"b{i}"])
        a = z if i == num_layers else _activation(z, activation)
    return a
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    num_layers = _num_layers(params)

    inputs, pre_acts = [], []
    a = x
    for i in range(1, num_layers + 1):
        inputs.append(a)
        z = dense_forward(a, params[f"W{i}"], params[f"b{i}"])
        pre_acts.append(z)
        a = z if i == num_layers else _activation(z, activation)

    shifted = a - np.max(a, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = float(np.mean(-np.sum(y * log_probs, axis=1)))

    grads = {}
    dz = (np.exp(log_probs) - y) / x.shape[0]
    for i in range(num_layers, 0, -1):
        da, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(dz, inputs[i - 1], params[f"W{i}"])
        if i > 1:
            dz = da * _activation_grad(pre_acts[i - 2], activation)
    return loss, {key: grads[key] for key in params}
    ### END SOLUTION
