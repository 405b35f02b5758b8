"""How far a speed setup's output is from the plain fp32 model's (``dpbench speed --compare-fp32``).

A speed option (fp16/bf16 autocast, ``torch.compile``, channels-last, CUDA graphs...) is only
worth its milliseconds if the numbers stay close to the model's own fp32 output, so every
non-plain setup is compared with a *reference*: the same model, checkpoint and options at fp32,
without ``compile`` and without the model's speed-only options
(:attr:`~dpbench.models.base.DepthModel.speed_only_options`; those not given take the factory's
defaults, e.g. Depth Pro on CUDA is channels-last by default). A *plain fp32* setup (precision
fp32, no compile, no speed-only option given) is its own reference and is not compared.

Per measured size the first image of the timed batch is compared (the candidate's output of
its last timed call, kept by :class:`LastResult`; the reference runs ``predict_batch`` once on
the same random images) and four columns are stored (definitions in ``docs/metrics.md``):
:data:`FP32_DIFF_COLUMNS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dpbench.speed.hooks import failure_text, release_memory

#: The per-size columns of the comparison (NaN when not compared).
FP32_DIFF_COLUMNS = ("out_max_abs_diff", "out_max_rel_diff", "out_median_rel_diff", "out_focal_diff")
#: ``speed.fp32_reference`` of a plain fp32 setup: the run is its own reference.
SELF = "self"
#: ``speed.fp32_reference`` of a non-plain setup measured with ``--no-compare-fp32``.
OFF = "off"
#: The option ``dpbench speed --compile`` passes to the model factory.
COMPILE_OPTION = "compile"


@dataclass
class ReferencePlan:
    """How the fp32 reference of a non-plain setup is loaded: its options and what was dropped."""

    options: dict
    dropped: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # what makes the setup non-plain

    def record(self) -> dict:
        """The manifest's ``speed.fp32_reference`` for this plan."""
        return {"precision": "fp32", "compile": False, "options": dict(self.options),
                "without_options": list(self.dropped), "because": list(self.reasons)}


def speed_only_options(model: Any) -> frozenset[str]:
    """The model's options that change only how fast its numbers are computed (see module doc)."""
    return frozenset(getattr(model, "speed_only_options", frozenset())) | {COMPILE_OPTION}


def reference_plan(model: Any, options: Mapping[str, Any], precision: str, compile_: bool) -> ReferencePlan | None:
    """None for a plain fp32 setup; else the plan of its fp32 reference."""
    speed_only = speed_only_options(model)
    dropped = sorted(k for k in options if k in speed_only)
    reasons = ([f"precision {precision}"] if precision != "fp32" else []) + (["compile"] if compile_ else [])
    reasons += [f"option {k}={options[k]}" for k in dropped]
    if not reasons:
        return None
    return ReferencePlan({k: v for k, v in options.items() if k not in speed_only}, dropped, reasons)


def reference_record(plan: ReferencePlan | None, compare: bool) -> str | dict:
    """``speed.fp32_reference``: :data:`SELF`, :data:`OFF` or the plan's record."""
    if plan is None:
        return SELF
    return plan.record() if compare else OFF


@dataclass
class KeptOutput:
    """The first image's output of a batch, on the CPU: depth (m) and focal length (px or None)."""

    depth: np.ndarray
    focal_px: float | None


def first_output(predictions: Any) -> KeptOutput:
    """The :class:`KeptOutput` of ``predict_batch``'s first prediction (a copy: the batch can go)."""
    first = predictions[0]
    depth = first.depth
    if hasattr(depth, "detach"):  # a torch tensor, wherever it lives
        depth = depth.detach().float().cpu().numpy()
    focal = getattr(first, "focal_px", None)
    return KeptOutput(np.array(depth, dtype=np.float32, copy=True), None if focal is None else float(focal))


class LastResult:
    """Calls ``fn`` and keeps only the result of the ``calls``-th call.

    Wraps the timed ``predict_batch`` of a size: keeping a reference to the last result costs no
    time, and no earlier result is held while a later call runs, so the memory peak is the same.
    """

    def __init__(self, fn: Callable[[], Any], calls: int):
        self.fn, self.calls, self.count, self.result = fn, int(calls), 0, None

    def __call__(self) -> Any:
        result = self.fn()
        self.count += 1
        if self.count == self.calls:
            self.result = result
        return result


