"""The exercise contract's signatures (../shared/spec/exercise-api.md) as data: one source of truth for tests and grader."""
from __future__ import annotations

import inspect
from types import ModuleType

from autograder.course.config import KERAS_EXERCISES

# module -> function -> signature, written as str(inspect.signature(f)) prints it.
CONTRACT: dict[str, dict[str, str]] = {
    "activations": {
        "sigmoid": "(z)",
        "sigmoid_grad": "(z)",
        "tanh": "(z)",
        "tanh_grad": "(z)",
        "relu": "(z)",
        "relu_grad": "(z)",
        "softmax": "(z, axis=-1)",
    },
    "perceptron": {
        "weighted_sum": "(x, w, b)",
        "perceptron_forward": "(x, w, b, activation='sigmoid')",
        "perceptron_predict": "(x, w, b)",
        "perceptron_train": "(x, y, lr=1.0, epochs=100)",
    },
    "losses": {
        "mse": "(y_pred, y_true)",
        "mse_grad": "(y_pred, y_true)",
        "binary_cross_entropy": "(p, y)",
        "sigmoid_cross_entropy_with_logits": "(z, y)",
        "sigmoid_cross_entropy_grad": "(z, y)",
        "softmax_cross_entropy_with_logits": "(logits, y)",
        "softmax_cross_entropy_grad": "(logits, y)",
    },
    "backprop": {
        "dense_forward": "(x, W, b)",
        "dense_backward": "(dout, x, W)",
        "init_params": "(layer_sizes, sigma=0.01, seed=0)",
        "mlp_forward": "(params, x, activation='relu')",
        "mlp_loss_and_grads": "(params, x, y, activation='relu')",
    },
    "optim": {
        "sgd_step": "(w, dw, lr)",
        "momentum_step": "(w, dw, velocity, lr, momentum=0.9)",
        "adam_step": "(w, dw, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-07)",
        "minibatches": "(n, batch_size, seed=0)",
        "train_mlp": "(x, y, hidden=64, epochs=20, batch_size=32, lr=0.01, optimizer='adam', seed=0)",
    },
    "regularization": {
        "dropout_forward": "(x, rate, training=True, seed=0, mask=None)",
        "dropout_backward": "(dout, mask, rate)",
        "l2_penalty": "(params, lam)",
        "l2_penalty_grad": "(params, lam)",
        "l1_penalty": "(params, lam)",
        "l1_penalty_grad": "(params, lam)",
        "early_stopping": "(val_losses, patience, min_delta=0.0)",
    },
    "conv": {
        "conv2d_forward": "(x, w, b, stride=1, padding='valid')",
        "conv2d_backward": "(dout, x, w, stride=1, padding='valid')",
        "maxpool_forward": "(x, pool_size=2, stride=2)",
        "maxpool_backward": "(dout, x, pool_size=2, stride=2)",
    },
    "augment": {
        "flip_left_right": "(x)",
        "translate": "(x, shifts)",
        "random_flip": "(x, p=0.5, seed=0)",
        "random_translate": "(x, max_shift, seed=0)",
        "augment": "(x, y=None, seed=0, p=0.5, max_shift=2)",
    },
    "tuning": {
        "train_val_split": "(n, val_fraction, seed=0)",
        "kfold_indices": "(n, k, seed=0)",
        "param_grid": "(space)",
        "random_search_space": "(space, n_iter, seed=0)",
        "select_best": "(scores, mode='max')",
        "tune_mlp": "(x, y, space, k=3, seed=0)",
    },
    "cnn": {
        "build_model": "(input_shape=(28, 28, 1), num_classes=10)",
        "train": "(model, x_train, y_train, x_val, y_val)",
    },
    "transfer": {
        "build_transfer_model": "(base_model, num_classes=5)",
        "fine_tune": "(model, x_small, y_small, x_val, y_val)",
    },
}

# Module-level names other than functions that the contract requires.
CONSTANTS: dict[str, tuple[str, ...]] = {"cnn": ("OUTPUT_LOGITS",)}

# The numpy exercises (the Keras ones are listed in config.KERAS_EXERCISES).
NUMPY_EXERCISES: tuple[str, ...] = tuple(name for name in CONTRACT if name not in KERAS_EXERCISES)


def expected_signature(module: str, function: str) -> inspect.Signature:
    """The contract's signature of module.function as an inspect.Signature (no annotations)."""
    text = CONTRACT[module][function]
    return inspect.signature(eval(f"lambda {text[1:-1]}: None"))  # noqa: S307 - our own constant text


def signature_problem(func, module: str, function: str) -> str | None:
    """Why func's parameters differ from the contract's (names, kinds, defaults), or None if they match.

    Annotations are ignored; extra keyword parameters with defaults are allowed
    after the contract's ones, as the contract permits extending it.
    """
    expected = list(expected_signature(module, function).parameters.values())
    try:
        actual = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError) as exc:
        return f"{function}: no inspectable signature ({exc})"
    want = CONTRACT[module][function]
    for i, exp in enumerate(expected):
        if i >= len(actual):
            return f"{function}: missing parameter {exp.name!r}; expected {function}{want}"
        act = actual[i]
        if act.name != exp.name or act.kind != exp.kind:
            return f"{function}: parameter {i + 1} is {act.name!r}, expected {exp.name!r}; expected {function}{want}"
        if exp.default is not inspect.Parameter.empty and not _same_default(act.default, exp.default):
            return f"{function}: default of {exp.name!r} is {act.default!r}, expected {exp.default!r}"
        if exp.default is inspect.Parameter.empty and act.default is not inspect.Parameter.empty:
            return f"{function}: parameter {exp.name!r} has a default; the contract has none"
    for extra in actual[len(expected):]:
        if extra.default is inspect.Parameter.empty and extra.kind not in (extra.VAR_POSITIONAL, extra.VAR_KEYWORD):
            return f"{function}: extra parameter {extra.name!r} needs a default"
    return None


def contract_problems(module: ModuleType, name: str) -> list[str]:
    """Everything the loaded exercise module `name` lacks or gets wrong against the contract."""
    problems = []
    for function in CONTRACT[name]:
        func = getattr(module, function, None)
        if not callable(func):
            problems.append(f"{function}: not defined")
            continue
        problem = signature_problem(func, name, function)
        if problem:
            problems.append(problem)
    for constant in CONSTANTS.get(name, ()):
        if not hasattr(module, constant):
            problems.append(f"{constant}: not defined")
    return problems


def _same_default(actual, expected) -> bool:
    """Defaults match by value (1 and 1.0 alike), but a bool never stands in for a number."""
    return isinstance(actual, bool) == isinstance(expected, bool) and actual == expected
