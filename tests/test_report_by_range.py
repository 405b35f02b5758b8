"""`dpbench report --by-range`: per-bin depth metrics from stored rows vs a direct per-bin computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import dataset_entry, manifest, write_run

from dpbench.cli import cli
from dpbench.protocol import default_protocol
from dpbench.report.by_range import by_range_tables, render_by_range
from dpbench.store import RunStore
from dpbench.tasks import get_task
from dpbench.types import Prediction, Sample

EDGES = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, math.inf)


def _scenes(seed=0, n=3, shape=(20, 30)):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        gt = rng.uniform(0.2, 12.0, shape).astype(np.float32)
        if i == 0:
            gt[gt < 2.0] = 3.0  # the first image has no pixel in 0–1 and 1–2 m
        pred = (gt * rng.uniform(0.7, 1.4, shape)).astype(np.float32)
        out.append((f"s{i}", pred, gt))
    return out


def _run(tmp_path, run_id="r1", protocol=None):
    protocol = protocol or default_protocol(depth_range="none").for_dataset((None, None))
    task = get_task("metric_depth")
    rows = []
    for sid, pred, gt in _scenes():
        sample = Sample(id=sid, image=np.zeros((*gt.shape, 3), np.uint8), depth=gt)
        row = task.score(sample, Prediction(depth=pred, output_kind="metric_depth"), protocol)
        rows.append({"dataset": "hypersim", "sample_id": sid, "task": "metric_depth", "status": "ok",
                     "error": "", **row})
    man = manifest(run_id, datasets=[dataset_entry("hypersim", ["metric_depth"], num_samples=3)],
                   protocol={"aggregation": "per_image", "depth_bins": list(protocol.depth_bins)})
    return RunStore(write_run(tmp_path, man, rows))


def _direct_delta1(lo, hi, pooled):
    hits, counts, per_image = 0, 0, []
    for _, pred, gt in _scenes():
        g, p = gt.astype(np.float64), pred.astype(np.float64)
        sel = (g >= lo) & (g < hi)
        if not sel.any():
            continue
        ok = np.maximum(p[sel] / g[sel], g[sel] / p[sel]) < 1.25
        hits, counts = hits + ok.sum(), counts + sel.sum()
        per_image.append(ok.mean())
    if counts == 0:
        return math.nan, 0
    return (hits / counts if pooled else float(np.mean(per_image))), int(counts)


@pytest.mark.parametrize("aggregation", ["per_image", "pooled"])
def test_bins_equal_a_direct_per_bin_computation(tmp_path, aggregation):
    tables, notes = by_range_tables([_run(tmp_path)], ["delta1"], aggregation)
    assert notes == [] and len(tables) == 1
    table = tables[0]
    assert table.dataset == "hypersim" and table.labels == ["0–1 m", "1–2 m", "2–4 m", "4–8 m", "8–16 m", "> 16 m"]
    (values,), (pixels,) = table.values.values(), table.pixels.values()
    for k, (lo, hi) in enumerate(zip(EDGES[:-1], EDGES[1:], strict=True)):
        want, count = _direct_delta1(lo, hi, aggregation == "pooled")
        assert pixels[k] == count
        if count == 0:
            assert math.isnan(values[k])  # > 16 m: no pixel
        else:
            assert values[k] == pytest.approx(want, rel=1e-12)
    assert pixels[-1] == 0


def test_custom_edges_and_other_metrics(tmp_path):
    protocol = default_protocol(depth_range="none", depth_bins=[0, 5]).for_dataset((None, None))
    tables, _ = by_range_tables([_run(tmp_path, protocol=protocol)], ["delta1", "abs_rel"], "pooled")
    assert [t.metric for t in tables] == ["delta1", "abs_rel"]
    assert tables[0].labels == ["0–5 m", "> 5 m"]
    want, _ = _direct_delta1(5.0, math.inf, pooled=True)
    assert list(tables[0].values.values())[0][1] == pytest.approx(want, rel=1e-12)
    text = render_by_range(tables, "markdown")
    assert "δ1 (%) ↑ by ground-truth depth on hypersim" in text and "AbsRel ↓" in text


def test_cli_prints_the_tables(tmp_path):
    _run(tmp_path / "runs")
    result = CliRunner().invoke(cli, ["report", "--runs-dir", str(tmp_path / "runs"), "--by-range"])
    assert result.exit_code == 0, result.output
    assert "| Model | 0–1 m | 1–2 m | 2–4 m | 4–8 m | 8–16 m | > 16 m |" in result.output
    result = CliRunner().invoke(cli, ["report", "--runs-dir", str(tmp_path / "runs"), "--by-range",
                                      "--by-range-metric", "boundary_f1"])
    assert result.exit_code == 2 and "not a metric of the metric_depth task" in result.output
