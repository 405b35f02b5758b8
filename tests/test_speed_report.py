"""Speed runs in reports (runtime table, Fig. 2 scatter) and in ``dpbench check``.

The speed runs are written through RunStore with hand-chosen numbers (no timing, no model), so
every expected cell and ratio below is computed by hand.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import standard_run

from dpbench.cli import cli
from dpbench.report import build_report, render_report
from dpbench.report.figures import report_plots
from dpbench.report.plots import figure_png
from dpbench.report.runtime import (
    FRONT_COLOUR,
    POINT_COLOUR,
    ScatterError,
    ScatterPoint,
    pareto_front,
    parse_scatter_metric,
    scatter_figure,
    scatter_points,
    speed_entry,
)
from dpbench.store import RunStore

PIXELS = {"vga": (640, 480), "hd": (1920, 1080), "4k-paper": (4032, 3024), "4k": (3840, 2160)}
ENV = {"device": "cpu", "device_name": "Test CPU", "hostname": "host-1", "precision": "fp32"}


def speed_run(runs_dir, run_id, *, model="depthpro", config=None, ms=None, peaks=None, oom=(), options=None,
              env=None, params=951_991_330, flops_hd=19_248e9, native=(1536, 1536), speed_extra=None,
              created="2026-01-02T00:00:00Z", diffs=None):
    """A finished speed run: ``ms`` = size label -> median ms per image (batch 1); ``diffs`` =
    size label -> the fp32 difference columns of that row."""
    ms = dict(ms or {"vga": 400.0, "hd": 682.6, "4k-paper": 1023.9})
    peaks = dict(peaks or {})
    sizes = list(ms) + [s for s in oom if s not in ms]
    manifest = {
        "run_id": run_id, "kind": "speed", "status": "complete", "created": created, "finished": created,
        "model": {"name": model, "config": config, "output_kind": "metric_depth", "checkpoint_sha256": None},
        "model_options": dict(options or {}), "suite": "speed", "protocol": {}, "datasets": [],
        "environment": dict(env or ENV),
        "speed": {"role": "candidate", "sizes": sizes, "size_pixels": {s: list(PIXELS[s]) for s in sizes},
                  "batch_size": 1, "params": params, "flops_at_hd": flops_hd,
                  "native_hw": list(native) if native else None, **(speed_extra or {})},
    }
    store = RunStore.create(runs_dir / run_id, manifest)
    rows = []
    for index, size in enumerate(sizes):
        width, height = PIXELS[size]
        row = {"dataset": "speed", "sample_id": size, "task": "speed", "sample_index": index,
               "width": width, "height": height, "batch_size": 1}
        if size in oom:
            row.update(status="error", error="OOM: OutOfMemoryError: CUDA out of memory")
        else:
            row.update(status="ok", error="", latency_ms_median=ms[size], ms_per_image_median=ms[size],
                       peak_mem_mb=peaks.get(size, 100.0 * (index + 1)), **(diffs or {}).get(size, {}))
        rows.append(row)
    store.append_rows(rows)
    store.consolidate()
    return store


def md_row(text: str, label: str) -> list[str]:
    """The cells of the Markdown table row whose first cell is ``label``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no row {label!r} in:\n{text}")


# --- the runtime table -----------------------------------------------------------------------

def test_speed_entry_reads_per_image_numbers_and_failures(tmp_path):
    store = speed_run(tmp_path, "s", ms={"vga": 10.0, "4k": 90.0}, oom=("hd",), peaks={"vga": 50.0, "4k": 700.0})
    entry = speed_entry(store)
    assert entry.sizes == ["vga", "4k", "hd"]
    assert entry.ms == {"vga": 10.0, "4k": 90.0, "hd": None}
    assert entry.status == {"vga": "ok", "4k": "ok", "hd": "OOM"}
    assert entry.peak_mb == 700.0
    assert entry.native == (1536, 1536) and entry.gflops_hd == 19_248.0 and entry.gmacs_hd == 9_624.0


