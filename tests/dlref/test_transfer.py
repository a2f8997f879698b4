"""dlref.transfer and the transfer evaluator against Keras itself (and NumPy's reference convolution).

(a) The evaluator's frozen/unchanged rule (autograder/transfer/evaluate.compare_with_base) agrees with
    what Keras does: the layers Keras keeps out of training (model.non_trainable_weights) are exactly
    those the evaluator calls frozen, they come out of model.fit bit for bit, the trainable ones move;
    and a `trainable` changed without compiling again behaves as the hidden tests' hints say.
(b) dlref's feature extractor on the shipped base equals a Keras functional re-build of the same layers
    holding the shipped weights, and NumPy's float64 convolution and pooling (dlref.conv) of them.
Each test builds and fits small models on 32 random images: seconds, like the other Keras tests.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from autograder.course import config as course_config  # noqa: E402
from autograder.sandbox import cnn as cnn_sandbox  # noqa: E402
from autograder.sandbox.transfer import BASE_FILE  # noqa: E402
from autograder.suites.student import StudentError  # noqa: E402
from autograder.transfer import grading  # noqa: E402
from autograder.transfer.evaluate import Evaluation, compare_with_base  # noqa: E402
from dlref import conv, transfer  # noqa: E402

# Keras' TensorFlow backend calls np.array(variable) when saving, which NumPy 2 flags; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)
HIDDEN = Path(__file__).resolve().parents[2] / "autograder" / "suites" / "hidden" / "test_transfer.py"
WEIGHTED = ("base_conv1", "base_conv2", "base_logits")


def load_base():
    return keras.saving.load_model(BASE_FILE, compile=False, safe_mode=True)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.random((32, 28, 28, 1)).astype(np.float32), rng.integers(0, 5, size=32)


@pytest.fixture(scope="module")
def hidden_suite():
    """The hidden suite's module, for its rules (each test function judges a `graded`)."""
    spec = importlib.util.spec_from_file_location("_hidden_test_transfer", HIDDEN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def transfer_model(frozen: set[str]):
    """The shipped base up to its features, the layers in `frozen` not trainable, a new Dense(5) head."""
    base = load_base()
    for layer in base.layers:
        layer.trainable = layer.name not in frozen
    head = keras.layers.Dense(5, name="head")(base.get_layer(transfer.FEATURES).output)
    return keras.Model(base.inputs, head)


def compile_model(model, learning_rate: float = 1e-2) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def fit(model, batch) -> None:
    x, y = batch
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # 4 steps


def rows(model) -> dict[str, dict]:
    return {row["name"]: row for row in compare_with_base(model, load_base())}


def graded_with(model):
    """A graded run whose evaluation is this model's comparison with the base (no sandbox involved)."""
    run = grading.Run(budget_s=60.0, plan=cnn_sandbox.DevicePlan(gpu=False, backend="tensorflow", description="CPU"),
                      model_file=Path("model.keras"), source="model.keras")
    return grading.Graded(course_config.Transfer(), run, Evaluation(base_layers=compare_with_base(model, load_base())))


@pytest.mark.parametrize("frozen", [{"base_conv1"}, {"base_conv1", "base_conv2"}, set()],
                         ids=["conv1-frozen", "both-frozen", "none-frozen"])
def test_frozen_means_what_keras_trains_and_unchanged_what_fit_left(batch, frozen):
    model = transfer_model(frozen)
    compile_model(model)
    fit(model, batch)
    found = rows(model)
    assert set(found) == set(WEIGHTED) and not found["base_logits"]["found"]  # the classifier was dropped
    keras_frozen = {v.path.split("/")[0] for v in model.non_trainable_weights}
    assert keras_frozen == frozen
    assert {n for n, r in found.items() if r["found"] and r["trainable"] is False} == keras_frozen
    for name in ("base_conv1", "base_conv2"):
        original = [np.asarray(w) for w in load_base().get_layer(name).get_weights()]
        now = [np.asarray(w) for w in model.get_layer(name).get_weights()]
        bitwise = all(np.array_equal(a, b) for a, b in zip(original, now))
        assert found[name]["equal"] is bitwise
        assert bitwise is (name in frozen), name  # Keras froze exactly these and trained the others
        assert bool(found[name]["drift"] == 0.0) is bitwise


def test_the_rules_pass_a_model_frozen_and_fine_tuned_as_keras_intends(batch, hidden_suite):
    model = transfer_model({"base_conv1", "base_conv2"})
    compile_model(model)
    fit(model, batch)
    model.get_layer("base_conv2").trainable = True
    compile_model(model, 1e-4)  # compiled again after unfreezing, at a small rate
    fit(model, batch)
    graded = graded_with(model)
    hidden_suite.test_frozen_layers_unchanged(graded)
    hidden_suite.test_fine_tuned_layers_were_trained(graded)
    hidden_suite.test_fine_tuned_layers_keep_their_features(graded)
    assert 0 < rows(model)["base_conv2"]["drift"] < course_config.Transfer().max_base_drift


def test_unfreezing_without_compiling_again_trains_nothing_as_the_hint_says(batch, hidden_suite):
    model = transfer_model({"base_conv1", "base_conv2"})
    compile_model(model)
    fit(model, batch)
    model.get_layer("base_conv2").trainable = True  # no compile: Keras' train step still leaves it out
    fit(model, batch)
    row = rows(model)["base_conv2"]
    assert row["trainable"] is True and row["equal"] is True
    graded = graded_with(model)
    hidden_suite.test_frozen_layers_unchanged(graded)  # nothing frozen changed
    with pytest.raises(StudentError, match=r"base_conv2 are trainable .* did not change at all: .*compile again"):
        hidden_suite.test_fine_tuned_layers_were_trained(graded)


def test_freezing_without_compiling_again_still_trains_the_layer_as_the_hint_says(batch, hidden_suite):
    model = transfer_model({"base_conv1"})
    compile_model(model)
    fit(model, batch)
    model.get_layer("base_conv2").trainable = False  # no compile: Keras' train step still updates it
    before = [np.asarray(w).copy() for w in model.get_layer("base_conv2").get_weights()]
    fit(model, batch)
    after = model.get_layer("base_conv2").get_weights()
    assert not all(np.array_equal(a, b) for a, b in zip(before, after))  # Keras trained a "frozen" layer
    row = rows(model)["base_conv2"]
    assert row["trainable"] is False and row["equal"] is False
    with pytest.raises(StudentError, match=r"base_conv2 are frozen .* weights differ .*compile after changing"):
        hidden_suite.test_frozen_layers_unchanged(graded_with(model))


def test_feature_extractor_is_a_functional_rebuild_of_the_shipped_layers(batch):
    base = load_base()
    features = transfer.feature_extractor(base)
    x = batch[0]
    inputs = keras.Input(shape=(28, 28, 1))
    t = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="c1")(inputs)
    t = keras.layers.MaxPooling2D(2)(t)
    t = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="c2")(t)
    t = keras.layers.MaxPooling2D(2)(t)
    rebuilt = keras.Model(inputs, keras.layers.Flatten()(t))
    for name, twin in (("base_conv1", "c1"), ("base_conv2", "c2")):
        rebuilt.get_layer(twin).set_weights(base.get_layer(name).get_weights())
    got = np.asarray(keras.ops.convert_to_numpy(features(x, training=False)))
    want = np.asarray(keras.ops.convert_to_numpy(rebuilt(x, training=False)))
    assert got.shape == (32, 3136) and np.any(got > 0)
    np.testing.assert_array_equal(got, want)  # the same float32 ops on the same weights: bit for bit
    # The architecture dlref.transfer.base_model() declares is the shipped file's, layer for layer.
    fresh = transfer.base_model(seed=0)
    assert [(l.name, type(l).__name__) for l in fresh.layers] == [(l.name, type(l).__name__) for l in base.layers]
    assert [[w.shape for w in l.get_weights()] for l in fresh.layers] == \
           [[w.shape for w in l.get_weights()] for l in base.layers]


def test_feature_extractor_agrees_with_numpys_float64_convolution(batch):
    base = load_base()
    x = batch[0][:8]
    got = np.asarray(keras.ops.convert_to_numpy(transfer.feature_extractor(base)(x, training=False)), np.float64)
    t = x.astype(np.float64)
    for name in ("base_conv1", "base_conv2"):
        w, b = (np.asarray(v, dtype=np.float64) for v in base.get_layer(name).get_weights())
        t = conv.maxpool_forward(np.maximum(conv.conv2d_forward(t, w, b, padding="same"), 0.0))
    want = t.reshape(len(x), -1)  # Flatten of NHWC, row-major, as Keras flattens channels_last
    # float32 sums of 288 products (second conv) against float64: relative errors around 1e-6.
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
