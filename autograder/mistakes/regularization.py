"""Classic mistakes in regularization.py."""
import numpy as np

from autograder.mistakes import mistake
from dlref import regularization as ref


def _mask(x, rate, seed, mask):
    """The keep-mask the mistaken code works with: the given one, else the docstring's seeded draw."""
    x = np.asarray(x, dtype=np.float64)
    if mask is not None:
        return np.asarray(mask).astype(bool)
    return np.random.default_rng(seed).random(x.shape) >= rate


# ---- dropout_forward -------------------------------------------------------------------------


@mistake("regularization", "dropout_forward",
         "inverted dropout scales the kept values by 1 / (1 - rate) during training: out = x * mask / (1 - rate), "
         "so the expected output equals x and evaluation needs no rescaling.")
def dropout_not_inverted(x, rate, training=True, seed=0, mask=None):
    if not training:
        return ref.dropout_forward(x, rate, training=False)
    m = _mask(x, rate, seed, mask)
    return np.asarray(x, dtype=np.float64) * m, m


@mistake("regularization", "dropout_forward",
         "divide the kept values by the keep probability 1 - rate, not by rate.")
def dropout_divides_by_rate(x, rate, training=True, seed=0, mask=None):
    if not training:
        return ref.dropout_forward(x, rate, training=False)
    m = _mask(x, rate, seed, mask)
    return np.asarray(x, dtype=np.float64) * m / rate, m


@mistake("regularization", "dropout_forward",
         "with training=False dropout is the identity: return x unchanged and an all-True mask, without dropping.")
def dropout_drops_in_eval(x, rate, training=True, seed=0, mask=None):
    m = _mask(x, rate, seed, mask)
    return np.asarray(x, dtype=np.float64) * m / (1.0 - rate), m


@mistake("regularization", "dropout_forward",
         "with inverted dropout nothing is scaled at evaluation: training=False returns x itself "
         "(the 1 / (1 - rate) scaling already happened during training).")
def dropout_scales_in_eval(x, rate, training=True, seed=0, mask=None):
    if training:
        return ref.dropout_forward(x, rate, training=True, seed=seed, mask=mask)
    x = np.asarray(x, dtype=np.float64)
    return x * (1.0 - rate), np.ones(x.shape, dtype=bool)


@mistake("regularization", "dropout_forward",
         "with inverted dropout nothing is scaled at evaluation: training=False returns x itself, not x / (1 - rate).")
def dropout_inverse_scales_in_eval(x, rate, training=True, seed=0, mask=None):
    if training:
        return ref.dropout_forward(x, rate, training=True, seed=seed, mask=mask)
    x = np.asarray(x, dtype=np.float64)
    return x / (1.0 - rate), np.ones(x.shape, dtype=bool)


@mistake("regularization", "dropout_forward",
         "when a mask is given, use it as is (a layer reuses its mask in the backward pass); draw a new one only "
         "when mask is None.")
def dropout_ignores_given_mask(x, rate, training=True, seed=0, mask=None):
    return ref.dropout_forward(x, rate, training=training, seed=seed)


# ---- dropout_backward ------------------------------------------------------------------------


@mistake("regularization", "dropout_backward",
         "the forward pass scaled the kept values by 1 / (1 - rate); the backward pass must scale dout by the same "
         "factor: dout * mask / (1 - rate).")
def dropout_backward_unscaled(dout, mask, rate):
    return np.asarray(dout, dtype=np.float64) * np.asarray(mask).astype(bool)


@mistake("regularization", "dropout_backward", "divide by the keep probability 1 - rate, not by rate.")
def dropout_backward_divides_by_rate(dout, mask, rate):
    return np.asarray(dout, dtype=np.float64) * np.asarray(mask).astype(bool) / rate


@mistake("regularization", "dropout_backward",
         "dropped values get no gradient: multiply dout by the mask as well as by 1 / (1 - rate).")
def dropout_backward_ignores_mask(dout, mask, rate):
    return np.asarray(dout, dtype=np.float64) / (1.0 - rate)


# ---- penalties -------------------------------------------------------------------------------

BIAS_HINT = 'penalize only the weights (keys starting with "W"); biases are not regularized.'
BIAS_GRAD_HINT = 'biases are not regularized: their gradient is zeros (only keys starting with "W" get one).'
ALL_KEYS_HINT = "return a gradient for every key of params, with zeros for the biases, not only for the weights."


