"""Classic mistakes in backprop.py: dense layer gradients, the MLP forward pass and back-propagation."""
import numpy as np

from autograder.mistakes import mistake
from dlref import activations
from dlref import backprop as ref
from dlref.backprop import ACTIVATIONS, dense_backward, dense_forward

# --- dense_backward ---------------------------------------------------------


@mistake("backprop", "dense_backward", "db is the SUM of dout over the batch (axis 0), not the mean: "
         "the 1/N of the loss is already inside dout.")
def db_averaged(dout, x, W):
    dx, dW, db = dense_backward(dout, x, W)
    return dx, dW, db / np.shape(dout)[0]


@mistake("backprop", "dense_backward", "dense_backward must not divide by N: the 1/N of the mean loss is "
         "already inside dout, so dW = x.T @ dout and db = dout.sum(axis=0).")
def grads_divided_by_n(dout, x, W):
    dx, dW, db = dense_backward(dout, x, W)
    n = np.shape(dout)[0]
    return dx, dW / n, db / n


@mistake("backprop", "dense_backward", "dW is x.T @ dout, of W's shape (D, M); you computed its transpose "
         "dout.T @ x. Check each product by its shapes.")
def dW_transposed(dout, x, W):
    dx, dW, db = dense_backward(dout, x, W)
    return dx, dW.T, db


@mistake("backprop", "dense_backward", "dx is dout @ W.T (shape (N, D)): you multiplied by W instead of "
         "its transpose.")
def dx_without_transpose(dout, x, W):
    _, dW, db = dense_backward(dout, x, W)
    return np.asarray(dout) @ np.asarray(W), dW, db


@mistake("backprop", "dense_backward", "db sums dout over the batch axis (axis=0), giving shape (M,); you "
         "summed over the wrong axis.")
def db_wrong_axis(dout, x, W):
    dx, dW, _ = dense_backward(dout, x, W)
    return dx, dW, np.sum(dout, axis=1)


# --- the MLP: one configurable forward/backward to re-create each mistake ----------------------------


def _mlp(params, x, y, activation, *, act_last=False, act_last_backward=True, derivative="pre",
         relu_zero=0.0, loss_sum=False, grad_scale_n=True, log_softmax="stable"):
    """(loss, grads) of the MLP as mistaken code computes them (defaults: the correct computation)."""
    g, g_grad = activations.get(activation, ACTIVATIONS)
    if activation == "relu" and relu_zero:
        g_grad = lambda z: (np.asarray(z) >= 0).astype(np.float64)  # noqa: E731 - relu'(0) = 1
    L = sum(1 for k in params if k.startswith("W"))
    a = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    inputs, pre, post = [], [], []
    for i in range(1, L + 1):
        inputs.append(a)
        z = dense_forward(a, params[f"W{i}"], params[f"b{i}"])
        pre.append(z)
        a = g(z) if (i < L or act_last) else z
        post.append(a)
    logits = a
    n = logits.shape[0]
    if log_softmax == "log-of-softmax":  # log(exp(z) / sum exp(z)) without the max shift
        e = np.exp(logits)
        probs = e / np.sum(e, axis=1, keepdims=True)
        log_sm = np.log(probs)
    else:
        shift = np.max(logits, axis=1, keepdims=True) if log_softmax == "stable" else 0.0
        shifted = logits - shift
        log_sm = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        probs = np.exp(log_sm)
    per_sample = -np.sum(y * log_sm, axis=1)
    loss = float(np.sum(per_sample) if loss_sum else np.mean(per_sample))
    d = (probs - y) / (n if grad_scale_n else 1)
    if act_last and act_last_backward:
        d = d * g_grad(pre[L - 1])
    grads = {}
    for i in range(L, 0, -1):
        d, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(d, inputs[i - 1], params[f"W{i}"])
        if i > 1:
            if derivative == "pre":
                d = d * g_grad(pre[i - 2])
            elif derivative == "post":
                d = d * g_grad(post[i - 2])
    return loss, {k: grads[k] for k in params}


def _logits(params, x, activation, *, act_last=False):
    g, _ = activations.get(activation, ACTIVATIONS)
    L = sum(1 for k in params if k.startswith("W"))
    a = np.asarray(x, dtype=np.float64)
    for i in range(1, L + 1):
        z = dense_forward(a, params[f"W{i}"], params[f"b{i}"])
        a = g(z) if (i < L or act_last) else z
    return a