def test_runtime_table_replaces_the_speed_suite_and_shows_each_size(tmp_path):
    speed_run(tmp_path, "fast", model="fast-model", ms={"vga": 12.5, "hd": 30.25}, oom=("4k",),
              params=2_500_000, flops_hd=3e9, native=(384, 512), peaks={"vga": 64.0, "hd": 80.0})
    report = build_report([tmp_path / "fast"])
    assert report.sections == [] and report.aggregates == []  # no "speed" suite any more
    text = render_report(report, "markdown")
    assert "## Suite `speed`" not in text and "## Speed" in text
    assert "ms hd (1920×1080)" in text and "ms 4k (3840×2160)" in text
    # params, GFLOPs, GMACs, native (W×H), vga, hd, 4k, peak (max over sizes), device, precision
    assert md_row(text, "fast-model") == ["2.5M", "3", "2", "512×384", "12.5", "30.2", "OOM", "80",
                                         "Test CPU", "fp32", "fast"]


def test_paper_row_and_ratios_beside_the_matching_model(tmp_path):
    speed_run(tmp_path, "dp", ms={"vga": 400.0, "hd": 682.6, "4k-paper": 1023.9}, peaks={"hd": 2000.0})
    speed_run(tmp_path, "tiny", config="tiny", ms={"vga": 40.0}, created="2026-01-03T00:00:00Z")
    report = build_report([tmp_path / "dp", tmp_path / "tiny"], paper=True)
    text = render_report(report, "markdown")
    assert md_row(text, "depthpro [dp]")[:7] == ["952.0M", "19,248", "9,624", "1536×1536", "400.0", "682.6", "1,023.9"]
    # Table 5: 504M, 4370 G(MACs), 1536x1536, 341.3 ms at every size
    assert md_row(text, "Depth Pro (paper)")[:7] == ["504.0M", "-", "4,370", "1536x1536", "341.3", "341.3", "341.3"]
    # 951.99133/504 = 1.889; 9624/4370 = 2.202; 400/341.3 = 1.172; 682.6/341.3 = 2; 1023.9/341.3 = 3
    assert md_row(text, "depthpro [dp] / Depth Pro (paper)")[:7] == ["×1.89", "-", "×2.20", "-", "×1.17", "×2.00",
                                                                     "×3.00"]
    # the tiny configuration is another network: no paper row, and a note says why
    assert "depthpro [tiny] (tiny) / Depth Pro (paper)" not in text
    assert any("'tiny' is not the network" in note for note in report.notes)
    document = json.loads(render_report(report, "json"))
    first = document["runtime"][0]
    assert first["paper"]["ms_per_image"] == {"vga": 341.3, "hd": 341.3, "4k-paper": 341.3}
    assert first["ms_per_image"]["hd"] == 682.6 and document["runtime"][1]["paper"] is None
    records = list(render_report(report, "csv").splitlines())
    assert "speed,run,dp,depthpro,hd,ms_per_image,682.6" in records
    assert "speed,paper,,Depth Pro,4k-paper,ms_per_image,341.3" in records
    ratio = [r for r in records if r.startswith("speed,ratio,dp,Depth Pro,hd,ms_per_image,")]
    assert len(ratio) == 1 and math.isclose(float(ratio[0].rsplit(",", 1)[1]), 2.0)
    latex = render_report(report, "latex")
    assert r"\caption{Runtime (Table 5 style)" in latex
    assert r"depthpro [dp] / Depth Pro (paper) & $\times$1.89" in latex and r"1536$\times$1536" in latex
    html = render_report(report, "html")
    assert "<h2>Speed</h2>" in html and '<tr class="paper"><td>Depth Pro (paper)</td><td>504.0M</td>' in html


def _diffs(max_rel, focal=float("nan")):
    return {"out_max_abs_diff": max_rel * 10, "out_max_rel_diff": max_rel, "out_median_rel_diff": max_rel / 4,
            "out_focal_diff": focal}


