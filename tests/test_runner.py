"""The runner end to end on in-test fake datasets and models: rows, manifest, errors, resume, rescore, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import _runner_fakes as fakes  # noqa: E402  (registers fake-* datasets and the fake:* models)

from dpbench.cli import cli  # noqa: E402
from dpbench.errors import UnknownNameError  # noqa: E402
from dpbench.protocol import ProtocolError  # noqa: E402
from dpbench.runner import RunConfig, run  # noqa: E402
from dpbench.runner.rescore import rescore  # noqa: E402
from dpbench.store import RunStore, StoreError  # noqa: E402

N_DEPTH, N_MASK, N_FOCAL = 6, 3, 3
N_ROWS = 2 * N_DEPTH + N_MASK + N_FOCAL


@pytest.fixture
def suite(tmp_path):
    return fakes.build_fake_suite(tmp_path / "data", N_DEPTH, N_MASK, N_FOCAL)


def _run(tmp_path, suite, model="fake:gt", out="runs", **options):
    options.setdefault("progress", False)
    options.setdefault("workers", 1)
    said = []
    result = run(RunConfig(model=model, suite=str(suite), out=tmp_path / out, **options), say=said.append)
    result.said = said
    return result


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if c.startswith("seconds_")]).reset_index(drop=True)


def test_perfect_model_scores_perfectly_and_the_manifest_records_the_run(tmp_path, suite):
    result = _run(tmp_path, suite, save_predictions=True)
    assert result.status == "complete" and result.errors == 0 and not result.resumed
    rows = result.store.rows()
    assert len(rows) == N_ROWS and (rows["status"] == "ok").all()
    depth = rows[rows["task"] == "metric_depth"]
    assert (depth["delta1"] == 1.0).all() and (depth["abs_rel"] == 0.0).all()
    assert set(depth.columns) >= {"stat_count", "stat_sum_abs_rel", "n_valid", "focal_px_used", "focal_source"}
    assert (depth["focal_source"] == "estimated").all()
    boundary = rows[rows["task"] == "boundary_depth"]
    assert (boundary["boundary_f1"] == 1.0).all() and "boundary_f1_t9" in boundary
    assert (rows.loc[rows["task"] == "boundary_mask", "boundary_recall"] == 1.0).all()
    assert (rows.loc[rows["task"] == "focal", "focal_rel_err"] == 0.0).all()
    # rows in canonical order: suite datasets, sample index, task
    assert rows["dataset"].tolist() == ["fake-depth"] * 12 + ["fake-mask"] * 3 + ["fake-focal"] * 3
    assert rows["sample_index"].tolist()[:4] == [0, 0, 1, 1]
    assert rows["task"].tolist()[:2] == ["metric_depth", "boundary_depth"]

    manifest = result.store.manifest
    assert manifest["format"] == "dpbench-run/1" and manifest["status"] == "complete" and manifest["finished"]
    assert manifest["model"]["name"] == "fake:gt" and manifest["model"]["reads_ground_truth"] is True
    assert manifest["suite"] == "fake"
    assert manifest["protocol"]["alignment"] == "none" and manifest["protocol"]["focal_mode"] == "estimated"
    assert len(manifest["protocol"]["boundary_thresholds"]) == 10
    records = {d["name"]: d for d in manifest["datasets"]}
    assert records["fake-depth"]["status"] == "complete" and records["fake-depth"]["num_samples"] == N_DEPTH
    assert len(records["fake-mask"]["protocol_hash"]) == 16
    env = manifest["environment"]
    assert env["dpbench"] and env["numpy"] == np.__version__ and env["world_size"] == 1
    assert env["precision"] == "fp32" and env["device"] == "cpu"
    result.store.validate()
    assert result.store.prediction_keys() == {(d, s) for d, s in zip(rows["dataset"], rows["sample_id"], strict=True)}
    assert not (result.store.path / "run.lock").exists()


def test_scaled_model_keeps_boundaries_and_loses_delta(tmp_path, suite):
    rows = _run(tmp_path, suite, model="fake:scale").store.rows()
    by_task = {task: group for task, group in rows.groupby("task")}
    assert (by_task["metric_depth"]["delta1"] == 0.0).all()
    assert np.allclose(by_task["metric_depth"]["abs_rel"], 1.0)
    assert (by_task["boundary_depth"]["boundary_f1"] == 1.0).all()
    assert np.allclose(by_task["focal"]["focal_rel_err"], 1.0)


def test_predictions_at_another_resolution_are_resampled(tmp_path, suite):
    rows = _run(tmp_path, suite, model="fake:halfres").store.rows()
    assert (rows["status"] == "ok").all()
    depth = rows[rows["task"] == "metric_depth"]
    assert (depth["seconds_resize"] > 0).all() and (depth["delta1"] > 0.5).all()


def test_relative_disparity_model_gets_its_default_alignment(tmp_path, suite):
    result = _run(tmp_path, suite, model_options={"kind": "relative_disparity"})
    assert result.store.manifest["protocol"]["alignment"] == "lstsq_scale_shift_disparity"
    assert result.store.manifest["protocol"]["boundary_depth_input"] == "inverted_disparity"
    rows = result.store.rows()
    assert np.allclose(rows.loc[rows["task"] == "metric_depth", "delta1"], 1.0)
    # boundaries see 1 / disparity (the shift of the affine disparity is not undone)
    from dpbench.metrics.boundary import si_boundary_f1

    boundary = rows[rows["task"] == "boundary_depth"]
    for sample_id, f1 in zip(boundary["sample_id"], boundary["boundary_f1"], strict=True):
        with np.load(suite.parent / "depth" / f"{sample_id}.npz") as data:
            gt, valid = data["depth"], data["valid"]
        disparity = (3.0 / np.where(valid, gt, 1.0) + 0.5).astype(np.float32)
        assert f1 == si_boundary_f1(1.0 / disparity, np.where(valid, gt, 0), valid=valid) < 1.0


@pytest.mark.parametrize("batch_size, workers", [(1, 0), (4, 2), (3, 1)])
def test_batching_and_loader_threads_do_not_change_rows(tmp_path, suite, batch_size, workers):
    reference = _run(tmp_path, suite, out="ref", batch_size=1, workers=0).store.rows()
    rows = _run(tmp_path, suite, batch_size=batch_size, workers=workers).store.rows()
    pd.testing.assert_frame_equal(_comparable(rows), _comparable(reference))


def test_protocol_options_are_recorded_and_used(tmp_path, suite):
    result = _run(tmp_path, suite, protocol={"focal_mode": "gt", "depth_range": "0.5:3", "aggregation": "pooled"})
    protocol = result.store.manifest["protocol"]
    assert protocol["focal_mode"] == "gt" and protocol["depth_range"] == [0.5, 3.0]
    assert protocol["aggregation"] == "pooled"
    records = {d["name"]: d for d in result.store.manifest["datasets"]}
    assert (records["fake-depth"]["min_depth"], records["fake-depth"]["max_depth"]) == (0.5, 3.0)
    rows = result.store.rows()
    depth = rows[rows["task"] == "metric_depth"]
    assert (depth["focal_source"] == "gt").all()
    for sample_id, focal in zip(depth["sample_id"], depth["focal_px_used"], strict=True):
        with np.load(suite.parent / "depth" / f"{sample_id}.npz") as data:
            assert focal == float(data["focal"])
            inside = data["valid"] & (data["depth"] >= 0.5) & (data["depth"] <= 3.0)
        assert depth.loc[depth["sample_id"] == sample_id, "n_valid"].item() == inside.sum()
    # the focal task still scores the model's own estimate
    assert (rows.loc[rows["task"] == "focal", "focal_rel_err"] == 0.0).all()


def test_missing_datasets_are_recorded_not_fatal(tmp_path, suite):
    spec = json.loads(suite.read_text())
    spec["datasets"].insert(0, {"name": "fake-depth", "path": "nowhere", "tasks": ["metric_depth"]})
    spec["datasets"] = spec["datasets"][:1] + spec["datasets"][2:]
    suite.write_text(json.dumps(spec))
    result = _run(tmp_path, suite)
    # a run that misses a dataset of its suite says so: partial, naming the dataset
    assert result.status == "partial" and result.missing == ["fake-depth"]
    assert result.store.manifest["status"] == "partial"
    assert "fake-depth missing" in result.store.manifest["failure"]
    assert any(line.startswith("fake-depth: missing") and "nowhere" in line for line in result.said)
    records = {d["name"]: d for d in result.store.manifest["datasets"]}
    assert records["fake-depth"]["status"] == "missing" and "does not exist" in records["fake-depth"]["reason"]
    assert records["fake-mask"]["status"] == "complete"


def test_datasets_looked_up_under_the_data_root(tmp_path):
    fakes.write_fake_dataset(tmp_path / "root" / "fake-depth", 2, nested=False)
    (tmp_path / "s").mkdir()
    suite = fakes.fake_suite_json(tmp_path / "s", [{"name": "fake-depth", "tasks": ["metric_depth"]},
                                                   {"name": "fake-mask", "tasks": ["boundary_mask"]}])
    result = _run(tmp_path, suite, data_root=tmp_path / "root")
    records = {d["name"]: d for d in result.store.manifest["datasets"]}
    assert records["fake-depth"]["status"] == "complete"
    assert records["fake-mask"]["status"] == "missing" and "looked for fake-mask/" in records["fake-mask"]["reason"]
    no_root = _run(tmp_path, suite, out="r2")
    assert "no data root" in no_root.store.manifest["datasets"][0]["reason"]


@pytest.mark.parametrize("fault, message", [
    ("nan@2", "non-finite value"),
    ("shape@2", "aspect ratio differs"),
    ("raise@2", "RuntimeError: boom on"),
])
def test_a_bad_sample_becomes_error_rows_and_the_run_continues(tmp_path, suite, fault, message):
    result = _run(tmp_path, suite, model=f"fake:{fault}")
    rows = result.store.rows()
    errors = rows[rows["status"] == "error"]
    with np.load(next((suite.parent / "depth").rglob("frame_0002.npz"))) as data:
        assert int(data["index"]) == 2
    # the fault hits the sample of index 2 of every dataset; a focal-only sample needs no depth map
    expected = [("fake-depth", "scene0/frame_0002", "metric_depth"),
                ("fake-depth", "scene0/frame_0002", "boundary_depth"),
                ("fake-mask", "frame_0002", "boundary_mask")]
    if fault == "raise@2":
        expected.append(("fake-focal", "frame_0002", "focal"))
    assert list(zip(errors["dataset"], errors["sample_id"], errors["task"], strict=True)) == expected
    assert errors["error"].str.contains(message).all()
    if fault != "raise@2":
        assert errors["error"].str.contains("frame_0002").all()
    assert len(rows) == N_ROWS and result.status == "complete" and result.errors == len({e[:2] for e in expected})
    assert any("scene0/frame_0002" in line for line in result.said)
    records = {d["name"]: d for d in result.store.manifest["datasets"]}
    assert records["fake-depth"]["num_errors"] == 1 and records["fake-mask"]["num_errors"] == 1


def test_on_error_stop_fails_the_run_and_keeps_rows(tmp_path, suite):
    result = _run(tmp_path, suite, model="fake:nan@1", on_error="stop", workers=0)
    assert result.status == "failed" and result.store.manifest["status"] == "failed"
    assert "--on-error stop" in result.store.manifest["failure"]
    rows = result.store.rows()
    assert set(rows["dataset"]) == {"fake-depth"}
    # sorted ids: scene0/frame_0000, _0002, _0004, scene1/frame_0001 (position 3: the faulty one)
    assert rows["sample_index"].max() == 3 and len(rows) == 2 * 4
    assert rows.loc[rows["status"] == "error", "sample_id"].tolist() == ["scene1/frame_0001"] * 2


def test_load_errors_become_error_rows(tmp_path, suite):
    broken = next((suite.parent / "mask").glob("frame_0001.npz"))
    broken.write_bytes(b"truncated")
    rows = _run(tmp_path, suite).store.rows()
    bad = rows[rows["status"] == "error"]
    assert bad["sample_id"].tolist() == ["frame_0001"] and "unreadable" in bad["error"].item()


def test_unknown_names_fail_before_any_work(tmp_path, suite):
    with pytest.raises(UnknownNameError, match="model"):
        _run(tmp_path, suite, model="nosuchmodel")
    with pytest.raises(UnknownNameError, match="Did you mean 'fake-depth'"):
        _run(tmp_path, suite, datasets=["fake-dept"])
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_limit_marks_datasets_partial(tmp_path, suite):
    result = _run(tmp_path, suite, limit=2)
    rows = result.store.rows()
    assert rows.groupby("dataset")["sample_id"].nunique().to_dict() == {"fake-depth": 2, "fake-mask": 2, "fake-focal": 2}
    records = {d["name"]: d for d in result.store.manifest["datasets"]}
    assert records["fake-depth"]["status"] == "partial" and "first 2 of 6" in records["fake-depth"]["reason"]
    assert result.status == "complete"


def test_resume_after_keyboard_interrupt_gives_identical_rows(tmp_path, suite, monkeypatch):
    reference = _run(tmp_path, suite, out="ref").store.rows()
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("DPBENCH_FAKE_FAULT", "interrupt@3")
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, suite, model_options={"log": str(calls)})
    (store,) = [RunStore(p) for p in (tmp_path / "runs").iterdir()]
    assert store.manifest["status"] == "interrupted"
    interrupted_observed = store.manifest.get("model_observed")
    done = store.rows()
    # the model saw scene0/frame_0000, _0002, _0004, scene1/frame_0001, then scene1/frame_0003 (index 3)
    assert sorted(set(done["sample_index"])) == [0, 1, 2, 3] and (done["status"] == "ok").all()
    store.validate()
    monkeypatch.delenv("DPBENCH_FAKE_FAULT")
    calls.write_text("")
    resumed = _run(tmp_path, suite, model_options={"log": str(calls)})
    assert resumed.resumed and resumed.store.path == store.path and resumed.status == "complete"
    pd.testing.assert_frame_equal(_comparable(resumed.store.rows()), _comparable(reference))
    predicted = calls.read_text().split()
    assert len(predicted) == (N_DEPTH - 4) + N_MASK + N_FOCAL and "scene0/frame_0000" not in predicted
    assert len(resumed.store.manifest["resumed"]) == 1
    # what the model reported choosing: written at the interruption, merged over by the resumed session
    assert interrupted_observed == {"first_predicted": {"fake-depth": "scene0/frame_0000"}}
    seen = resumed.store.manifest["model_observed"]["first_predicted"]
    assert set(seen) == {"fake-depth", "fake-mask", "fake-focal"}
    assert seen["fake-depth"] == "scene1/frame_0003"  # the sample the resumed session began with


def test_resume_after_the_process_is_killed(tmp_path, suite):
    reference = _run(tmp_path, suite, out="ref").store.rows()
    script = tmp_path / "killed_run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).resolve().parents[1])!r}]
        import _runner_fakes
        from dpbench.runner import RunConfig, run
        run(RunConfig(model="fake:gt", suite={str(suite)!r}, out={str(tmp_path / 'runs')!r},
                      progress=False, workers=2, save_predictions=True))
    """))
    env = {**os.environ, "DPBENCH_FAKE_FAULT": "kill@4"}
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    (store,) = [RunStore(p) for p in (tmp_path / "runs").iterdir()]
    assert store.manifest["status"] == "running" and store.status == "interrupted"
    assert set(store.rows()["sample_index"]) <= {0, 1, 2, 3}
    resumed = _run(tmp_path, suite, save_predictions=True)
    assert resumed.resumed and resumed.status == "complete"
    pd.testing.assert_frame_equal(_comparable(resumed.store.rows()), _comparable(reference))
    resumed.store.validate()
    assert len(resumed.store.prediction_keys()) == N_DEPTH + N_MASK + N_FOCAL