LAST_LAYER = ("the last layer gives the logits: apply the activation to every layer but the last, "
              "which is dense only (softmax is inside the loss).")


@mistake("backprop", "mlp_forward", LAST_LAYER)
def forward_activation_on_last_layer(params, x, activation="relu"):
    return _logits(params, x, activation, act_last=True)


@mistake("backprop", "mlp_forward", "use the `activation` argument for the hidden layers; you always "
         "applied relu.")
def forward_always_relu(params, x, activation="relu"):
    return _logits(params, x, "relu")


@mistake("backprop", "mlp_loss_and_grads", LAST_LAYER)
def activation_on_last_layer(params, x, y, activation="relu"):
    return _mlp(params, x, y, activation, act_last=True)


@mistake("backprop", "mlp_loss_and_grads", LAST_LAYER)
def activation_on_last_layer_forward_only(params, x, y, activation="relu"):
    return _mlp(params, x, y, activation, act_last=True, act_last_backward=False)


@mistake("backprop", "mlp_loss_and_grads", "multiply by the activation's derivative on the way back: "
         "dz = da * g'(z) for every hidden layer.")
def missing_activation_derivative(params, x, y, activation="relu"):
    return _mlp(params, x, y, activation, derivative="none")


@mistake("backprop", "mlp_loss_and_grads", "the derivative g'(z) takes the PRE-activation z = a @ W + b that "
         "you kept from the forward pass, not the activation's output g(z).")
def derivative_of_post_activation(params, x, y, activation="relu"):
    return _mlp(params, x, y, activation, derivative="post")


@mistake("backprop", "mlp_loss_and_grads", "relu'(0) must be 0 (as TensorFlow and PyTorch): use z > 0, "
         "not z >= 0, in the backward pass.")
def relu_grad_one_at_zero(params, x, y, activation="relu"):
    return _mlp(params, x, y, activation, relu_zero=1.0)


@mistake("backprop", "mlp_loss_and_grads", "the loss is the MEAN over the N samples of the cross-entropy, "
         "not the sum.")
def loss_summed(params, x, y, activation="relu"):
    return _mlp(params, x, y, activation, loss_sum=True)


@mistake("backprop", "mlp_loss_and_grads", "the loss is a mean over N samples, so dJ/dlogits = "
         "(softmax(logits) - y) / N: divide by N once, at the top of the backward pass.")
def grads_not_divided_by_n(params, x, y, activation="relu"):
    return _mlp(params, x, y, activation, grad_scale_n=False)


NO_SHIFT = ("subtract the row max from the logits before exp (log-sum-exp), and never take log(softmax): "
            "large logits overflow to inf and nan.")


@mistake("backprop", "mlp_loss_and_grads", NO_SHIFT)
def log_sum_exp_without_max_shift(params, x, y, activation="relu"):
    return _mlp(params, x, y, activation, log_softmax="unshifted")


@mistake("backprop", "mlp_loss_and_grads", NO_SHIFT)
def log_of_unshifted_softmax(params, x, y, activation="relu"):
    return _mlp(params, x, y, activation, log_softmax="log-of-softmax")


# --- init_params ------------------------------------------------------------------------------------


@mistake("backprop", "init_params", "rng.normal(loc, scale) takes the standard deviation: draw with scale "
         "sigma, not sigma**2.")
def init_variance_as_scale(layer_sizes, sigma=0.01, seed=0):
    return ref.init_params(layer_sizes, sigma=sigma**2, seed=seed)


@mistake("backprop", "init_params", "draw with rng = np.random.default_rng(seed) and rng.normal, not the "
         "legacy np.random.seed / np.random.randn: they give other numbers for the same seed.")
def init_legacy_rng(layer_sizes, sigma=0.01, seed=0):
    rng = np.random.RandomState(seed)
    params = {}
    for i in range(len(layer_sizes) - 1):
        params[f"W{i + 1}"] = rng.randn(layer_sizes[i], layer_sizes[i + 1]) * sigma
        params[f"b{i + 1}"] = np.zeros(layer_sizes[i + 1])
    return params
