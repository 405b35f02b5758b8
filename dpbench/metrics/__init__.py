"""dpbench's metrics: depth (``depth.py``), boundary sharpness (``boundary.py``), focal (``focal.py``).

This module holds the catalogue that ranking and reports use: for every metric name its label,
whether higher is better, and whether reports print it as a percentage (value × 100, like δ in
the paper). Metric functions are pure functions of arrays; import them from their modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from dpbench.errors import UnknownNameError


@dataclass(frozen=True)
class MetricInfo:
    """What a report needs to know about a metric. ``percent``: print value × 100."""

    name: str
    label: str
    higher_is_better: bool
    percent: bool
    description: str


def _catalogue(*infos: MetricInfo) -> dict[str, MetricInfo]:
    return {info.name: info for info in infos}


#: Every metric dpbench computes, by name (the keys runs store).
METRICS: dict[str, MetricInfo] = _catalogue(
    MetricInfo("delta1", "δ1", True, True, "share of valid pixels with max(p/g, g/p) < 1.25"),
    MetricInfo("delta2", "δ2", True, True, "share of valid pixels with max(p/g, g/p) < 1.25²"),
    MetricInfo("delta3", "δ3", True, True, "share of valid pixels with max(p/g, g/p) < 1.25³"),
    MetricInfo("abs_rel", "AbsRel", False, False, "mean |p − g| / g"),
    MetricInfo("sq_rel", "SqRel", False, False, "mean (p − g)² / g (Eigen convention)"),
    MetricInfo("rmse", "RMSE", False, False, "sqrt(mean (p − g)²), metres"),
    MetricInfo("rmse_log", "RMSE log", False, False, "sqrt(mean (ln p − ln g)²)"),
    MetricInfo("log10", "Log10", False, False, "mean |log10 p − log10 g|"),
    MetricInfo("silog", "SI-Log", False, False,
               "100 · sqrt(mean d² − (mean d)²), d = ln p − ln g (scale-invariant)"),
    MetricInfo("boundary_f1", "Boundary F1", True, False,
               "scale-invariant boundary F1 on depth GT (released Depth Pro SI_boundary_F1)"),
    MetricInfo("boundary_recall", "Boundary recall", True, False,
               "scale-invariant boundary recall on mask GT (released Depth Pro SI_boundary_Recall)"),
    MetricInfo("focal_abs_rel", "Focal AbsRel", False, False, "mean |f̂ − f| / f over images"),
    MetricInfo("focal_delta_25", "δ25%", True, True, "share of images with |f̂ − f| / f < 0.25"),
    MetricInfo("focal_delta_50", "δ50%", True, True, "share of images with |f̂ − f| / f < 0.5"),
    MetricInfo("focal_median_rel", "Focal median rel.", False, False, "median |f̂ − f| / f over images"),
)


def metric_info(name: str) -> MetricInfo:
    """The catalogue entry of ``name``; unknown names raise UnknownNameError (with suggestions)."""
    try:
        return METRICS[name]
    except KeyError:
        raise UnknownNameError("metric", name, METRICS) from None


__all__ = ["METRICS", "MetricInfo", "metric_info"]