def test_runtime_table_shows_the_largest_relative_difference_from_fp32(tmp_path):
    env = {**ENV, "precision": "bf16"}
    speed_run(tmp_path, "bf", ms={"vga": 300.0, "hd": 500.0, "4k-paper": 900.0}, env=env,
              diffs={"vga": _diffs(2e-3, 1.5), "hd": _diffs(4e-3), "4k-paper": _diffs(float("inf"))},
              created="2026-01-02T00:00:00Z")
    speed_run(tmp_path, "f32", ms={"vga": 400.0}, created="2026-01-03T00:00:00Z")  # plain fp32: no diffs
    report = build_report([tmp_path / "bf", tmp_path / "f32"], paper=True)
    text = render_report(report, "markdown")
    assert "| Max rel. Δ vs fp32 |" in text
    # the largest over the sizes (an overflow, inf, is the largest); '-' for the plain fp32 run
    assert md_row(text, "depthpro [bf]")[7:10] == ["300", "inf", "Test CPU"]
    assert md_row(text, "depthpro [f32]")[7:10] == ["100", "-", "Test CPU"]
    assert md_row(text, "Depth Pro (paper)")[7:9] == ["-", "-"]  # the paper row keeps its columns aligned
    assert md_row(text, "Depth Pro (paper)")[9] == "V100 (paper)"
    assert any("Max rel. Δ vs fp32" in note for note in report.runtime.table.notes)
    document = json.loads(render_report(report, "json"))
    bf, f32 = document["runtime"]
    assert bf["max_rel_diff_vs_fp32"] == "inf" and f32["max_rel_diff_vs_fp32"] is None and f32["fp32_diff"] == {}
    assert bf["fp32_diff"]["vga"] == {"out_max_abs_diff": 0.02, "out_max_rel_diff": 2e-3,
                                      "out_median_rel_diff": 5e-4, "out_focal_diff": 1.5}
    assert bf["fp32_diff"]["hd"]["out_focal_diff"] is None  # NaN: no focal
    records = render_report(report, "csv").splitlines()
    assert "speed,run,bf,depthpro,,out_max_rel_diff,inf" in records
    assert not [r for r in records if r.startswith("speed,run,f32,") and ",out_max_rel_diff," in r]
    latex = render_report(report, "latex")
    assert r"Peak MiB & Max rel. $\Delta$ vs fp32 & Device" in latex and r"& 300 & inf & Test CPU" in latex
    assert "<th>Max rel. Δ vs fp32</th>" in render_report(report, "html")
    # finite values are printed in scientific notation
    speed_run(tmp_path, "bf2", ms={"vga": 300.0}, env=env, diffs={"vga": _diffs(2.5e-3)})
    text = render_report(build_report([tmp_path / "bf2"]), "markdown")
    assert md_row(text, "depthpro")[5:7] == ["100", "2.50e-03"]


def test_accuracy_and_speed_runs_in_one_report(tmp_path):
    rng = np.random.default_rng(0)
    standard_run(tmp_path, "acc", model="depthpro", rng=rng, recall=0.4)
    speed_run(tmp_path, "spd")
    report = build_report([tmp_path / "acc", tmp_path / "spd"])
    assert [s.suite for s in report.sections] == ["sample"]
    assert "from 2 run(s)." in render_report(report, "markdown") and "from 2 run(s)." in render_report(report, "html")
    assert [e.run_id for e in report.runtime.entries] == ["spd"]
    assert [r["run_id"] for r in json.loads(render_report(report, "json"))["runs"]] == ["acc"]


def test_a_speed_run_sharing_an_accuracy_run_id_is_kept_apart(tmp_path):
    standard_run(tmp_path / "a", "same", model="depthpro", rng=np.random.default_rng(0))
    speed_run(tmp_path / "b", "same")
    report = build_report([tmp_path / "a" / "same", tmp_path / "b" / "same"])
    key = f"same@{tmp_path / 'b' / 'same'}"
    assert set(report.stores) == {"same", key}
    assert report.stores["same"].manifest.get("kind") is None and report.runtime.entries[0].run_id == key


# --- the scatter ------------------------------------------------------------------------------

def _points(pairs):
    return [ScatterPoint(chr(97 + i), x, y, f"a{i}", f"s{i}") for i, (x, y) in enumerate(pairs)]


def test_pareto_front_by_hand():
    # a(10, .5) b(20, .4) c(30, .7) d(30, .6) e(5, .3): b is beaten by a, d by c (same time, less accurate)
    points = _points([(10, 0.5), (20, 0.4), (30, 0.7), (30, 0.6), (5, 0.3)])
    assert pareto_front(points, higher_is_better=True) == [4, 0, 2]  # e, a, c: fastest first
    # lower is better: e (fastest and lowest) beats a-d; f(50, .1) is slower but lower
    points = _points([(10, 0.5), (20, 0.4), (30, 0.7), (30, 0.6), (5, 0.3), (50, 0.1)])
    assert pareto_front(points, higher_is_better=False) == [4, 5]
    # an exact duplicate does not join the front twice
    assert pareto_front(_points([(1, 0.5), (1, 0.5)])) == [0]
    assert pareto_front([]) == []


