"""Crashes in every way a numpy beginner can: the grader must report each clearly and go on."""
import ctypes
import sys

import numpy as np


def sigmoid(z):
    sys.exit("giving up")


def sigmoid_grad(z):
    return sigmoid_grad(z)  # RecursionError


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    return 1.0 - np.tanh(z) ** 2


def relu(z):
    return ctypes.string_at(0)  # segmentation fault


def relu_grad(z):
    raise ValueError("TODO")


def softmax(z, axis=-1):
    return [1, 2, 3]  # not an array
