# Exercise: implement the functions below; test them with `python3 -m autograder check cnn`
# (from the student bundle's folder; `dlgrade check cnn` in a course checkout).
"""A Keras CNN for Fashion-MNIST (slides: "Convolutional Neural Networks", the Keras lab).

Images x: (N, 28, 28, 1), floats in [0, 1]; labels y: (N,) integer class ids 0..9
(T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot).
The grader loads the data, calls build_model() and then train() under a time budget,
and scores the trained model on the test set, which your code never sees.

Use the `keras` API only (`from keras import layers`, no `tf.*`): your code then runs
on any Keras 3 backend (TensorFlow, JAX or PyTorch), on a CPU or a GPU.
"""
import keras
import numpy as np
from keras import layers

# True: the last layer outputs raw scores (logits, no softmax); the loss must then be
# built with from_logits=True. False: the last layer ends in a softmax (probabilities).
OUTPUT_LOGITS = True

EPOCHS = 10
BATCH_SIZE = 128


def build_model(input_shape=(28, 28, 1), num_classes=10):
    """A small CNN: x (N, *input_shape) -> (N, num_classes) scores (logits if OUTPUT_LOGITS).

    The slides' recipe: feature extraction by convolution + ReLU + pooling, then
    classification by fully connected layers.
        Conv2D(32, 3x3, "same", ReLU)  (N, 28, 28, 32)
        MaxPooling2D(2)                (N, 14, 14, 32)
        Conv2D(64, 3x3, "same", ReLU)  (N, 14, 14, 64)
        MaxPooling2D(2)                (N, 7, 7, 64)
        Flatten                        (N, 3136)
        Dropout, Dense(128, ReLU), Dropout
        Dense(num_classes)             (N, num_classes), no activation: logits
    A Conv2D layer with F filters of size KxK on C input channels has
    (K*K*C + 1) * F parameters; a Dense layer from D to M units has (D + 1) * M.
    model.summary() prints the shapes and counts (keep the total under the course's cap).

    Hint: start from keras.Input(shape=input_shape) and stack the layers with
    keras.Sequential([...]); "same" padding keeps H and W, each 2x2 pooling halves them.
    """
    raise NotImplementedError("build_model: not implemented yet")


def train(model, x_train, y_train, x_val, y_val, epochs=EPOCHS, batch_size=BATCH_SIZE, callbacks=None, verbose=0):
    """Compile and fit the model; returns the keras.callbacks.History of model.fit.

    x_train: (N, 28, 28, 1) floats in [0, 1], y_train: (N,) integer class ids;
    x_val, y_val: the same for the validation split (may be None).
    Integer labels go with SparseCategoricalCrossentropy (no one-hot needed),
    with from_logits=OUTPUT_LOGITS. Adam (slides: adaptive learning rates) from a
    learning rate of 1e-3 works well; lowering it towards the end of training
    (keras.optimizers.schedules) helps a little more. Early stopping on the validation
    accuracy with restore_best_weights=True keeps the best epoch's weights.
    `callbacks` (the grader passes a time limit here) must go to model.fit too,
    after your own: training may be stopped early and is graded on what it learned.

    Hint: model.compile(optimizer=..., loss=..., metrics=["accuracy"]), then
    return model.fit(x_train, y_train, validation_data=(x_val, y_val), ...).
    """
    raise NotImplementedError("train: not implemented yet")
