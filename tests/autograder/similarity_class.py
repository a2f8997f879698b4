"""A small class for the similarity tests: two independent answers, two disguised copies, the model answer, stubs."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STUB = (ROOT / "exercises" / "activations.py").read_text()
SOLUTION = (ROOT / "solutions" / "activations.py").read_text()

# Two students' own answers, written independently (different idioms, names and structure).
ANA = {
    "sigmoid": """\
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    # the usual formula where it cannot overflow
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out""",
    "sigmoid_grad": """\
    s = sigmoid(z)
    return s * (1.0 - s)""",
    "tanh": """\
    return np.tanh(z)""",
    "tanh_grad": """\
    t = np.tanh(z)
    return 1.0 - t * t""",
    "relu": """\
    z = np.asarray(z, dtype=float)
    return z * (z > 0)""",
    "relu_grad": """\
    return np.where(np.asarray(z) > 0, 1.0, 0.0)""",
    "softmax": """\
    shifted = z - z.max(axis=axis, keepdims=True)
    exps = np.exp(shifted)
    total = exps.sum(axis=axis, keepdims=True)
    return exps / total""",
}
BEN = {
    "sigmoid": """\
    x = np.clip(z, -500, 500)  # avoid overflow
    return 1 / (1 + np.exp(-x))""",
    "sigmoid_grad": """\
    sig = 1 / (1 + np.exp(-np.clip(z, -500, 500)))
    return sig * (1 - sig)""",
    "tanh": """\
    return np.tanh(np.array(z, dtype=np.float64))""",
    "tanh_grad": """\
    return 1 - np.tanh(z) ** 2""",
    "relu": """\
    return np.maximum(0, z)""",
    "relu_grad": """\
    grad = np.zeros_like(z, dtype=float)
    grad[z > 0] = 1
    return grad""",
    "softmax": """\
    m = np.amax(z, axis=axis, keepdims=True)
    e = np.exp(z - m)
    s = np.sum(e, axis=axis, keepdims=True)
    return e / s""",
}


def fill(bodies: dict[str, str], order: list[str] | None = None) -> str:
    """The released stub with each function's `raise NotImplementedError` replaced by its body."""
    text = STUB
    for name, body in bodies.items():
        stub_line = f'    raise NotImplementedError("{name}: not implemented yet")'
        assert text.count(stub_line) == 1, name
        text = text.replace(stub_line, body)
    if order:
        head, *defs = re.split(r"\n(?=def )", text)
        by_name = {d.split("(", 1)[0][4:]: d.rstrip("\n") for d in defs}
        text = head.rstrip("\n") + "\n\n\n" + "\n\n\n".join(by_name[n] for n in order) + "\n"
    return text


def renamed(text: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        text = re.sub(rf"\b{old}\b", new, text)
    return text


def recommented(text: str) -> str:
    """Every comment changed or removed, new ones added, blank lines moved."""
    out = []
    for line in text.splitlines():
        code = line.split("  #", 1)[0].rstrip() if "  #" in line else line
        if code.strip().startswith("#"):
            continue
        if code.strip().startswith("return"):
            out.append(code[: len(code) - len(code.lstrip())] + "# my answer, checked with dlgrade check")
            out.append("")
        out.append(code)
    return "\n".join(out) + "\n"


def model_body(name: str) -> str:
    """The model answer's body of one function (between the solution markers)."""
    m = re.search(rf"def {name}\(.*?### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", SOLUTION, re.S)
    return m.group(1)


ORDER = ["softmax", "relu_grad", "relu", "tanh", "sigmoid", "tanh_grad", "sigmoid_grad"]
ANA_NAMES = {"out": "result", "pos": "nonneg", "ez": "expo", "s": "sg", "t": "th", "shifted": "zs", "exps": "num",
             "total": "den", "z": "inp"}


def files() -> dict[str, str]:
    """student -> activations.py of the class."""
    return {
        "ana": fill(ANA),
        "ben": fill(BEN),
        "cat": renamed(fill(ANA, order=ORDER), ANA_NAMES),  # ana's, renamed and reordered
        "dan": recommented(fill(BEN)),  # ben's, comments changed
        "sol": fill({n: model_body(n) for n in ANA}),  # the published model answer
        "stu": STUB,  # untouched stubs: boilerplate only
        "stv": STUB,
    }
