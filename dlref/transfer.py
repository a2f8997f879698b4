"""Transfer learning on Fashion-MNIST (reference): a base CNN trained on classes 0-4, reused for 5-9.

The source task: classes 0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat), the whole training
split. The target task: classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), relabelled 0-4,
with IMAGES_PER_CLASS training images and VAL_PER_CLASS validation images per class, drawn once
with a fixed seed from the training split; scored on the test split's classes 5-9.
Only the `keras` API is used, so any Keras 3 backend runs it.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers

from dlref.transfer_data import (IMAGES_PER_CLASS, SOURCE_CLASSES, SUBSET_SEED, TARGET_CLASSES,  # noqa: F401
                                  VAL_PER_CLASS, few_shot, source_split, target_test)

NUM_CLASSES = 5
BASE_SEED = 0
BASE_EPOCHS = 3
BASE_BATCH = 128
# The base's layers, in order; FEATURES is the last layer of the feature extractor (its output
# is what a new head reads), CLASSIFIER the source task's head that a transfer model drops.
CONV_LAYERS = ("base_conv1", "base_conv2")
FEATURES = "base_flatten"
CLASSIFIER = "base_logits"
# The grader's from-scratch comparison: every layer trainable, fresh weights, this recipe.
SCRATCH_EPOCHS = 40
SCRATCH_LEARNING_RATE = 1e-3
# The reference's fine_tune: the head alone, then the top convolution at a small learning rate.
HEAD_EPOCHS = 30
HEAD_LEARNING_RATE = 3e-3
TUNE_EPOCHS = 10
TUNE_LEARNING_RATE = 1e-4
BATCH_SIZE = 32


def base_model(seed: int | None = BASE_SEED) -> keras.Model:
    """The source-task CNN, untrained: (N, 28, 28, 1) -> (N, 5) logits, 34,501 parameters."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    t = layers.Conv2D(32, 3, padding="same", activation="relu", name=CONV_LAYERS[0])(inputs)
    t = layers.MaxPooling2D(2, name="base_pool1")(t)
    t = layers.Conv2D(64, 3, padding="same", activation="relu", name=CONV_LAYERS[1])(t)
    t = layers.MaxPooling2D(2, name="base_pool2")(t)
    t = layers.Flatten(name=FEATURES)(t)
    outputs = layers.Dense(len(SOURCE_CLASSES), name=CLASSIFIER)(t)
    return keras.Model(inputs, outputs, name="source_cnn")


def _images(x) -> np.ndarray:
    """uint8 (N, 28, 28) or floats (N, 28, 28[, 1]) -> float32 (N, 28, 28, 1) in [0, 1]."""
    x = np.asarray(x)
    x = x.astype(np.float32) / np.float32(255.0) if x.dtype == np.uint8 else x.astype(np.float32)
    return x[..., np.newaxis] if x.ndim == 3 else x


def train_base(model: keras.Model, x, y, epochs: int = BASE_EPOCHS, seed: int = BASE_SEED):
    """Fit the base on source images x (N, 28, 28) uint8, labels y (N,) in 0..4; returns the History."""
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model.fit(_images(x), np.asarray(y, dtype=np.int32), epochs=epochs, batch_size=BASE_BATCH, verbose=0)


def feature_extractor(base: keras.Model) -> keras.Model:
    """The base up to its features: (N, 28, 28, 1) -> (N, 3136), the base's own layers (shared)."""
    return keras.Model(base.input, base.get_layer(FEATURES).output, name="features")  # one input, not a list


def build_transfer_model(base: keras.Model, num_classes: int = NUM_CLASSES) -> keras.Model:
    """The base's layers up to its features, frozen, and a new Dense(num_classes) head (logits)."""
    for layer in base.layers:
        layer.trainable = False
    features = base.get_layer(FEATURES).output
    outputs = layers.Dense(num_classes, name="target_logits")(features)
    return keras.Model(base.inputs, outputs, name="transfer")


def _fit(model, x, y, x_val, y_val, epochs, learning_rate, seed):
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    restore = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=epochs,
                                            restore_best_weights=True)
    return model.fit(_images(x), np.asarray(y, dtype=np.int32), validation_data=(_images(x_val), np.asarray(
        y_val, dtype=np.int32)), epochs=epochs, batch_size=BATCH_SIZE, callbacks=[restore], verbose=0)


def fine_tune(model: keras.Model, x_small, y_small, x_val, y_val, unfreeze: bool = True, seed: int = 0):
    """Train the head (base frozen), then, if `unfreeze`, also the top convolution at a small rate.

    Recompiles after every change of `trainable` (Keras reads it when compiling). Returns the last History.
    """
    history = _fit(model, x_small, y_small, x_val, y_val, HEAD_EPOCHS, HEAD_LEARNING_RATE, seed)
    if unfreeze:
        model.get_layer(CONV_LAYERS[-1]).trainable = True
        history = _fit(model, x_small, y_small, x_val, y_val, TUNE_EPOCHS, TUNE_LEARNING_RATE, seed + 1)
    return history


def from_scratch(model: keras.Model, seed: int = 0) -> keras.Model:
    """A model of `model`'s architecture with fresh weights (keras.models.clone_model), every layer trainable."""
    keras.utils.set_random_seed(seed)
    clone = keras.models.clone_model(model)
    _all_trainable(clone)
    return clone


def _all_trainable(model) -> None:
    model.trainable = True
    for layer in getattr(model, "layers", []):
        layer.trainable = True
        _all_trainable(layer) if getattr(layer, "layers", None) else None


def train_from_scratch(model: keras.Model, x_small, y_small, x_val, y_val, seed: int = 0):
    """The grader's from-scratch recipe: Adam, SCRATCH_EPOCHS, the best validation epoch's weights."""
    return _fit(model, x_small, y_small, x_val, y_val, SCRATCH_EPOCHS, SCRATCH_LEARNING_RATE, seed)


def accuracy(model: keras.Model, x, y) -> float:
    """Share of images whose largest output is the label."""
    out = keras.ops.convert_to_numpy(model.predict(_images(x), batch_size=500, verbose=0))
    return float(np.mean(np.argmax(out, axis=1) == np.asarray(y)))
