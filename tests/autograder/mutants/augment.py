"""Classic mistakes in augment.py: (id, text in the solution, replacement, expected hint fragment)."""

_COPY = "    out[n, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \\\n"
_FROM = "            x[n, max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]\n"

MUTANTS = [
    ("flip-up-down", "return x[:, :, ::-1, :].copy()", "return x[:, ::-1, :, :].copy()", "upside down"),
    ("flip-channels", "return x[:, :, ::-1, :].copy()", "return x[..., ::-1].copy()", "holds the channels"),
    ("translate-roll", "        if abs(dy) >= height or abs(dx) >= width:\n            continue\n        " + _COPY[4:] + _FROM,
     "        out[n] = np.roll(x[n], (dy, dx), axis=(0, 1))\n", "np.roll wraps"),
    ("translate-dy-dx-swapped", "for n, (dy, dx) in enumerate(shifts):", "for n, (dx, dy) in enumerate(shifts):",
     "yours are swapped"),
    ("translate-sign-reversed", "        dy, dx = int(dy), int(dx)\n", "        dy, dx = -int(dy), -int(dx)\n",
     "your shifts go the other way"),
    ("random-flip-one-minus-p", "flipped = np.random.default_rng(seed).random(x.shape[0]) < p",
     "flipped = np.random.default_rng(seed).random(x.shape[0]) > p", "flips with probability 1 - p"),
    ("random-translate-excludes-max", "integers(-max_shift, max_shift + 1, size=(x.shape[0], 2))",
     "integers(-max_shift, max_shift, size=(x.shape[0], 2))", "excludes high"),
    ("random-flip-in-place",
     "    return np.where(flipped[:, None, None, None], flip_left_right(x), x), flipped\n",
     "    x[flipped] = flip_left_right(x[flipped])\n    return x, flipped\n", ""),
    ("augment-translates-first",
     "    flipped, _ = random_flip(x, p, seed)\n    out, _ = random_translate(flipped, max_shift, seed + 1)\n",
     "    moved, _ = random_translate(x, max_shift, seed + 1)\n    out, _ = random_flip(moved, p, seed)\n",
     "flip first"),
    ("translate-float64-zeros", "out = np.zeros_like(x)", "out = np.zeros(x.shape)", "keeps x's dtype"),
    # A convention mistake: dy and dx drawn in two calls (uniform and independent, but other numbers).
    ("random-translate-two-draws",
     "    shifts = np.random.default_rng(seed).integers(-max_shift, max_shift + 1, size=(x.shape[0], 2))\n",
     "    rng = np.random.default_rng(seed)\n"
     "    shifts = np.stack([rng.integers(-max_shift, max_shift + 1, size=x.shape[0]),\n"
     "                       rng.integers(-max_shift, max_shift + 1, size=x.shape[0])], axis=1)\n",
     "in one call"),
]

# Variants about a convention (docs/grading-rules.md): they may fail only the tests about it
# (test_fairness.py); ids of the corpus above, or catalogue-<name> for a catalogued mistake.
CONVENTIONS = {
    "augment-translates-first": "draw order",
    "random-translate-two-draws": "draw order",
    "catalogue-random_flip_legacy_rng": "draw order",
    "catalogue-random_translate_separate_draws": "draw order",
    "catalogue-augment_translates_first": "draw order",
    "catalogue-augment_same_seed": "draw order",
    "catalogue-augment_one_rng": "draw order",
}
