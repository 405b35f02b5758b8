"""Speed runs in a report: the Table 5-style runtime table and the Fig. 2-style scatter.

A speed run (manifest ``kind: "speed"``, written by ``dpbench speed``) holds one row per input
size, not per-sample scores, so it does not go through the accuracy tables. Instead:

- :func:`build_runtime_section` makes one table row per speed run: parameters, GFLOPs and GMACs
  at HD, native output resolution, milliseconds per image at each measured size, the largest
  peak memory over the sizes, device and precision, and, when any run was compared with its fp32
  reference (``dpbench speed`` of a non-plain setup), the largest relative output difference
  over the sizes (``out_max_rel_diff``, :mod:`dpbench.speed.fp32`). With ``paper=True`` the published Table 5
  row (``baselines/paper/table5_runtime.csv``) is put after each run whose model the paper
  evaluated *with the same network* (see :func:`paper_runtime_method`), followed by a row of
  ratios ours / paper. The paper's "FLOPs" column is fvcore's count, i.e. multiply-accumulates,
  so it sits under GMACs; its 4K column used 4032×3024 photos, so it sits under ``4k-paper``.
- :func:`scatter_points` and :func:`pareto_front` pair an accuracy metric of accuracy runs with
  the latency of speed runs of the same model (name and options), and :func:`scatter_plot` draws
  them like the paper's Fig. 2: log-scaled latency, the Pareto front as a step line.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dpbench.errors import DpbenchError
from dpbench.oom import OOM_PREFIX, is_oom_text
from dpbench.report.paper import paper_dir, paper_method_for_model, parse_number, read_paper_csv
from dpbench.report.tables import DIFF, PAPER, RUN, Cell, Column, Row, Table, run_labels
from dpbench.speed.fp32 import FP32_DIFF_COLUMNS, measured_values
from dpbench.store import RunStore

SPEED_KIND = "speed"
#: The section's name where a suite name is expected (plots, CSV records).
SECTION = "speed"
PAPER_TABLE = "table5_runtime.csv"
#: The paper's timing columns and the dpbench size each was measured at (docs/paper.md §5).
PAPER_SIZES = {"vga": "t_vga_ms", "hd": "t_hd_ms", "4k-paper": "t_4k_ms"}
#: Model options that change neither the network nor its cost per image, ignored when an
#: accuracy run and a speed run are matched (a random-weight speed run times the same network).
IGNORED_OPTIONS = frozenset({"pretrained", "batch_size", "compile"})
DEFAULT_SCATTER_METRIC = "am2k:boundary_recall"
DEFAULT_SCATTER_SIZE = "hd"


class ScatterError(DpbenchError):
    """A bad ``--scatter-metric`` / ``--scatter-size``."""


def is_speed_run(store: RunStore) -> bool:
    """Whether a run is a speed measurement (``dpbench speed``) rather than an accuracy run."""
    return store.manifest.get("kind") == SPEED_KIND


@dataclass
class SpeedEntry:
    """What the report needs of one speed run (numbers as stored; None when not measured)."""

    run_id: str
    model: str
    config: str | None
    options: dict
    device: str
    precision: str
    params: float | None
    gflops_hd: float | None
    native: tuple[int, int] | None  # (width, height)
    ms: dict[str, float | None]  # size label -> median ms per image (None: failed)
    status: dict[str, str]  # size label -> "ok", "OOM" or "error"
    peak_mb: float | None
    sizes: list[str]
    size_pixels: dict[str, tuple[int, int]]
    label: str = ""
    #: size label -> the fp32 difference columns (only sizes compared with the fp32 reference)
    fp32_diff: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def max_rel_diff(self) -> float | None:
        """The largest ``out_max_rel_diff`` over the sizes; None when no size was compared."""
        values = measured_values(columns.get("out_max_rel_diff") for columns in self.fp32_diff.values())
        return max(values) if values else None

    @property
    def gmacs_hd(self) -> float | None:
        return None if self.gflops_hd is None else self.gflops_hd / 2.0


@dataclass
class RuntimeSection:
    """The runtime table of a report and the entries it was made from."""

    entries: list[SpeedEntry]
    sizes: list[str]
    table: Table
    paper: bool = False
    notes: list[str] = field(default_factory=list)


def _finite(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def speed_entry(store: RunStore, run_id: str | None = None) -> SpeedEntry:
    """Read one speed run: per size the median milliseconds **per image** (Table 5's unit)."""
    manifest = store.manifest
    speed = manifest.get("speed") or {}
    model = manifest.get("model") or {}
    env = manifest.get("environment") or {}
    rows = store.rows()
    ms: dict[str, float | None] = {}
    status: dict[str, str] = {}
    peaks = []
    fp32_diff: dict[str, dict[str, float]] = {}
    for _, row in rows.iterrows():
        label = str(row["sample_id"])
        if row.get("status") != "ok":
            error = str(row.get("error") or "")
            status[label] = OOM_PREFIX if is_oom_text(error) else "error"
            ms[label] = None
            continue
        value = _finite(row.get("ms_per_image_median"))
        if value is None:
            latency, batch = _finite(row.get("latency_ms_median")), _finite(row.get("batch_size")) or 1.0
            value = None if latency is None else latency / max(batch, 1.0)
        ms[label], status[label] = value, "ok"
        if measured_values(row.get(column) for column in FP32_DIFF_COLUMNS):
            fp32_diff[label] = {column: float(row.get(column, math.nan)) for column in FP32_DIFF_COLUMNS}
        peak = _finite(row.get("peak_mem_mb"))
        if peak is not None:
            peaks.append(peak)
    order = [s for s in speed.get("sizes", []) if s in status] + [s for s in status if s not in speed.get("sizes", [])]
    native = speed.get("native_hw")
    pixels = {k: (int(v[0]), int(v[1])) for k, v in (speed.get("size_pixels") or {}).items()}
    return SpeedEntry(
        run_id=str(run_id or manifest.get("run_id") or store.run_id), model=str(model.get("name", "?")),
        config=model.get("config"), options=dict(manifest.get("model_options") or {}),
        device=str(env.get("device_name") or env.get("device") or "-"), precision=str(env.get("precision") or "-"),
        params=_finite(speed.get("params")), gflops_hd=None if _finite(speed.get("flops_at_hd")) is None
        else float(speed["flops_at_hd"]) / 1e9,
        native=(int(native[1]), int(native[0])) if native else None,
        ms=ms, status=status, peak_mb=max(peaks) if peaks else None, sizes=order, size_pixels=pixels,
        fp32_diff=fp32_diff)


# --- the paper's Table 5 ------------------------------------------------------------------

@dataclass
class PaperRuntime:
    """One row of the paper's Table 5 (``None`` where the paper prints nothing)."""

    method_id: str
    method: str
    params_millions: float | None
    gmacs_hd: float | None  # the paper's "FLOPs @HD" (fvcore: multiply-accumulates)
    native: str
    ms: dict[str, float | None]  # dpbench size label -> ms


@functools.lru_cache(maxsize=4)
def _paper_table(folder: Path) -> dict[str, PaperRuntime]:
    path = folder / PAPER_TABLE
    out = {}
    for row in read_paper_csv(path):
        def number(column: str, row=row) -> float | None:
            return parse_number(row.get(column) or "", path, column)
        out[row["method_id"]] = PaperRuntime(
            row["method_id"], row["method"], number("params_millions"), number("gflops_at_hd"),
            row.get("native_output_resolution", "").strip(), {s: number(c) for s, c in PAPER_SIZES.items()})
    return out


def paper_runtime_rows() -> dict[str, PaperRuntime]:
    """The paper's Table 5 keyed by ``method_id``."""
    return _paper_table(paper_dir())


def paper_runtime_method(entry: SpeedEntry) -> tuple[str | None, str | None]:
    """``(method_id, None)`` when the run timed the network the paper timed, else ``(None, why)``.

    The model name is matched as for the accuracy tables (``baselines/paper/paper.toml``); a run
    of another configuration of that model (e.g. Depth Pro's ``config=tiny``) is a different
    network, so its numbers are not set beside the paper's.
    """
    method_id = paper_method_for_model(entry.model)
    if method_id is None or method_id not in paper_runtime_rows():
        return None, None
    if entry.config not in (None, "", "default"):
        return None, (f"{entry.label}: configuration {entry.config!r} is not the network of the paper's "
                      "Table 5, so its published row is not shown")
    return method_id, None


# --- the table ----------------------------------------------------------------------------

def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _params_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1e6:.1f}M" if value < 1e9 else f"{value / 1e9:.3f}G"


