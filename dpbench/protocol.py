"""The protocol options: every choice that changes the numbers, and the lists of their values.

The values of each choice are defined here once; the command line (``click.Choice``), the
reports and the docs read them from here. Defaults and the reason for each live in
``datasets/suites.toml``. How a sample is scored under these options (the order of operations)
is told in ``docs/ARCHITECTURE.md``; the scoring itself lives with the tasks (:mod:`dpbench.tasks`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from dpbench.errors import DpbenchError
from dpbench.types import OUTPUT_KINDS

FOCAL_MODES = ("estimated", "gt", "exif")
RESIZE_MODES = ("bilinear_inverse_depth", "bilinear_depth", "none")
AGGREGATIONS = ("per_image", "pooled")
BOUNDARY_VALID_MODES = ("mask", "none")
RELATIVE_BOUNDARY_INPUTS = ("invert",)
DEPTH_RANGE_WORDS = ("dataset", "none")
#: Scale alignment before the point-cloud metrics (``dpbench.metrics.pointcloud.PC_ALIGN``).
POINTCLOUD_ALIGNS = ("median", "none")


class ProtocolError(DpbenchError, ValueError):
    """An invalid protocol option (unknown name, malformed depth range...)."""


#: How aligned disparity is floored before inversion (recorded in each run's protocol): at
#: 1 / max_depth of the dataset's depth range (``dpbench.tasks.depth.disparity_floor``).
DISPARITY_FLOOR_RULE = "1/max_depth"


@dataclass(frozen=True)
class Protocol:
    """Every option that changes the numbers; defaults live in ``datasets/suites.toml``.

    Build one with :meth:`from_options` (validates) or :func:`default_protocol`.
    """

    focal_mode: str
    resize: str
    alignment: str
    aggregation: str
    depth_range: str | tuple[float, float]
    clip_predictions: bool
    boundary_t_min: float
    boundary_t_max: float
    boundary_n: int
    alpha_threshold: float
    boundary_valid: str
    relative_boundary_input: str
    alignment_defaults: Mapping[str, str] = field(default_factory=dict)
    #: Per-dataset focal modes over ``focal_mode`` (``{"sunrgbd": "gt"}``; ``--focal-mode
    #: sunrgbd=gt``), and why (printed with the protocol in reports).
    focal_mode_overrides: Mapping[str, str] = field(default_factory=dict)
    focal_mode_reason: str = ""
    #: Point-cloud metrics (task ``pointcloud``): squared Chamfer distance, scale alignment, F/IoU
    #: threshold in metres.
    pointcloud_cd_squared: bool = True
    pointcloud_align: str = "median"
    pointcloud_threshold: float = 0.1
    #: Lower edges (m) of the GT-depth bins of the ``metric_depth`` rows (``bin{k}_stat_*``); the last
    #: bin is open-ended (Table 10: 0–1, 1–2, 2–4, 4–8, 8–16, > 16 m).
    depth_bins: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
    #: The dataset's own [min, max] depth range (its protocol file), set by :meth:`for_dataset`
    #: when a dataset is scored; not an option (never recorded, never compared).
    dataset_depth_range: tuple[float | None, float | None] = field(default=(None, None), compare=False)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], **overrides: Any) -> Protocol:
        """A protocol from a mapping (suite defaults or a manifest record) plus overrides.

        Overrides that are None are ignored; unknown keys in ``options`` are ignored (a manifest
        record carries derived keys); unknown override names raise ProtocolError. Per-dataset
        ``focal_mode_overrides`` given as an override are merged over those of ``options``.
        """
        names = {f.name for f in fields(cls)} - {"dataset_depth_range"}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ProtocolError(f"unknown protocol option(s): {', '.join(unknown)}")
        merged = {k: v for k, v in options.items() if k in names}
        if "alignment_requested" in options:  # a manifest record: "alignment" there is resolved
            merged["alignment"] = options["alignment_requested"]
        per_dataset = {**dict(merged.get("focal_mode_overrides") or {}),
                       **dict(overrides.get("focal_mode_overrides") or {})}
        merged.update({k: v for k, v in overrides.items() if v is not None})
        merged["focal_mode_overrides"] = per_dataset
        merged.setdefault("focal_mode_reason", "")
        for f in fields(cls):  # options added later (older manifests lack them): the field default
            if f.name in _ADDED_LATER and f.name not in merged:
                merged[f.name] = f.default
        missing = sorted(names - set(merged))
        if missing:
            raise ProtocolError(f"protocol option(s) missing: {', '.join(missing)}")
        merged["depth_range"] = parse_depth_range(merged["depth_range"])
        merged["alignment_defaults"] = dict(merged["alignment_defaults"])
        merged["depth_bins"] = _float_tuple("depth_bins", merged["depth_bins"])
        protocol = cls(**merged)
        protocol.check()
        return protocol

    def check(self) -> None:
        """Validate every option (ProtocolError naming the option and the choices)."""
        _choice("focal_mode", self.focal_mode, FOCAL_MODES)
        for dataset, mode in self.focal_mode_overrides.items():
            _choice(f"focal_mode for {dataset}", mode, FOCAL_MODES)
        _choice("resize", self.resize, RESIZE_MODES)
        _choice("aggregation", self.aggregation, AGGREGATIONS)
        _choice("boundary_valid", self.boundary_valid, BOUNDARY_VALID_MODES)
        _choice("relative_boundary_input", self.relative_boundary_input, RELATIVE_BOUNDARY_INPUTS)
        known = alignment_names()
        if self.alignment != "auto":
            _choice("alignment", self.alignment, known)
        for kind in OUTPUT_KINDS:
            if kind not in self.alignment_defaults:
                raise ProtocolError(f"alignment_defaults: no default alignment for output kind {kind!r}")
            _choice(f"alignment_defaults.{kind}", self.alignment_defaults[kind], known)
        if not (1.0 < self.boundary_t_min <= self.boundary_t_max) or int(self.boundary_n) < 1:
            raise ProtocolError("boundary thresholds: need 1 < t_min <= t_max and n >= 1, got "
                                f"t_min={self.boundary_t_min}, t_max={self.boundary_t_max}, n={self.boundary_n}")
        if not 0.0 <= self.alpha_threshold < 1.0:
            raise ProtocolError(f"alpha_threshold must lie in [0, 1), got {self.alpha_threshold}")
        _choice("pointcloud_align", self.pointcloud_align, POINTCLOUD_ALIGNS)
        if not isinstance(self.pointcloud_cd_squared, bool):
            raise ProtocolError(f"pointcloud_cd_squared must be true or false, got {self.pointcloud_cd_squared!r}")
        if not (isinstance(self.pointcloud_threshold, (int, float)) and 0 < self.pointcloud_threshold < math.inf):
            raise ProtocolError(f"pointcloud_threshold must be a positive number of metres, got {self.pointcloud_threshold!r}")
        bins = self.depth_bins
        if not bins or bins[0] < 0 or any(b <= a for a, b in zip(bins[:-1], bins[1:], strict=False)) \
                or not all(math.isfinite(b) for b in bins):
            raise ProtocolError(f"depth_bins: need finite, non-negative, strictly increasing lower edges, got {list(bins)}")

    @property
    def depth_bin_edges(self) -> tuple[float, ...]:
        """The edges of the depth bins: :attr:`depth_bins` plus ∞ (the last bin is open-ended)."""
        return (*self.depth_bins, math.inf)

    def replace(self, **overrides: Any) -> Protocol:
        """A copy with some options changed (None values ignored), validated."""
        return Protocol.from_options(self.as_options(), **overrides)

    def as_options(self) -> dict[str, Any]:
        """The options as a plain dict (inverse of :meth:`from_options`)."""
        data = asdict(self)
        del data["dataset_depth_range"]
        data["alignment_defaults"] = dict(self.alignment_defaults)
        data["focal_mode_overrides"] = dict(self.focal_mode_overrides)
        if isinstance(self.depth_range, tuple):
            data["depth_range"] = list(self.depth_range)
        data["depth_bins"] = list(self.depth_bins)
        return data

    # derived values ------------------------------------------------------------------------
    def focal_mode_for(self, dataset: str) -> str:
        """The focal mode on ``dataset``: its per-dataset override, else ``focal_mode``."""
        return self.focal_mode_overrides.get(dataset, self.focal_mode)

    def alignment_for(self, output_kind: str) -> str:
        """The alignment applied before the depth metrics for a model of ``output_kind``."""
        if self.alignment == "auto":
            return self.alignment_defaults[output_kind]
        return self.alignment

    def boundary_thresholds(self) -> list[float]:
        """The boundary thresholds ``linspace(t_min, t_max, n)`` (per-threshold row columns)."""
        return [float(t) for t in np.linspace(self.boundary_t_min, self.boundary_t_max, int(self.boundary_n))]

    def depth_range_for(self, dataset_range: tuple[float | None, float | None]) -> tuple[float | None, float | None]:
        """The [min, max] GT depth range used on a dataset whose protocol gives ``dataset_range``."""
        if self.depth_range == "dataset":
            return dataset_range
        if self.depth_range == "none":
            return (None, None)
        return self.depth_range  # type: ignore[return-value]

    def for_dataset(self, dataset_range: tuple[float | None, float | None]) -> Protocol:
        """This protocol bound to a dataset whose protocol file gives ``dataset_range``."""
        return replace(self, dataset_depth_range=(dataset_range[0], dataset_range[1]))

    @property
    def depth_bounds(self) -> tuple[float | None, float | None]:
        """The [min, max] GT depth range of the dataset bound by :meth:`for_dataset`."""
        return self.depth_range_for(self.dataset_depth_range)

    def boundary_input(self, output_kind: str) -> str:
        """How a prediction of ``output_kind`` enters the boundary metrics (recorded in runs)."""
        if output_kind == "relative_disparity":
            return "inverted_disparity"
        return "depth"

    def record(self, output_kind: str) -> dict[str, Any]:
        """What a run's manifest stores: every option, plus the values derived for this model."""
        data = self.as_options()
        data["alignment_requested"] = self.alignment
        data["alignment"] = self.alignment_for(output_kind)
        data["boundary_thresholds"] = self.boundary_thresholds()
        data["boundary_depth_input"] = self.boundary_input(output_kind)
        data["output_kind"] = output_kind
        data["disparity_floor"] = DISPARITY_FLOOR_RULE
        return data


