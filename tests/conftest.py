"""Suite-wide settings: deterministic hypothesis, quiet TensorFlow."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hypothesis import settings  # noqa: E402

# Same examples on every run, nothing remembered between runs, no flaky deadlines.
settings.register_profile("dlgrade", derandomize=True, database=None, deadline=None, max_examples=40)
settings.load_profile("dlgrade")