def _difference_text(value: float | None) -> str:
    """A relative difference in scientific notation (they span many orders of magnitude)."""
    return "-" if value is None else f"{value:.2e}"


def _ratio(ours: float | None, theirs: float | None) -> Cell:
    if ours is None or theirs is None or theirs == 0:
        return Cell(None, "-")
    value = ours / theirs
    return Cell(value, f"×{value:.2f}")


def _size_header(label: str, pixels: Mapping[str, tuple[int, int]]) -> str:
    if label in pixels:
        return f"ms {label} ({pixels[label][0]}×{pixels[label][1]})"
    return f"ms {label}"


def build_runtime_section(stores: Mapping[str, RunStore], *, paper: bool = False) -> RuntimeSection | None:
    """The runtime table of the speed runs among ``stores`` (run id -> store); None without any."""
    entries = [speed_entry(store, run_id) for run_id, store in stores.items() if is_speed_run(store)]
    if not entries:
        return None
    labels = run_labels([{"run_id": e.run_id, "model": {"name": e.model}} for e in entries])
    for entry in entries:
        entry.label = labels[entry.run_id] + (f" ({entry.config})" if entry.config not in (None, "", "default") else "")
    sizes: list[str] = []
    pixels: dict[str, tuple[int, int]] = {}
    for entry in entries:
        sizes += [s for s in entry.sizes if s not in sizes]
        pixels.update(entry.size_pixels)
    columns = [Column("Params", "params"), Column("GFLOPs @HD", "gflops_hd"), Column("GMACs @HD", "gmacs_hd"),
               Column("Native", "native")]
    columns += [Column(_size_header(s, pixels), "ms", s) for s in sizes]
    compared = any(entry.max_rel_diff is not None for entry in entries)
    columns += [Column("Peak MiB", "peak_mem_mb")]
    columns += [Column("Max rel. Δ vs fp32", "out_max_rel_diff")] if compared else []
    columns += [Column("Device", "device"), Column("Precision", "precision"), Column("Run", "run_id")]
    table = Table("runtime", "Runtime (Table 5 style): milliseconds per image, median", columns)
    notes = []
    for entry in entries:
        cells = [Cell(entry.params, _params_text(entry.params)), Cell(entry.gflops_hd, _num(entry.gflops_hd, 0)),
                 Cell(entry.gmacs_hd, _num(entry.gmacs_hd, 0)),
                 Cell(None, f"{entry.native[0]}×{entry.native[1]}" if entry.native else "-")]
        for size in sizes:
            state = entry.status.get(size)
            cells.append(Cell(entry.ms.get(size), _num(entry.ms[size], 1)) if state == "ok"
                         else Cell(None, state or "-"))
        cells += [Cell(entry.peak_mb, _num(entry.peak_mb, 0))]
        cells += [Cell(entry.max_rel_diff, _difference_text(entry.max_rel_diff))] if compared else []
        cells += [Cell(None, entry.device), Cell(None, entry.precision), Cell(None, entry.run_id)]
        table.rows.append(Row(entry.label, RUN, cells, entry.run_id))
        if not paper:
            continue
        method_id, why = paper_runtime_method(entry)
        if why:
            notes.append(why)
        if method_id is None:
            continue
        published = paper_runtime_rows()[method_id]
        paper_params = None if published.params_millions is None else published.params_millions * 1e6
        paper_cells = [Cell(paper_params, _params_text(paper_params)), Cell(None, "-"),
                       Cell(published.gmacs_hd, _num(published.gmacs_hd, 0)), Cell(None, published.native or "-")]
        ratio_cells = [_ratio(entry.params, paper_params), Cell(None, "-"), _ratio(entry.gmacs_hd, published.gmacs_hd),
                       Cell(None, "-")]
        for size in sizes:
            theirs = published.ms.get(size)
            paper_cells.append(Cell(theirs, _num(theirs, 1)))
            ratio_cells.append(_ratio(entry.ms.get(size), theirs))
        paper_cells += [Cell(None, "-")] * (2 if compared else 1)
        paper_cells += [Cell(None, "V100 (paper)"), Cell(None, "-"), Cell(None, "-")]
        ratio_cells += [Cell(None, "-")] * (5 if compared else 4)
        table.rows.append(Row(f"{published.method} (paper)", PAPER, paper_cells, method=published.method))
        table.rows.append(Row(f"{entry.label} / {published.method} (paper)", DIFF, ratio_cells, entry.run_id,
                              method=published.method))
    table.notes.append("ms per image: median over the repeats of the full predict path (pre-processing, "
                       "network, resizing back); OOM: out of memory at that size. GFLOPs count 2 per "
                       "multiply-accumulate, GMACs = GFLOPs / 2. Peak MiB: the largest over the sizes.")
    if compared:
        table.notes.append("Max rel. Δ vs fp32: the largest over the sizes of max |depth − fp32 depth| / "
                           "max |fp32 depth| on the first timed image, against the same model at fp32 without "
                           "compile or speed-only options; '-': a plain fp32 run (its own reference) or not "
                           "compared.")
    if paper and any(row.kind == PAPER for row in table.rows):
        table.notes.append("Paper rows: Table 5 of the paper (a V100 GPU; precision not stated). Its 'FLOPs' "
                           "are fvcore multiply-accumulates, shown under GMACs; its 4K column timed 4032×3024 "
                           "photos (size 4k-paper). Ratio rows: ours / paper.")
    return RuntimeSection(entries, sizes, table, paper, notes)


