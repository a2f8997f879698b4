"""Single-bug variants of solutions/transfer.py: (id, old text, new text, the test it must fail, words of its hint)."""
from pathlib import Path

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "transfer.py"

VARIANTS = [
    ("base_not_frozen", "        layer.trainable = False\n", "        layer.trainable = True\n",
     "test_base_layers_frozen", "set layer.trainable = False"),
    ("base_classifier_kept", "features = base_model.get_layer(FEATURES).output", "features = base_model.output",
     "test_base_classifier_dropped", "keeps the base's classifier"),
    ("softmax_with_from_logits", 'layers.Dense(num_classes, name="target_logits")',
     'layers.Dense(num_classes, activation="softmax", name="target_logits")',
     "test_loss_matches_output", "ends in a softmax"),
    ("fine_tune_lr_too_large", "return fit(10, 1e-4)", "return fit(10, 1e-2)",
     "test_fine_tuned_layers_keep_their_features", "destroys the pretrained"),
    ("head_size_wrong", 'layers.Dense(num_classes, name="target_logits")', 'layers.Dense(10, name="target_logits")',
     "test_output_shape", "num_classes units"),
    ("trained_on_validation", "model.fit(x_small, np.asarray(y_small,", "model.fit(x_val, np.asarray(y_val,",
     "test_not_trained_on_validation", "trained on the validation images"),
    ("no_compile_after_unfreezing", "    def fit(epochs, learning_rate):\n        model.compile(",
     "    def fit(epochs, learning_rate):\n        if not model.compiled:\n            model.compile(",
     "test_fine_tuned_layers_were_trained", "call model.compile again"),
]


def variant_source(old: str, new: str) -> str:
    """The solution with exactly one occurrence of `old` replaced by `new`."""
    text = SOLUTION.read_text()
    assert text.count(old) == 1, old
    return text.replace(old, new)
