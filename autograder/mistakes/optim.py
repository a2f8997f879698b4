"""Classic mistakes in optim.py: update rules of SGD, momentum and Adam, and mini-batching."""
import numpy as np

from autograder.mistakes import mistake

# --- sgd_step -------------------------------------------------------------------------------------


@mistake("optim", "sgd_step", "gradient DEscent steps against the gradient: w - lr * dw, not w + lr * dw.")
def sgd_ascent(w, dw, lr):
    return np.asarray(w) + lr * np.asarray(dw)


# --- momentum_step --------------------------------------------------------------------------------

SIGN = ("Keras' velocity points downhill: velocity = momentum * velocity - lr * dw, then w = w + velocity "
        "(mind the signs).")


@mistake("optim", "momentum_step", SIGN)
def momentum_uphill(w, dw, velocity, lr, momentum=0.9):
    velocity = momentum * np.asarray(velocity) + lr * np.asarray(dw)
    return np.asarray(w) + velocity, velocity


@mistake("optim", "momentum_step", SIGN)
def momentum_velocity_sign_flipped(w, dw, velocity, lr, momentum=0.9):
    # w moves the right way, but the velocity returned is the opposite of Keras' convention.
    velocity = momentum * np.asarray(velocity) + lr * np.asarray(dw)
    return np.asarray(w) - velocity, velocity


@mistake("optim", "momentum_step", "this is the exponential-average form of momentum (v = beta v + (1 - beta) dw, "
         "w -= lr v); the contract uses Keras': velocity = momentum * velocity - lr * dw, w = w + velocity.")
def momentum_ema_form(w, dw, velocity, lr, momentum=0.9):
    velocity = momentum * np.asarray(velocity) + (1 - momentum) * np.asarray(dw)
    return np.asarray(w) - lr * velocity, velocity


@mistake("optim", "momentum_step", "update the velocity first, then move w by the NEW velocity.")
def momentum_old_velocity(w, dw, velocity, lr, momentum=0.9):
    new_velocity = momentum * np.asarray(velocity) - lr * np.asarray(dw)
    return np.asarray(w) + np.asarray(velocity), new_velocity


# --- adam_step ------------------------------------------------------------------------------------


def _adam(w, dw, m, v, t, lr, beta1, beta2, eps, *, t_m=None, t_v=None, eps_in_sqrt=False, swap_beta1=False,
          v_unsquared=False, eps_hat=False):
    """Adam as mistaken code computes it; t_m, t_v: the step used in each bias correction (None: none)."""
    w, dw, m, v = (np.asarray(a, dtype=np.float64) for a in (w, dw, m, v))
    m = (1 - beta1) * m + beta1 * dw if swap_beta1 else beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * (dw if v_unsquared else dw * dw)
    if eps_hat:  # Kingma & Ba's section 2 form (Keras' code): the correction folded into the step size
        lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        return w - lr_t * m / (np.sqrt(v) + eps), m, v
    m_hat = m / (1 - beta1**t_m) if t_m is not None else m
    v_hat = v / (1 - beta2**t_v) if t_v is not None else v
    denom = np.sqrt(v_hat + eps) if eps_in_sqrt else np.sqrt(v_hat) + eps
    return w - lr * m_hat / denom, m, v


@mistake("optim", "adam_step", "Adam needs the bias correction m_hat = m / (1 - beta1**t), v_hat = v / "
         "(1 - beta2**t): m and v start at 0, so without it the first steps are wrong.")
