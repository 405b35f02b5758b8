"""The `upperbound` suite (paper Table 7 / Fig. 9): its definition, its default probe runs, and
`dpbench run --suite upperbound` on the sample suite's Sintel part, with the stored numbers of the
resample and shift probes checked against independent computations on the GT."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from dpbench.cli import cli
from dpbench.runner import RunConfig, default_runs, run
from dpbench.store import RunStore
from dpbench.suites import SuiteError, get_suite

THRESHOLDS = np.linspace(1.05, 1.25, 10)


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    from dpbench.sample import generate_sample_suite

    base = tmp_path_factory.mktemp("upperbound")
    return generate_sample_suite(base / "sample", scale=0.5)  # Sintel frames 82×192


def test_upperbound_suite_definition():
    suite = get_suite("upperbound")
    assert suite.dataset_names == ["unrealstereo4k", "sintel", "spring", "hypersim"]
    assert all(e.tasks == ("metric_depth", "boundary_depth") for e in suite.entries)
    assert suite.paper_tables == ("table7_resolution_upper_bound",)
    assert "log10" in suite.metrics and "abs_rel" in suite.metrics and "boundary_f1" in suite.metrics


def test_default_runs():
    assert default_runs("upperbound") == [
        ("probe:gt-resample", {"size": 1536}), ("probe:gt-resample", {"size": 768}),
        ("probe:gt-resample", {"size": 518}), ("probe:gt-resample", {"size": 384}),
        ("probe:gt-shift", {"k": 1}), ("probe:gt-shift", {"k": 2}),
        ("probe:gt-shift", {"k": 4}), ("probe:gt-shift", {"k": 8})]
    # suites with default_models only: those names, without options
    assert default_runs("sample") == [(name, {}) for name in
                                      ("probe:gt", "probe:gt-blur", "probe:gt-scale", "probe:constant")]
    assert default_runs("zeroshot") == []


def test_bad_default_runs_entry(monkeypatch):
    import dpbench.runner.api as api

    monkeypatch.setattr(api, "_definitions_of", lambda name: {"default_runs": [{"options": {"k": 1}}]})
    with pytest.raises(SuiteError, match=r"\[suites.upperbound\]: default_runs\[0\] must be"):
        default_runs("upperbound")


def test_cli_runs_every_probe_on_the_sample_sintel(sample_root, tmp_path):
    out = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["run", "--suite", "upperbound", "--data-root", str(sample_root),
                                      "--out", str(out), "--no-progress"])
    # unrealstereo4k, spring and hypersim are not in the sample: every run is partial (exit 1)
    assert result.exit_code == 1, result.output
    assert "missing datasets (recorded in the manifest): unrealstereo4k, spring, hypersim" in result.output
    stores = [RunStore(path) for path in sorted(out.iterdir())]
    assert len(stores) == 8
    options = sorted((s.manifest["model"]["name"], tuple(sorted(s.manifest["model_options"].items())))
                     for s in stores)
    assert ("probe:gt-resample", (("size", 518),)) in options and ("probe:gt-shift", (("k", 8),)) in options
    for store in stores:
        assert store.status == "partial"
        statuses = {d["name"]: d["status"] for d in store.manifest["datasets"]}
        assert statuses == {"unrealstereo4k": "missing", "sintel": "complete", "spring": "missing",
                            "hypersim": "missing"}
        rows = store.rows()
        assert set(rows["dataset"]) == {"sintel"} and (rows["status"] == "ok").all()
        assert set(rows["task"]) == {"metric_depth", "boundary_depth"} and len(rows) == 12


# -- the stored numbers against independent computations ----------------------------------
def ref_boundary_f1(pred, gt):
    """Slow reference of the released SI boundary F1 (four neighbour directions, weights t/Σt)."""
    def ratios(depth):
        q = 1.0 / depth.astype(np.float64)
        return [q[:, 1:] / q[:, :-1], q[:, :-1] / q[:, 1:], q[1:, :] / q[:-1, :], q[:-1, :] / q[1:, :]]

    score = 0.0
    for t in THRESHOLDS:
        precisions, recalls = [], []
        for rp, rg in zip(ratios(pred), ratios(gt), strict=True):
            p, g = rp > t, rg > t
            tp = np.count_nonzero(p & g)
            precisions.append(tp / max(np.count_nonzero(p), 1))
            recalls.append(tp / max(np.count_nonzero(g), 1))
        precision, recall = np.mean(precisions), np.mean(recalls)
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        score += t / THRESHOLDS.sum() * f1
    return score


def _run_sintel(sample_root, tmp_path, model, **options):
    config = RunConfig(model=model, suite="upperbound", datasets=["sintel"], data_root=sample_root,
                       out=tmp_path / "runs", progress=False, device="cpu", model_options=options)
    result = run(config, say=lambda message: None)
    rows = result.store.rows()
    return {(r.sample_id, r.task): r for r in rows.itertuples()}


def _sintel_samples(sample_root):
    from dpbench.datasets import open_dataset

    dataset = open_dataset("sintel", sample_root / "sintel", split="all")
    return dataset, [dataset[i] for i in range(len(dataset))]


def _check_rows(rows, sample, pred, depth_range):
    gt = sample.depth
    valid = sample.valid_mask() & (gt >= depth_range[0]) & (gt <= depth_range[1])
    p, g = pred[valid].astype(np.float64), gt[valid].astype(np.float64)
    depth_row, boundary_row = rows[(sample.id, "metric_depth")], rows[(sample.id, "boundary_depth")]
    assert depth_row.abs_rel == pytest.approx(np.mean(np.abs(p - g) / g), rel=1e-4, abs=1e-7)
    assert depth_row.log10 == pytest.approx(np.mean(np.abs(np.log10(p) - np.log10(g))), rel=1e-4, abs=1e-7)
    assert boundary_row.boundary_f1 == pytest.approx(ref_boundary_f1(pred, gt), abs=1e-6)


def test_resample_numbers_on_the_sample_sintel(sample_root, tmp_path):
    # 82×192 frames through a 2×2 grid: each cell averages a 41×96 block of inverse depth, and
    # nearest upsampling paints the block with its mean (an exact integer factor).
    dataset, samples = _sintel_samples(sample_root)
    rows = _run_sintel(sample_root, tmp_path, "probe:gt-resample", size=2, filter="nearest")
    assert samples[0].depth.shape == (82, 192)
    for sample in samples:
        inverse = 1.0 / sample.depth.astype(np.float64)
        blocks = inverse.reshape(2, 41, 2, 96).mean(axis=(1, 3))
        pred = 1.0 / np.repeat(np.repeat(blocks, 41, axis=0), 96, axis=1)
        _check_rows(rows, sample, pred.astype(np.float32), dataset.depth_range)
        assert rows[(sample.id, "boundary_depth")].boundary_f1 < 0.2  # only the block seams remain


def test_shift_numbers_on_the_sample_sintel(sample_root, tmp_path):
    dataset, samples = _sintel_samples(sample_root)
    rows = _run_sintel(sample_root, tmp_path, "probe:gt-shift", k=3)
    for sample in samples:
        gt = sample.depth
        pred = np.concatenate([np.repeat(gt[:, :1], 3, axis=1), gt[:, :-3]], axis=1)  # right by 3, edge kept
        _check_rows(rows, sample, pred, dataset.depth_range)