def _all_as_weights(params):
    """The same params with every key renamed as a weight, so the reference penalizes everything."""
    return {f"W{i}": np.asarray(v, dtype=np.float64) for i, v in enumerate(params.values())}


@mistake("regularization", "l2_penalty", BIAS_HINT)
def l2_includes_biases(params, lam):
    return ref.l2_penalty(_all_as_weights(params), lam)


@mistake("regularization", "l2_penalty",
         "keras.regularizers.L2(lam) is lam * sum(W**2), without a factor 1/2.")
def l2_half(params, lam):
    return 0.5 * ref.l2_penalty(params, lam)


@mistake("regularization", "l2_penalty", "sum the squared weights (np.sum), do not average them (np.mean).")
def l2_mean(params, lam):
    return float(lam * sum(np.mean(np.square(v)) for k, v in params.items() if k.startswith("W")))


@mistake("regularization", "l2_penalty", "the L2 penalty uses the squared weights, lam * sum(W**2), not the norm.")
def l2_norm(params, lam):
    return float(lam * sum(np.sqrt(np.sum(np.square(v))) for k, v in params.items() if k.startswith("W")))


@mistake("regularization", "l2_penalty_grad", "the derivative of lam * w**2 is 2 * lam * w: you left out the 2.")
def l2_grad_missing_two(params, lam):
    return {k: 0.5 * g for k, g in ref.l2_penalty_grad(params, lam).items()}


@mistake("regularization", "l2_penalty_grad", BIAS_GRAD_HINT)
def l2_grad_includes_biases(params, lam):
    return {k: 2.0 * lam * np.asarray(v, dtype=np.float64) for k, v in params.items()}


@mistake("regularization", "l2_penalty_grad", ALL_KEYS_HINT)
def l2_grad_weights_only(params, lam):
    return {k: g for k, g in ref.l2_penalty_grad(params, lam).items() if k.startswith("W")}


@mistake("regularization", "l1_penalty", BIAS_HINT)
def l1_includes_biases(params, lam):
    return ref.l1_penalty(_all_as_weights(params), lam)


@mistake("regularization", "l1_penalty", "sum the absolute weights (np.sum), do not average them (np.mean).")
def l1_mean(params, lam):
    return float(lam * sum(np.mean(np.abs(v)) for k, v in params.items() if k.startswith("W")))


@mistake("regularization", "l1_penalty", "L1 takes absolute values: lam * sum(abs(W)); negative weights count too.")
def l1_no_abs(params, lam):
    return float(lam * sum(np.sum(v) for k, v in params.items() if k.startswith("W")))


@mistake("regularization", "l1_penalty_grad",
         "|w| has no derivative at 0; use 0 there, as np.sign does (w >= 0 gives 1 at w == 0).")
def l1_grad_one_at_zero(params, lam):
    return {k: lam * np.where(np.asarray(v) >= 0, 1.0, -1.0) if k.startswith("W") else np.zeros(np.shape(v))
            for k, v in params.items()}


@mistake("regularization", "l1_penalty_grad", BIAS_GRAD_HINT)
def l1_grad_includes_biases(params, lam):
    return {k: lam * np.sign(np.asarray(v, dtype=np.float64)) for k, v in params.items()}


@mistake("regularization", "l1_penalty_grad",
         "the derivative of lam * |w| is lam * sign(w) (+lam or -lam), not proportional to w (that is L2).")
def l1_grad_like_l2(params, lam):
    return {k: lam * np.asarray(v, dtype=np.float64) if k.startswith("W") else np.zeros(np.shape(v))
            for k, v in params.items()}


@mistake("regularization", "l1_penalty_grad", ALL_KEYS_HINT)
def l1_grad_weights_only(params, lam):
    return {k: g for k, g in ref.l1_penalty_grad(params, lam).items() if k.startswith("W")}


# ---- early_stopping --------------------------------------------------------------------------