def adam_no_bias_correction(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    return _adam(w, dw, m, v, t, lr, beta1, beta2, eps)


@mistake("optim", "adam_step", "bias-correct BOTH moments: m_hat = m / (1 - beta1**t) and v_hat = v / "
         "(1 - beta2**t).")
def adam_only_m_corrected(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    return _adam(w, dw, m, v, t, lr, beta1, beta2, eps, t_m=t)


@mistake("optim", "adam_step", "eps goes outside the square root: w - lr * m_hat / (sqrt(v_hat) + eps), not "
         "sqrt(v_hat + eps).")
def adam_eps_inside_sqrt(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    return _adam(w, dw, m, v, t, lr, beta1, beta2, eps, t_m=t, t_v=t, eps_in_sqrt=True)


@mistake("optim", "adam_step", "the bias correction uses the step t itself (t starts at 1): 1 - beta**t, "
         "not 1 - beta**(t - 1).")
def adam_correction_t_minus_1(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    return _adam(w, dw, m, v, t, lr, beta1, beta2, eps, t_m=t - 1, t_v=t - 1)


@mistake("optim", "adam_step", "the bias correction uses the step t as given (the first step is t = 1): "
         "1 - beta**t, not 1 - beta**(t + 1).")
def adam_correction_t_plus_1(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    return _adam(w, dw, m, v, t, lr, beta1, beta2, eps, t_m=t + 1, t_v=t + 1)


@mistake("optim", "adam_step", "the bias correction depends on the step number: m_hat = m / (1 - beta1**t), "
         "v_hat = v / (1 - beta2**t) with the t passed in; you divided by 1 - beta1 and 1 - beta2 (t = 1) at every step.")
def adam_no_step_counter(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    return _adam(w, dw, m, v, t, lr, beta1, beta2, eps, t_m=1, t_v=1)


@mistake("optim", "adam_step", "the moving averages keep beta of the OLD value: m = beta1 * m + (1 - beta1) * dw.")
def adam_betas_swapped(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    return _adam(w, dw, m, v, t, lr, beta1, beta2, eps, t_m=t, t_v=t, swap_beta1=True)


@mistake("optim", "adam_step", "the second moment averages the SQUARED gradient: v = beta2 * v + (1 - beta2) * dw**2.")
def adam_v_unsquared(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    return _adam(w, dw, m, v, t, lr, beta1, beta2, eps, t_m=t, t_v=t, v_unsquared=True)


@mistake("optim", "adam_step", "add eps to sqrt(v_hat) of the bias-corrected v, as in Algorithm 1; folding the "
         "correction into the learning rate (Keras' internal form) puts eps elsewhere and differs for tiny gradients.")
def adam_eps_hat(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    return _adam(w, dw, m, v, t, lr, beta1, beta2, eps, eps_hat=True)


# --- minibatches ----------------------------------------------------------------------------------


def _cut(order, batch_size):
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@mistake("optim", "minibatches", "shuffle: the batches cut np.random.default_rng(seed).permutation(n), not "
         "range(n) in order.")
def batches_not_shuffled(n, batch_size, seed=0):
    return _cut(np.arange(n), batch_size)


@mistake("optim", "minibatches", "keep the last, shorter batch: every sample is visited once per epoch, "
         "so the last batch holds the n % batch_size remaining indices.")
def last_batch_dropped(n, batch_size, seed=0):
    order = np.random.default_rng(seed).permutation(n)
    return [order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


@mistake("optim", "minibatches", "no empty batch: when batch_size divides n there are exactly n // batch_size "
         "batches (loop with range(0, n, batch_size)).")
def empty_last_batch(n, batch_size, seed=0):
    order = np.random.default_rng(seed).permutation(n)
    return [order[i : i + batch_size] for i in range(0, n + 1, batch_size)]


SPLIT = ("cut consecutive pieces of exactly batch_size (only the last is shorter); np.array_split balances "
         "the sizes instead.")


@mistake("optim", "minibatches", SPLIT)
def batches_array_split_ceil(n, batch_size, seed=0):
    order = np.random.default_rng(seed).permutation(n)
    return list(np.array_split(order, max(1, -(-n // batch_size))))


@mistake("optim", "minibatches", SPLIT)
def batches_array_split_floor(n, batch_size, seed=0):
    order = np.random.default_rng(seed).permutation(n)
    return list(np.array_split(order, max(1, n // batch_size)))


@mistake("optim", "minibatches", "use np.random.default_rng(seed).permutation(n); the legacy np.random.seed / "
         "np.random.permutation give another order for the same seed.")
def batches_legacy_rng(n, batch_size, seed=0):
    return _cut(np.random.RandomState(seed).permutation(n), batch_size)


@mistake("optim", "minibatches", "a permutation holds every index exactly once: rng.choice(n, n) samples with "
         "replacement; use rng.permutation(n).")
def batches_with_replacement(n, batch_size, seed=0):
    return _cut(np.random.default_rng(seed).choice(n, size=n), batch_size)