def test_scatter_points_match_model_name_and_options(tmp_path):
    rng = np.random.default_rng(0)
    standard_run(tmp_path, "acc", model="depthpro", rng=rng, recall=0.4)
    standard_run(tmp_path, "other", model="dpt", rng=rng, recall=0.3)
    speed_run(tmp_path, "spd", options={"pretrained": False})  # pretrained does not change the network
    speed_run(tmp_path, "spd-other", model="dpt", options={"config": "tiny"})  # other options: no match
    report = build_report([tmp_path / n for n in ("acc", "other", "spd", "spd-other")])
    options = {run_id: s.manifest.get("model_options") or {} for run_id, s in report.stores.items()}
    points = scatter_points(report.aggregates, options, report.runtime.entries, "am2k", "boundary_recall", "hd")
    assert [(p.label, p.latency_ms, p.accuracy_run, p.speed_run) for p in points] == [("depthpro", 682.6, "acc", "spd")]
    assert math.isclose(points[0].value, 0.4)
    assert scatter_points(report.aggregates, options, report.runtime.entries, "am2k", "boundary_recall", "4k") == []


def _png_pixels(png: bytes) -> np.ndarray:
    from matplotlib.image import imread

    return (imread(io.BytesIO(png)) * 255).round().astype(int)


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])


def test_scatter_figure_content(tmp_path):
    points = _points([(10, 0.5), (20, 0.4), (100, 0.7), (5, 0.3)])  # front: d(5) a(10) c(100)
    figure = scatter_figure(points, "am2k", "boundary_recall", "hd", (1920, 1080))
    pixels = _png_pixels(figure_png(figure))[..., :3]
    axes = figure.axes[0]
    assert axes.get_xscale() == "log" and axes.get_yscale() == "linear"
    height = pixels.shape[0]

    def at(x, y):
        px, py = axes.transData.transform((x, y))
        return int(round(height - py)), int(round(px))

    def near(x, y, colour, radius=1):
        row, col = at(x, y)
        patch = pixels[row - radius:row + radius + 1, col - radius:col + radius + 1].reshape(-1, 3)
        return bool((np.abs(patch - _rgb(colour)).max(axis=1) <= 40).any())

    for p in points:  # every point is drawn in the point colour (recall is plotted as stored, 0-1)
        assert near(p.latency_ms, p.value, POINT_COLOUR), p
    # the front is a step line: flat at d's recall between d and a (geometric middle on a log axis)...
    assert near(math.sqrt(5 * 10), 0.3, FRONT_COLOUR)
    # ...and at a's recall between a and c, passing over b (which is below it, off the front)
    assert near(math.sqrt(10 * 100), 0.5, FRONT_COLOUR)
    assert not near(math.sqrt(10 * 100), 0.4, FRONT_COLOUR, radius=2)
    # equal pixel distances for equal ratios: the x axis is logarithmic
    (_, c5), (_, c10), (_, c20) = at(5, 0.3), at(10, 0.3), at(20, 0.3)
    assert abs((c10 - c5) - (c20 - c10)) <= 1


def test_scatter_in_html_and_plots(tmp_path):
    rng = np.random.default_rng(0)
    standard_run(tmp_path, "acc", model="depthpro", rng=rng, recall=0.4)
    speed_run(tmp_path, "spd")
    report = build_report([tmp_path / "acc", tmp_path / "spd"])
    plots, notes = report_plots(report, qualitative=0)
    scatter = [p for p in plots if p.suite == "speed"]
    assert len(scatter) == 1 and scatter[0].name == "speed_scatter_am2k_boundary_recall_hd"
    assert scatter[0].png.startswith(b"\x89PNG")
    html = render_report(report, "html", plots=plots, notes=notes)
    speed_part = html[html.index("<h2>Speed</h2>"):]
    assert '<img alt="am2k boundary_recall against latency at hd (Fig. 2 style)"' in speed_part
    # a size no speed run measured: no figure, and a note
    plots, notes = report_plots(report, qualitative=0, scatter_size="4k")
    assert not [p for p in plots if p.suite == "speed"]
    assert any("latency at 4k" in n for n in notes)