def _choice(option: str, value: Any, choices) -> None:
    if value not in choices:
        raise ProtocolError(f"{option}: unknown value {value!r}; choose one of {', '.join(choices)}")


def parse_focal_modes(values: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """``--focal-mode`` values: ``MODE`` (every dataset) or ``DATASET=MODE`` (one dataset), any
    number of each; returns (the global mode or None, {dataset: mode})."""
    mode, per_dataset = None, {}
    for value in values:
        dataset, sep, chosen = value.partition("=")
        if not sep:
            dataset, chosen = "", value
        chosen = chosen.strip()
        if sep and not dataset.strip():
            raise ProtocolError(f"--focal-mode {value!r}: expected MODE or DATASET=MODE")
        _choice(f"focal_mode{' for ' + dataset.strip() if sep else ''}", chosen, FOCAL_MODES)
        if sep:
            per_dataset[dataset.strip()] = chosen
        else:
            mode = chosen
    return mode, per_dataset


def parse_depth_range(value: Any) -> str | tuple[float, float]:
    """``"dataset"``, ``"none"``, a pair ``[min, max]`` or the text ``"MIN:MAX"`` (metres)."""
    if isinstance(value, str):
        if value in DEPTH_RANGE_WORDS:
            return value
        lo, sep, hi = value.partition(":")
        if not sep:
            raise ProtocolError(f"depth_range: expected 'dataset', 'none' or 'MIN:MAX', got {value!r}")
        value = (lo, hi)
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ProtocolError(f"depth_range: expected 'dataset', 'none' or [min, max], got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
        raise ProtocolError(f"depth_range: need 0 <= min < max, got [{lo}, {hi}]")
    return (lo, hi)


#: Options newer than the first runs; a manifest without one takes the dataclass default (the
#: same value as datasets/suites.toml; the metrics they drive were not computed in those runs).
_ADDED_LATER = ("pointcloud_cd_squared", "pointcloud_align", "pointcloud_threshold", "depth_bins")


def _float_tuple(option: str, value: Any) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ProtocolError(f"{option}: expected a list of numbers, got {value!r}") from None


def alignment_names() -> tuple[str, ...]:
    """The alignment methods of ``dpbench.align``."""
    from dpbench.align import ALIGNMENTS

    return tuple(ALIGNMENTS)


def default_protocol(**overrides: Any) -> Protocol:
    """The protocol of ``datasets/suites.toml`` [protocol], with ``overrides`` applied."""
    from dpbench.suites import default_protocol_options

    return Protocol.from_options(default_protocol_options(), **overrides)


__all__ = [
    "AGGREGATIONS", "BOUNDARY_VALID_MODES", "FOCAL_MODES", "POINTCLOUD_ALIGNS", "RELATIVE_BOUNDARY_INPUTS",
    "RESIZE_MODES", "Protocol", "ProtocolError", "default_protocol", "parse_depth_range", "parse_focal_modes",
]