def _json_difference(value: float | None) -> float | str | None:
    """A difference as JSON has it: None when not measured (NaN), ``"inf"`` for an overflow."""
    if value is None or math.isnan(value):
        return None
    return value if math.isfinite(value) else "inf"


def runtime_json(section: RuntimeSection | None) -> list[dict] | None:
    """The runtime entries as plain JSON (``dpbench report --format json``, key ``runtime``)."""
    if section is None:
        return None
    out = []
    for entry in section.entries:
        paper = None
        if section.paper:
            method_id, _ = paper_runtime_method(entry)
            if method_id is not None:
                published = paper_runtime_rows()[method_id]
                paper = {"method_id": method_id, "method": published.method,
                         "params": None if published.params_millions is None else published.params_millions * 1e6,
                         "gmacs_hd": published.gmacs_hd, "native": published.native,
                         "ms_per_image": {s: published.ms.get(s) for s in entry.sizes if s in published.ms}}
        out.append({"run_id": entry.run_id, "model": entry.model, "config": entry.config,
                    "model_options": entry.options, "device": entry.device, "precision": entry.precision,
                    "params": entry.params, "gflops_hd": entry.gflops_hd, "gmacs_hd": entry.gmacs_hd,
                    "native": list(entry.native) if entry.native else None, "ms_per_image": entry.ms,
                    "status": entry.status, "peak_mem_mb": entry.peak_mb,
                    "max_rel_diff_vs_fp32": _json_difference(entry.max_rel_diff),
                    "fp32_diff": {size: {k: _json_difference(v) for k, v in columns.items()}
                                  for size, columns in entry.fp32_diff.items()},
                    "paper": paper})
    return out