def test_scatter_metric_must_be_dataset_colon_metric():
    assert parse_scatter_metric("am2k:boundary_recall") == ("am2k", "boundary_recall")
    with pytest.raises(ScatterError, match="DATASET:METRIC"):
        parse_scatter_metric("boundary_recall")
    with pytest.raises(ScatterError, match="unknown metric 'nope'"):
        parse_scatter_metric("am2k:nope")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_cli_report_with_speed_runs_and_bad_scatter_options(tmp_path):
    rng = np.random.default_rng(0)
    standard_run(tmp_path, "acc", model="depthpro", rng=rng, recall=0.4)
    speed_run(tmp_path, "spd")
    plots = tmp_path / "plots"
    result = invoke(["report", str(tmp_path / "acc"), str(tmp_path / "spd"), "--plots", str(plots),
                     "--qualitative", "0", "--out", str(tmp_path / "r.md")])
    assert result.exit_code == 0, result.output
    assert (plots / "speed_scatter_am2k_boundary_recall_hd.png").is_file()
    text = (tmp_path / "r.md").read_text()
    assert "![am2k boundary_recall against latency at hd (Fig. 2 style)](plots/speed_scatter" in text
    for bad, message in ((["--scatter-metric", "recall"], "DATASET:METRIC"), (["--scatter-size", "huge"], "unknown size")):
        result = invoke(["report", str(tmp_path / "spd"), *bad])
        assert result.exit_code == 2
        assert len(result.output.strip().splitlines()) == 1 and message in result.output


# --- dpbench check on speed runs ----------------------------------------------------------------

def _pair(tmp_path, candidate_ms, baseline_ms, baseline_env=None):
    runs = tmp_path / "runs"
    speed_run(runs, "new", model="new", ms=candidate_ms, speed_extra={"baseline_run": "new.baseline"})
    speed_run(runs, "new.baseline", model="old", ms=baseline_ms, env=baseline_env,
              speed_extra={"role": "baseline", "candidate_run": "new"})
    return runs


def test_check_dispatches_speed_runs_to_the_speed_gate(tmp_path):
    runs = _pair(tmp_path, {"vga": 11.0, "hd": 30.0}, {"vga": 10.0, "hd": 20.0})
    # no --against: the baseline measured with it; hd 30/20 = 1.5 > 1.1
    result = invoke(["check", "new", "--runs-dir", str(runs)])
    assert result.exit_code == 1, result.output
    assert "hd: SLOWER  candidate 30.0 ms/image, baseline 20.0 ms/image, ratio 1.500 (limit 1.100)" in result.output
    assert "vga: ok  candidate 11.0 ms/image, baseline 10.0 ms/image, ratio 1.100 (limit 1.100)" in result.output
    # --tolerance 60%: 1.5 <= 1.6 passes; as a fraction too; --against by run id and by folder
    assert invoke(["check", "new", "--runs-dir", str(runs), "--tolerance", "60%"]).exit_code == 0
    assert invoke(["check", str(runs / "new"), "--against", "new.baseline", "--runs-dir", str(runs),
                   "--tolerance", "0.6"]).exit_code == 0
    assert invoke(["check", str(runs / "new"), "--against", str(runs / "new.baseline"),
                   "--tolerance", "0.49"]).exit_code == 1
    # the baseline checked against the candidate is faster: pass
    assert invoke(["check", "new.baseline", "--against", "new", "--runs-dir", str(runs)]).exit_code == 0


def test_check_speed_not_comparable_and_bad_tolerance(tmp_path):
    runs = _pair(tmp_path, {"vga": 10.0}, {"vga": 10.0}, baseline_env={**ENV, "device_name": "Other CPU"})
    result = invoke(["check", "new", "--runs-dir", str(runs)])
    assert result.exit_code == 2
    assert "not comparable: different device name: 'Test CPU' vs 'Other CPU'" in result.output
    speed_run(runs, "alone", ms={"vga": 10.0})
    result = invoke(["check", "alone", "--runs-dir", str(runs)])
    assert result.exit_code == 2 and "has no baseline run" in result.output
    result = invoke(["check", "alone", "--runs-dir", str(runs), "--tolerance", "fast"])
    assert result.exit_code == 2 and result.output.strip() == \
        "error: --tolerance 'fast': expected a fraction (0.1) or a percentage (10%)"
    result = invoke(["check", "alone", "--runs-dir", str(runs), "--tolerance", "-5%"])
    assert result.exit_code == 2 and "must be a finite amount >= 0" in result.output


def test_check_of_an_accuracy_run_still_needs_against(tmp_path):
    standard_run(tmp_path, "acc", model="depthpro", rng=np.random.default_rng(0))
    result = invoke(["check", str(tmp_path / "acc")])
    assert result.exit_code == 2 and "--against is required" in result.output