def test_a_complete_run_is_not_resumed_and_run_ids_are_checked(tmp_path, suite):
    first = _run(tmp_path, suite, run_id="mine")
    again = _run(tmp_path, suite, run_id="mine")
    assert again.resumed and again.rows_written == 0 and again.status == "complete"
    pd.testing.assert_frame_equal(again.store.rows(), first.store.rows())
    with pytest.raises(StoreError, match="already exists"):
        _run(tmp_path, suite, run_id="mine", resume=False)
    with pytest.raises(StoreError, match="protocol options .*alignment"):
        _run(tmp_path, suite, run_id="mine", protocol={"alignment": "median"})
    fresh = _run(tmp_path, suite)  # no run id: a complete run is never continued
    assert not fresh.resumed and fresh.store.path != first.store.path


def test_rescore_from_cached_predictions(tmp_path, suite):
    source = _run(tmp_path, suite, model="fake:scale", save_predictions=True)
    said = []
    result = rescore(source.store.path, protocol={"alignment": "median"}, progress=False, say=said.append)
    assert result.store.run_id == f"{source.store.run_id}-rescored"
    manifest = result.store.manifest
    assert manifest["rescored_from"] == source.store.run_id and manifest["model"]["name"] == "fake:scale"
    assert manifest["protocol"]["alignment"] == "median"
    rows = result.store.rows()
    depth = rows[rows["task"] == "metric_depth"]
    assert (depth["delta1"] == 1.0).all() and np.allclose(depth["align_scale"], 0.5, rtol=1e-3)
    old = source.store.rows()
    assert len(rows) == len(old)
    # float16 caching moves a few neighbour ratios across a threshold: boundary scores shift slightly
    same = ["boundary_f1", "boundary_recall", "focal_rel_err"]
    np.testing.assert_allclose(rows[same].to_numpy(float), old[same].to_numpy(float), atol=0.01, equal_nan=True)
    assert result.store.predictions_path.exists()
    assert os.path.samefile(result.store.predictions_path, source.store.predictions_path)
    with pytest.raises(ProtocolError, match="focal mode"):
        rescore(source.store.path, protocol={"focal_mode": "gt"}, progress=False)
    plain = _run(tmp_path, suite, out="plain")
    with pytest.raises(StoreError, match="no cached predictions"):
        rescore(plain.store.path, progress=False)


