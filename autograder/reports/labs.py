"""What the reports show of the Keras labs' report data (the CNN, transfer learning); wrong types become None or empty.

The data is what a hidden test recorded (`record_property`): the grader's own numbers, but some of it
(history, seconds) came from the sandbox, so every value is type-checked here and none is trusted to exist.
Only scores and training summaries are shown: the data also holds why a model was refused, which is a
hidden test's detail.
"""
from __future__ import annotations

from dataclasses import dataclass


def _num(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _flag(value) -> bool | None:
    return value if isinstance(value, bool) else None


def _int(value) -> int | None:
    number = _num(value)
    return int(number) if number is not None else None


def _matrix(value) -> list[list[int]]:
    if not isinstance(value, list) or not all(isinstance(r, list) and len(r) == len(value) for r in value):
        return []
    if not all(isinstance(c, int) and not isinstance(c, bool) for r in value for c in r):
        return []
    return value


def _per_class(d: dict) -> dict[str, float | None]:
    per_class = d.get("per_class_accuracy") if isinstance(d.get("per_class_accuracy"), dict) else {}
    return {str(k): _num(v) for k, v in per_class.items()}


def _history(d: dict) -> dict[str, list[float | None]]:
    history = d.get("history") if isinstance(d.get("history"), dict) else {}
    return {str(k): [_num(v) for v in vs] for k, vs in history.items() if isinstance(vs, list)}


@dataclass
class CnnView:
    """The CNN's report data (autograder/cnn/grading.py Graded.report())."""

    accuracy: float | None
    per_class: dict[str, float | None]
    confusion: list[list[int]]
    class_names: list[str]
    test_images: int
    params: int | None
    max_params: int | None
    epochs: float | None
    seconds: float | None
    budget_s: float | None
    device: str
    history: dict[str, list[float | None]]
    device_note: str = ""  # why the GPU that was there was not used (the grader's, never the student's)

    @classmethod
    def from_data(cls, d: dict) -> "CnnView":
        names = d.get("class_names") if isinstance(d.get("class_names"), list) else []
        return cls(
            accuracy=_num(d.get("accuracy")), per_class=_per_class(d), confusion=_matrix(d.get("confusion_matrix")),
            class_names=[str(n) for n in names], test_images=_int(d.get("test_images")) or 0,
            params=_int(d.get("params")), max_params=_int(d.get("max_params")),
            epochs=_num(d.get("epochs")), seconds=_num(d.get("seconds")), budget_s=_num(d.get("budget_s")),
            device=str(d.get("device") or ""), history=_history(d), device_note=str(d.get("device_note") or ""))

    @property
    def scored(self) -> bool:
        return self.accuracy is not None and bool(self.confusion)


@dataclass
class BaseLayerView:
    """One of the base's layers with weights, as found in the student's fine-tuned model."""

    name: str
    found: bool  # a layer of that name and those weight shapes is in the model
    frozen: bool | None  # effectively not trainable (None: not found)
    unchanged: bool | None  # its weights are the base's, bit for bit (None: not found)
    drift: float | None  # ||W - W_base|| / ||W_base||
    classifier: bool = False  # the base's own classifier (classes 0-4), which the new head replaces

    @property
    def status(self) -> str:
        """One phrase: what the grader found of this layer."""
        if not self.found:
            return "replaced by your new head" if self.classifier else "not in your model (or reshaped)"
        if self.classifier:
            return "kept: the base's classifier of classes 0-4 is still in your model"
        moved = f", moved {self.drift:.2%} of its size" if self.drift is not None and not self.unchanged else ""
        if self.frozen:
            return "frozen, unchanged" if self.unchanged else f"frozen, but its weights changed{moved}"
        return "fine-tuned, unchanged" if self.unchanged else f"fine-tuned{moved}"

    @property
    def ok(self) -> bool:
        """What the rules expect: the base's classifier dropped; a frozen layer unchanged, a fine-tuned one changed
        (its drift judged apart)."""
        if self.classifier:
            return not self.found
        return self.found and self.frozen is not None and self.frozen == bool(self.unchanged)


@dataclass
class TransferView:
    """The transfer task's report data (autograder/transfer/grading.py Graded.report())."""

    accuracy: float | None  # on the test images of classes 5-9
    scratch_accuracy: float | None  # the same architecture trained from scratch by the grader
    min_margin: float | None
    per_class: dict[str, float | None]
    base_layers: list[BaseLayerView]
    test_images: int
    params: int | None
    seconds: float | None
    budget_s: float | None
    device: str
    history: dict[str, list[float | None]]
    device_note: str = ""

    @classmethod
    def from_data(cls, d: dict) -> "TransferView":
        rows = d.get("base_layers") if isinstance(d.get("base_layers"), list) else []
        layers = [BaseLayerView(name=str(r.get("name", "?")), found=r.get("found") is True,
                                frozen=None if _flag(r.get("trainable")) is None else not r["trainable"],
                                unchanged=_flag(r.get("equal")), drift=_num(r.get("drift")),
                                classifier=r.get("classifier") is True)
                  for r in rows if isinstance(r, dict)]
        return cls(
            accuracy=_num(d.get("accuracy")), scratch_accuracy=_num(d.get("scratch_accuracy")),
            min_margin=_num(d.get("min_margin")), per_class=_per_class(d), base_layers=layers,
            test_images=_int(d.get("test_images")) or 0, params=_int(d.get("params")),
            seconds=_num(d.get("seconds")), budget_s=_num(d.get("budget_s")), device=str(d.get("device") or ""),
            history=_history(d), device_note=str(d.get("device_note") or ""))

    @property
    def scored(self) -> bool:
        return self.accuracy is not None

    @property
    def margin(self) -> float | None:
        """Test accuracy above the from-scratch model's (None unless both are known)."""
        if self.accuracy is None or self.scratch_accuracy is None:
            return None
        return self.accuracy - self.scratch_accuracy

    @property
    def beats_scratch(self) -> bool | None:
        if self.margin is None or self.min_margin is None:
            return None
        return self.accuracy >= self.scratch_accuracy + self.min_margin  # the hidden test's comparison

    @property
    def frozen(self) -> list[str]:
        return [layer.name for layer in self.base_layers if layer.frozen]

    @property
    def fine_tuned(self) -> list[str]:
        return [layer.name for layer in self.base_layers if layer.found and layer.frozen is False]


@dataclass
class LabRow:
    """One student's Keras lab results, as the class summary lists them (None where not graded or not scored)."""

    student: str
    cnn_accuracy: float | None
    transfer: TransferView | None

    @property
    def layers_ok(self) -> bool | None:
        if self.transfer is None or not self.transfer.base_layers:
            return None
        return all(layer.ok for layer in self.transfer.base_layers)


def lab_rows(students) -> list[LabRow]:
    """A row per graded student with CNN or transfer report data, by student id."""
    rows = []
    for s in students:
        if s.could_not_grade:
            continue
        cnn, transfer = s.cnn(), s.transfer()
        if cnn is not None or transfer is not None:
            rows.append(LabRow(s.student, cnn.accuracy if cnn is not None and cnn.scored else None, transfer))
    return sorted(rows, key=lambda r: r.student)