def runtime_csv_records(section: RuntimeSection | None) -> list[dict[str, str]]:
    """Tidy CSV records (``suite`` = ``speed``; ``dataset`` = the size for per-size values) of
    the numeric cells: runs (source ``run``), paper rows (``paper``) and ratios (``ratio``)."""
    if section is None:
        return []
    records = []
    source = {RUN: "run", PAPER: "paper", DIFF: "ratio"}
    models = {entry.run_id: entry.model for entry in section.entries}
    for row in section.table.rows:
        for column, cell in zip(section.table.columns, row.cells, strict=True):
            if cell.value is None:
                continue
            metric = "ms_per_image" if column.metric == "ms" else column.metric
            records.append({"suite": SECTION, "source": source[row.kind], "run_id": row.run_id or "",
                            "model": models[row.run_id] if row.kind == RUN else row.method or row.label,
                            "dataset": column.dataset or "", "metric": metric, "value": repr(float(cell.value))})
    return records


# --- the scatter --------------------------------------------------------------------------

@dataclass
class ScatterPoint:
    label: str
    latency_ms: float
    value: float
    accuracy_run: str
    speed_run: str


def parse_scatter_metric(text: str) -> tuple[str, str]:
    """``DATASET:METRIC`` -> (dataset, metric); ScatterError on another form or an unknown metric."""
    from dpbench.tasks import all_metrics

    dataset, sep, metric = text.partition(":")
    if not sep or not dataset.strip() or not metric.strip():
        raise ScatterError(f"--scatter-metric {text!r}: expected DATASET:METRIC, e.g. {DEFAULT_SCATTER_METRIC}")
    metric = metric.strip()
    if metric not in all_metrics():
        raise ScatterError(f"--scatter-metric {text!r}: unknown metric {metric!r} "
                           f"(known: {', '.join(sorted(all_metrics()))})")
    return dataset.strip(), metric