def test_rescore_carries_model_error_rows(tmp_path, suite):
    source = _run(tmp_path, suite, model="fake:raise@2", save_predictions=True)
    result = rescore(source.store.path, protocol={"aggregation": "pooled"}, progress=False, say=lambda m: None)
    rows = result.store.rows()
    assert len(rows) == N_ROWS
    assert rows.loc[rows["status"] == "error", "error"].str.contains("boom").all()
    old = source.store.rows()
    keys = ["dataset", "sample_id", "task", "status", "error", "sample_index"]
    pd.testing.assert_frame_equal(rows[keys], old[keys])
    for metric in ("delta1", "abs_rel", "boundary_recall", "focal_rel_err"):
        np.testing.assert_allclose(rows[metric], old[metric], atol=1e-3, equal_nan=True)


def test_cli_run_and_rescore(tmp_path, suite):
    runner = CliRunner()
    out = tmp_path / "runs"
    result = runner.invoke(cli, ["run", "--model", "fake:gt", "--suite", str(suite), "--out", str(out),
                                 "--no-progress", "--save-predictions", "--run-id", "cli", "--focal-mode", "gt",
                                 "--alignment", "median", "-o", "kind=metric_depth"])
    assert result.exit_code == 0, result.output
    assert "run cli (complete)" in result.output and "fake-depth" in result.output
    manifest = json.loads((out / "cli" / "manifest.json").read_text())
    assert manifest["protocol"]["focal_mode"] == "gt" and manifest["protocol"]["alignment"] == "median"
    assert manifest["model_options"] == {"kind": "metric_depth"}
    result = runner.invoke(cli, ["rescore", "cli", "--runs-dir", str(out), "--aggregation", "pooled",
                                 "--out", "cli-pooled", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "cli-pooled" / "manifest.json").read_text())["protocol"]["aggregation"] == "pooled"


