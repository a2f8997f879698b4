"""Rewrite an exercise file as another student would have written it: same behaviour, different text.

A real class has a distinct file for every student, so a benchmark class must too, and not
only by a trailing comment: each file is parsed and printed again with
  * its local variables renamed (parameters keep their names: callers pass them by keyword),
  * docstrings replaced by the student's own short comment, a header comment naming them,
  * adjacent independent assignments swapped (neither reads what the other writes, and
    neither draws random numbers or calls anything but numpy's pure functions),
  * equivalent formulations from FORMULATIONS (e.g. the sigmoid through logaddexp).
The rewrite is drawn from `random.Random(seed)`, so a class is the same on every run.
"""
from __future__ import annotations

import ast
import builtins
import random

# (exercise, old, new): text of the model answer and an equivalent way to write it; applied when
# the old text occurs (a mutant may have changed it).
FORMULATIONS: tuple[tuple[str, str, str], ...] = (
    ("activations", "return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
     "return np.where(z >= 0, np.exp(-np.logaddexp(0.0, -np.abs(z))), e / (1.0 + e))"),
    ("activations", "return e / (1.0 + e) ** 2", "return e / np.square(1.0 + e)"),
    ("losses", "np.mean(", "np.average("),
    ("backprop", "x @ W + b", "np.matmul(x, W) + b"),
    ("optim", "w - lr * dw", "w + (-lr) * dw"),
    ("regularization", "0.5 * lam *", "lam / 2.0 *"),
    ("conv", "np.zeros_like(x)", "np.zeros(x.shape, dtype=x.dtype)"),
)
PURE_MODULES = ("np",)
NAMES = ("tmp", "val", "arr", "res", "out_", "acc", "q", "r_", "buf", "part")


def _stored_names(fn: ast.FunctionDef) -> set[str]:
    """Local names a function assigns (not its parameters, globals or nested functions' names)."""
    params = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)}
    params |= {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a}
    declared = {n for node in ast.walk(fn) if isinstance(node, (ast.Global, ast.Nonlocal)) for n in node.names}
    stored = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return stored - params - declared - set(dir(builtins))


class _Rename(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.mapping.get(node.id, node.id)
        return node


def _names(stmt: ast.stmt, ctx: type) -> set[str]:
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


def _pure(stmt: ast.stmt) -> bool:
    """An assignment whose calls are numpy's (not np.random) or builtins: safe to move."""
    if not isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        return False
    for call in (n for n in ast.walk(stmt) if isinstance(n, ast.Call)):
        f = call.func
        if isinstance(f, ast.Name) and f.id in dir(builtins) and f.id not in ("print", "next", "iter", "input"):
            continue
        root = f
        while isinstance(root, ast.Attribute):
            root = root.value
        if not (isinstance(root, ast.Name) and root.id in PURE_MODULES and "random" not in ast.unparse(f)):
            return False
    return True


def _independent(a: ast.stmt, b: ast.stmt) -> bool:
    wa, wb = _names(a, ast.Store), _names(b, ast.Store)
    ra, rb = _names(a, ast.Load), _names(b, ast.Load)
    aug = isinstance(a, ast.AugAssign) or isinstance(b, ast.AugAssign)
    subscripted = any(isinstance(t, (ast.Subscript, ast.Attribute)) for s in (a, b)
                      for t in (s.targets if isinstance(s, ast.Assign) else [s.target]))
    return not aug and not subscripted and not (wa & (rb | wb)) and not (wb & ra)


def _swap_some(body: list[ast.stmt], rng: random.Random) -> None:
    i = 0
    while i < len(body) - 1:
        a, b = body[i], body[i + 1]
        if _pure(a) and _pure(b) and _independent(a, b) and rng.random() < 0.7:
            body[i], body[i + 1] = b, a
            i += 2
        else:
            i += 1
    for stmt in body:
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                _swap_some(inner, rng)


def rewrite(source: str, exercise: str, student: str, seed: int) -> str:
    """`source` rewritten as `student` would have written it (deterministic in seed and student)."""
    rng = random.Random(f"{seed}:{student}:{exercise}")
    for ex, old, new in FORMULATIONS:
        if ex == exercise and old in source and rng.random() < 0.6:
            source = source.replace(old, new, 1)
    tree = ast.parse(source)
    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        if (fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant)
                and isinstance(fn.body[0].value.value, str)):
            fn.body[0].value.value = f"{fn.name}, by {student}."
        taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        mapping = {}
        for name in sorted(_stored_names(fn)):
            if rng.random() < 0.8:
                new = f"{rng.choice(NAMES)}_{name}"
                if new not in taken:
                    mapping[name] = new
                    taken.add(new)
        _Rename(mapping).visit(fn)
        _swap_some(fn.body, rng)
    return f"# {exercise}.py, submitted by {student}\n" + ast.unparse(tree) + "\n"
