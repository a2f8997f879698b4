"""Transfer learning with Keras on Fashion-MNIST (slides: "Transfer learning", the Keras lab).

The source task: a small CNN (the *base*) was trained on classes 0-4 (T-shirt/top, Trouser,
Pullover, Dress, Coat). The target task: classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot),
relabelled 0-4, with only 5 labelled images per class to train on (and 50 per class to validate).
The grader loads the base (layers image, base_conv1, base_pool1, base_conv2, base_pool2,
base_flatten -> (N, 3136) features, base_logits -> the source task's 5 logits), calls
build_transfer_model(base_model, 5) then fine_tune(...), and scores the model on the test
images of classes 5-9. It also trains the same architecture from scratch on the same images:
your model must beat it, which is the point of transfer learning.

Images x: (N, 28, 28, 1) float32 in [0, 1]; labels y: (N,) integer class ids 0..4.
Use the `keras` API only (no `tf.*`) and built-in layers only.
"""
import keras
import numpy as np
from keras import layers

FEATURES = "base_flatten"  # the base's last feature layer: its output is what the new head reads
TOP_CONV = "base_conv2"  # the base's top convolution, the one fine-tuning may unfreeze


def build_transfer_model(base_model, num_classes=5):
    """A model (N, 28, 28, 1) -> (N, num_classes) logits: the base's layers up to FEATURES, frozen, + a new head.

    Reuse the base's own layers (their names and pretrained weights), not copies: take the
    features with base_model.get_layer(FEATURES).output and build keras.Model(base_model.inputs, ...).
    Drop the base's classifier (base_logits): it answers the source task's question.
    Freeze every base layer (layer.trainable = False) so training changes only the new head.
    The head: Dense(num_classes), no activation (logits).

    Hint: base_model.get_layer(FEATURES).output is a (N, 3136) tensor; a layer called on it
    gives the new output, and keras.Model(base_model.inputs, outputs) ties them together.
    """
    ### BEGIN SOLUTION
    for layer in base_model.layers:
        layer.trainable = False
    features = base_model.get_layer(FEATURES).output
    outputs = layers.Dense(num_classes, name="target_logits")(features)
    return keras.Model(base_model.inputs, outputs, name="transfer")
    ### END SOLUTION


def fine_tune(model, x_small, y_small, x_val, y_val):
    """Train the new head, then fine-tune the base's top convolution; returns the last keras History.

    x_small: (N, 28, 28, 1) float32 in [0, 1], y_small: (N,) int class ids 0..4 (5 per class);
    x_val, y_val: the same for the validation split (50 per class).

    1. Feature extraction: compile (Adam, SparseCategoricalCrossentropy(from_logits=True), since
       the head outputs logits) and fit on (x_small, y_small) only, validating on (x_val, y_val).
       Keep the best validation epoch (EarlyStopping(monitor="val_accuracy", restore_best_weights=True)).
    2. Fine-tuning: set model.get_layer(TOP_CONV).trainable = True, compile AGAIN (Keras reads
       `trainable` when compiling: without it the change does nothing), and fit a few more epochs
       at a small learning rate (1e-4): a large one destroys the pretrained features.
    Never train on the validation images: they choose the epoch, they must stay unseen.
    The lower base layers stay frozen: their weights must come out exactly as the base's.

    Hint: a small inner function fit(epochs, learning_rate) that compiles then fits, called twice.
    """
    ### BEGIN SOLUTION
    def fit(epochs, learning_rate):
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        best = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=epochs,
                                             restore_best_weights=True)
        return model.fit(x_small, np.asarray(y_small, dtype="int32"), validation_data=(x_val, np.asarray(
            y_val, dtype="int32")), epochs=epochs, batch_size=32, callbacks=[best], verbose=0)

    fit(30, 3e-3)
    model.get_layer(TOP_CONV).trainable = True
    return fit(10, 1e-4)
    ### END SOLUTION