def _identity(name: str, options: Mapping) -> tuple[str, str]:
    kept = {k: options[k] for k in sorted(options) if k not in IGNORED_OPTIONS}
    return name, repr(kept)


def scatter_points(aggregates: Sequence[Mapping], options: Mapping[str, Mapping], entries: Sequence[SpeedEntry],
                   dataset: str, metric: str, size: str) -> list[ScatterPoint]:
    """One point per accuracy run that has ``dataset``/``metric`` and a speed run of the same model
    and options (ignoring :data:`IGNORED_OPTIONS`) measured at ``size``; ``options`` maps each
    accuracy run id to its model options. The latest speed run of a model wins (``entries`` order)."""
    speed = {}
    for entry in entries:
        if entry.ms.get(size) is not None:
            speed[_identity(entry.model, entry.options)] = entry
    points = []
    for agg in aggregates:
        value = (agg.get("results") or {}).get(dataset, {}).get(metric)
        if value is None or not math.isfinite(value):
            continue
        name = str((agg.get("model") or {}).get("name", "?"))
        entry = speed.get(_identity(name, options.get(agg["run_id"], {})))
        if entry is None:
            continue
        points.append(ScatterPoint(name, float(entry.ms[size]), float(value), str(agg["run_id"]), entry.run_id))
    return points


def pareto_front(points: Sequence[ScatterPoint], higher_is_better: bool = True) -> list[int]:
    """Indices of the points no other point beats, fastest first.

    A point is dominated when another is at least as fast and at least as accurate, and strictly
    better in one of the two. Walking the points from fastest to slowest (ties: most accurate
    first), a point is on the front when it is strictly more accurate than every faster one.
    """
    sign = 1.0 if higher_is_better else -1.0
    order = sorted(range(len(points)), key=lambda i: (points[i].latency_ms, -sign * points[i].value))
    front, best = [], -math.inf
    for i in order:
        score = sign * points[i].value
        if score > best:
            front.append(i)
            best = score
    return front