def output_difference(candidate: KeptOutput, reference: KeptOutput) -> dict[str, float]:
    """The :data:`FP32_DIFF_COLUMNS` of a candidate output against the fp32 reference output.

    Pixels where the reference is finite count; a candidate value that is not finite there is an
    infinite difference (a setup that overflows is not "close"). ValueError on other shapes.
    """
    cand = np.asarray(candidate.depth, dtype=np.float64)
    ref = np.asarray(reference.depth, dtype=np.float64)
    if cand.shape != ref.shape:
        raise ValueError(f"depth of shape {cand.shape} against the fp32 reference's {ref.shape}")
    focal = math.nan
    if candidate.focal_px is not None and reference.focal_px is not None:
        focal = abs(float(candidate.focal_px) - float(reference.focal_px))
    out = dict.fromkeys(FP32_DIFF_COLUMNS, math.nan) | {"out_focal_diff": focal}
    valid = np.isfinite(ref)
    if not valid.any():
        return out
    ref_values, cand_values = ref[valid], cand[valid]
    delta = np.where(np.isfinite(cand_values), np.abs(cand_values - ref_values), np.inf)
    scale = np.abs(ref_values)
    out["out_max_abs_diff"] = float(delta.max())
    if scale.max() > 0:
        out["out_max_rel_diff"] = float(delta.max() / scale.max())
    nonzero = scale > 0
    if nonzero.any():
        out["out_median_rel_diff"] = float(np.median(delta[nonzero] / scale[nonzero]))
    return out


def compare_outputs(load_reference: Callable[[], Any], kept: Mapping[str, KeptOutput],
                    images_of: Callable[[str], list], device: Any = None,
                    ) -> tuple[dict[str, dict[str, float]], str | None]:
    """Load the reference once, run it on each size's images, compare with ``kept``; free it.

    Returns the columns per size label and the error text (None without one). A failure to load
    leaves every size without columns; a failure at one size (e.g. out of memory at fp32) leaves
    that size without them and the others are still compared. Never raises for either.
    """
    results: dict[str, dict[str, float]] = {}
    if not kept:
        return results, None
    errors = []
    try:
        reference = load_reference()
    except Exception as exc:  # noqa: BLE001 - the timing rows must survive any reference failure
        release_memory(device)
        return results, f"loading the fp32 reference: {failure_text(exc)}"
    try:
        for label, candidate in kept.items():
            try:
                output = first_output(reference.predict_batch(images_of(label)))
                results[label] = output_difference(candidate, output)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{label}: {failure_text(exc)}")
                release_memory(device)
    finally:
        del reference
        release_memory(device)
    return results, "; ".join(errors) or None


def store_differences(store: Any, results: Mapping[str, Mapping[str, float]]) -> None:
    """Write the columns of ``results`` into the ``ok`` rows of those sizes (one table rewrite)."""
    if not results:
        return
    frame = store.row_file.read()
    for label, columns in results.items():
        where = (frame["sample_id"] == label) & (frame["status"] == "ok")
        for column, value in columns.items():
            if column not in frame.columns:
                frame[column] = math.nan
            frame.loc[where, column] = value
    store.row_file.consolidate(frame)


def format_difference(value: Any) -> str:
    """A difference with three significant digits; ``n/a`` when not measured (``inf`` is shown)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if math.isnan(number) else f"{number:.3g}"


def difference_text(columns: Mapping[str, Any]) -> str:
    """``vs fp32 max |Δ| 0.0123 m (0.000456 rel), median rel 1.2e-05, focal |Δ| 0.3 px``."""
    text = (f"vs fp32 max |Δ| {format_difference(columns.get('out_max_abs_diff'))} m "
            f"({format_difference(columns.get('out_max_rel_diff'))} rel), "
            f"median rel {format_difference(columns.get('out_median_rel_diff'))}")
    focal = columns.get("out_focal_diff")
    if focal is not None and not (isinstance(focal, float) and math.isnan(focal)):
        text += f", focal |Δ| {format_difference(focal)} px"
    return text


def measured_values(values: Iterable[Any]) -> list[float]:
    """The numbers among ``values``: None, NaN and non-numbers dropped (``inf``, an output that
    overflowed, is kept)."""
    out = []
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isnan(number):
            out.append(number)
    return out


__all__ = ["COMPILE_OPTION", "FP32_DIFF_COLUMNS", "OFF", "SELF", "KeptOutput", "LastResult", "ReferencePlan",
           "compare_outputs", "difference_text", "first_output", "format_difference", "measured_values",
           "output_difference", "reference_plan", "reference_record", "speed_only_options", "store_differences"]