def test_cli_errors(tmp_path, suite):
    runner = CliRunner()
    result = runner.invoke(cli, ["run", "--model", "fake:gt", "--suite", "zeroshto", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "Did you mean 'zeroshot'" in result.output
    result = runner.invoke(cli, ["run", "--suite", "zeroshot", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--model is required" in result.output
    result = runner.invoke(cli, ["run", "--model", "fake:nan@0", "--suite", str(suite), "--out", str(tmp_path),
                                 "--no-progress", "--on-error", "stop"])
    assert result.exit_code == 1 and "failed" in result.output
    result = runner.invoke(cli, ["rescore", "nope", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2 and "no such run folder" in result.output


@pytest.mark.parametrize("suite_name", ["focal", "zeroshot"])
def test_cli_run_on_a_builtin_suite_without_data(tmp_path, suite_name):
    result = CliRunner().invoke(cli, ["run", "--model", "fake:gt", "--suite", suite_name, "--out", str(tmp_path),
                                      "--no-progress"])
    # nothing was scored: the run is 'empty' and the command fails (it used to say 'complete', exit 0)
    assert result.exit_code != 0, result.output
    assert "(empty)" in result.output
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "empty"
    if suite_name == "zeroshot":
        return
    assert result.output.count(": missing - no data root") == 6
    assert "missing datasets (recorded in the manifest): fivek, dddp, spaq, ppr10k, raise, zoom" in result.output


def test_cli_exit_code_when_a_dataset_cannot_be_opened(tmp_path):
    (tmp_path / "empty").mkdir()  # exists, but holds no sample
    suite = fakes.fake_suite_json(tmp_path / "s", [{"name": "fake-depth", "path": str(tmp_path / "empty"),
                                                    "tasks": ["metric_depth"]}])
    result = CliRunner().invoke(cli, ["run", "--model", "fake:gt", "--suite", str(suite), "--out",
                                      str(tmp_path / "runs"), "--no-progress"])
    assert result.exit_code == 1
    assert "fake-depth: cannot be opened - fake-depth: no samples found" in result.output
    assert "datasets that could not be opened (see the manifest): fake-depth" in result.output