#: Colours of the scatter (fixed so that tests can find them in the PNG).
POINT_COLOUR = "#1f77b4"
FRONT_COLOUR = "#d62728"


def scatter_figure(points: Sequence[ScatterPoint], dataset: str, metric: str, size: str,
                   size_pixels: tuple[int, int] | None = None):
    """The matplotlib figure of the scatter (log-x latency, metric on y, the front in red)."""
    from dpbench.report.plots import new_figure
    from dpbench.tasks import metric_info

    info = metric_info(metric)
    scale = 100.0 if info.percent else 1.0
    figure = new_figure(5.5, 3.8)
    axes = figure.add_subplot()
    xs = [p.latency_ms for p in points]
    ys = [p.value * scale for p in points]
    front = pareto_front(points, info.higher_is_better)
    fx, fy = [xs[i] for i in front], [ys[i] for i in front]
    axes.step(fx, fy, where="post", color=FRONT_COLOUR, linewidth=1.5, label="Pareto front", zorder=2)
    axes.scatter(xs, ys, s=60, color=POINT_COLOUR, edgecolors="none", zorder=3)
    for x, y, point in zip(xs, ys, points, strict=True):
        axes.annotate(point.label, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    axes.set_xscale("log")
    axes.margins(x=0.12, y=0.1)  # room for the labels of the outermost points
    where = f"{size} ({size_pixels[0]}×{size_pixels[1]})" if size_pixels else size
    axes.set_xlabel(f"ms per image at {where}, log scale (faster ←)")
    arrow = "higher is better" if info.higher_is_better else "lower is better"
    axes.set_ylabel(f"{dataset} {info.label}{' (%)' if info.percent else ''} ({arrow})")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8, loc="best")
    return figure


def scatter_plot(report, metric: str = DEFAULT_SCATTER_METRIC, size: str = DEFAULT_SCATTER_SIZE):
    """The Fig. 2-style :class:`~dpbench.report.plots.Plot` of a report, or ``(None, note)`` when
    no model has both an accuracy run with the metric and a speed run at the size."""
    from dpbench.report.plots import Plot, figure_png
    from dpbench.speed.sizes import parse_size

    dataset, name = parse_scatter_metric(metric)
    size = parse_size(size).label
    section = getattr(report, "runtime", None)
    if section is None:
        return None, None
    options = {run_id: dict(store.manifest.get("model_options") or {}) for run_id, store in report.stores.items()}
    points = scatter_points(report.aggregates, options, section.entries, dataset, name, size)
    if not points:
        return None, (f"no scatter of {dataset}:{name} against latency at {size}: no model has both an accuracy "
                      "run with that metric and a speed run at that size (matched by model name and options)")
    pixels = next((e.size_pixels.get(size) for e in section.entries if size in e.size_pixels), None)
    figure = scatter_figure(points, dataset, name, size, pixels)
    title = f"{dataset} {name} against latency at {size} (Fig. 2 style)"
    return Plot(SECTION, f"speed_scatter_{dataset}_{name}_{size}".replace(":", "-"), title, figure_png(figure)), None


__all__ = ["DEFAULT_SCATTER_METRIC", "DEFAULT_SCATTER_SIZE", "PaperRuntime", "RuntimeSection", "ScatterError",
           "ScatterPoint", "SpeedEntry", "build_runtime_section", "is_speed_run", "paper_runtime_method",
           "paper_runtime_rows", "pareto_front", "parse_scatter_metric", "runtime_csv_records", "runtime_json",
           "scatter_figure", "scatter_plot", "scatter_points", "speed_entry"]