def _replay(val_losses, patience, min_delta, improves=None, stops=None):
    """EarlyStopping's loop with a pluggable improvement test and stopping rule: (stop_epoch, best_epoch)."""
    improves = improves or (lambda loss, best, delta: loss + delta < best)
    stops = stops or (lambda wait, patience: wait >= patience)
    delta = abs(float(min_delta))
    best, best_epoch, wait = None, 0, 0
    for epoch, loss in enumerate(float(v) for v in val_losses):
        if best is None or improves(loss, best, delta):
            best, best_epoch, wait = loss, epoch, 0
            continue
        wait += 1
        if stops(wait, patience):
            return epoch, best_epoch
    return len(val_losses) - 1, best_epoch


@mistake("regularization", "early_stopping",
         "stop at the epoch where the wait reaches patience (wait >= patience): you stop one epoch too late.")
def early_stopping_one_late(val_losses, patience, min_delta=0.0):
    return _replay(val_losses, patience, min_delta, stops=lambda wait, p: wait > p)


@mistake("regularization", "early_stopping",
         "count only the epochs without improvement since the best one (the best epoch itself does not count): "
         "you stop one epoch too early.")
def early_stopping_one_early(val_losses, patience, min_delta=0.0):
    return _replay(val_losses, patience, min_delta, stops=lambda wait, p: wait >= p - 1)


# On the 1/8 grid with min_delta = 1/8, loss + 1/8 <= best and loss < best are the same test: where
# "ignores min_delta" and "ties improve" give the same answer, min_delta is the likelier culprit.
@mistake("regularization", "early_stopping",
         "an epoch improves only when its loss is below the best by more than min_delta: "
         "compare loss + min_delta < best.", covers=("early_stopping_ties_improve",))
def early_stopping_ignores_min_delta(val_losses, patience, min_delta=0.0):
    return _replay(val_losses, patience, 0.0)


@mistake("regularization", "early_stopping",
         "an improvement must beat the best by more than min_delta: loss + min_delta < best, not loss - min_delta.")
def early_stopping_min_delta_wrong_sign(val_losses, patience, min_delta=0.0):
    return _replay(val_losses, patience, min_delta, improves=lambda loss, best, d: loss - d < best)


@mistake("regularization", "early_stopping",
         "a loss equal to the best is not an improvement: compare loss + min_delta < best (strictly), as Keras does.")
def early_stopping_ties_improve(val_losses, patience, min_delta=0.0):
    return _replay(val_losses, patience, min_delta, improves=lambda loss, best, d: loss + d <= best)


@mistake("regularization", "early_stopping",
         "best_epoch is the last epoch that counted as an improvement (by more than min_delta) before stopping, "
         "not simply the epoch with the lowest loss.")
def early_stopping_best_is_argmin_run(val_losses, patience, min_delta=0.0):
    stop, _ = ref.early_stopping(val_losses, patience, min_delta)
    return stop, int(np.argmin(np.asarray(val_losses, dtype=np.float64)[: stop + 1]))


@mistake("regularization", "early_stopping",
         "best_epoch must be one of the epochs actually run (up to stop_epoch): "
         "the epochs after stopping never happen.")
def early_stopping_best_is_argmin_all(val_losses, patience, min_delta=0.0):
    stop, _ = ref.early_stopping(val_losses, patience, min_delta)
    return stop, int(np.argmin(np.asarray(val_losses, dtype=np.float64)))


@mistake("regularization", "early_stopping",
         "best_epoch is the first epoch reaching the best loss: "
         "a later epoch with the same loss is not an improvement.")
def early_stopping_best_is_last_tie(val_losses, patience, min_delta=0.0):
    stop, best = ref.early_stopping(val_losses, patience, min_delta)
    run = np.asarray(val_losses, dtype=np.float64)[: stop + 1]
    ties = np.flatnonzero(run == run[best])
    return stop, int(ties[-1])


@mistake("regularization", "early_stopping", "epochs are 0-based: the first epoch is epoch 0.")
def early_stopping_one_based(val_losses, patience, min_delta=0.0):
    stop, best = ref.early_stopping(val_losses, patience, min_delta)
    return stop + 1, best + 1


@mistake("regularization", "early_stopping",
         "when training never stops, stop_epoch is the last epoch run, len(val_losses) - 1.")
def early_stopping_never_stops_len(val_losses, patience, min_delta=0.0):
    stop, best = ref.early_stopping(val_losses, patience, min_delta)
    return (len(val_losses) if stop == len(val_losses) - 1 else stop), best
