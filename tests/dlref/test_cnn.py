"""dlref.cnn: the reference Keras model's shape, size, learning on a subset, and .keras round trip."""
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dlref import cnn  # noqa: E402
from dlref.data import load_fashion_mnist, prepare  # noqa: E402

# Keras' TensorFlow backend calls np.array(variable) when saving, which NumPy 2 flags; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

PARAM_CAP = 300_000  # the "small model" bound; the reference has ~88k
REAL_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_data = pytest.mark.skipif(
    not REAL_DIR.is_dir(), reason=f"{REAL_DIR} missing (apt-get install dataset-fashion-mnist)"
)


@pytest.fixture(scope="module")
def subset():
    """2000 training and 1000 test images of the real data, prepared for the model."""
    x, y = load_fashion_mnist("train", REAL_DIR, limit=2000, downloader=None)
    xt, yt = load_fashion_mnist("test", REAL_DIR, limit=1000, downloader=None)
    return prepare(x), y, prepare(xt), yt


@pytest.fixture(scope="module")
def trained(subset):
    """The reference model after one short epoch on the subset (batch 32: enough steps to learn)."""
    x, y, _, _ = subset
    model = cnn.build_model()
    history = cnn.train(model, x[:1800], y[:1800], x[1800:], y[1800:], epochs=1, batch_size=32)
    return model, history


def test_output_logits_flag():
    assert cnn.OUTPUT_LOGITS in (True, False)


@pytest.mark.parametrize("input_shape, num_classes", [((28, 28, 1), 10), ((20, 16, 3), 4)])
def test_output_shape(input_shape, num_classes):
    model = cnn.build_model(input_shape=input_shape, num_classes=num_classes)
    x = np.random.default_rng(0).random((3, *input_shape)).astype(np.float32)
    out = np.asarray(model.predict(x, verbose=0))
    assert out.shape == (3, num_classes)
    assert np.all(np.isfinite(out))
    if not cnn.OUTPUT_LOGITS:
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)  # float32 softmax


def test_architecture_and_size():
    model = cnn.build_model()
    kinds = [type(layer) for layer in model.layers]
    assert any(issubclass(k, keras.layers.Conv2D) for k in kinds)
    assert any(issubclass(k, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)) for k in kinds)
    assert 0 < model.count_params() < PARAM_CAP


def test_same_seed_same_initial_weights():
    a = cnn.build_model(seed=3).get_weights()
    b = cnn.build_model(seed=3).get_weights()
    c = cnn.build_model(seed=4).get_weights()
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))


@needs_data
def test_learns_on_a_subset(subset, trained):
    _, _, xt, yt = subset
    model, history = trained
    assert isinstance(history, keras.callbacks.History)
    assert history.epoch == [0]
    pred = np.argmax(np.asarray(model.predict(xt, verbose=0)), axis=1)
    # Chance is 0.1; one epoch on 1800 images reached 0.78-0.79 (seeds 0-2), so 0.5 leaves room for noise.
    assert np.mean(pred == yt) > 0.5


@needs_data
def test_save_load_keras_format(tmp_path, subset, trained):
    _, _, xt, _ = subset
    model, _ = trained
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    before = np.asarray(model.predict(xt[:200], verbose=0))
    after = np.asarray(loaded.predict(xt[:200], verbose=0))
    # Same weights and graph, same float32 kernels: only summation-order noise is allowed.
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)


def test_callbacks_run_and_time_budget_stops():
    """The caller's callbacks are called, and time_budget_s=0 stops after the first epoch."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    seen = []
    recorder = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    model = cnn.build_model(input_shape=(12, 12, 1), num_classes=3)
    history = cnn.train(
        model, x, y, x[:16], y[:16], epochs=4, batch_size=32, callbacks=[recorder], time_budget_s=0
    )
    assert seen == [0]
    assert history.epoch == [0]


def test_caller_stop_restores_best_epoch():
    """When a caller's callback cuts training short, the best val_accuracy epoch's weights are kept."""
    rng = np.random.default_rng(1)
    x = rng.random((64, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    snapshots = {}

    class Snap(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch] = (logs["val_accuracy"], self.model.get_weights())
            if epoch == 2:
                self.model.stop_training = True

    model = cnn.build_model(input_shape=(12, 12, 1), num_classes=3)
    cnn.train(model, x, y, x[:32], y[:32], epochs=6, batch_size=16, callbacks=[Snap()])
    assert sorted(snapshots) == [0, 1, 2]
    # EarlyStopping keeps the first epoch among ties, as argmax does.
    best = max(snapshots, key=lambda e: (snapshots[e][0], -e))
    assert best != 2, "the best epoch must not be the last one, or this test cannot tell"
    final = model.get_weights()
    assert all(np.array_equal(u, v) for u, v in zip(final, snapshots[best][1]))
