"""The task registry: built-in tasks, the metric catalogue, bad task classes, and a plug-in task
(a temporary distribution with a real ``dpbench.tasks`` entry point) run, reported and checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dpbench.cli import cli
from dpbench.errors import UnknownNameError
from dpbench.metrics.depth import DEPTH_METRIC_KEYS
from dpbench.protocol import default_protocol
from dpbench.tasks import (
    Task,
    TaskError,
    all_metrics,
    get_task,
    metric_info,
    register_task,
    task_names,
)
from dpbench.types import Prediction, Sample


def test_builtin_tasks_in_canonical_order():
    assert task_names()[:4] == ("metric_depth", "boundary_depth", "boundary_mask", "focal")
    assert get_task("boundary_mask").needs == ("alpha",)
    assert get_task("focal").input == "focal" and not get_task("focal").uses_depth
    with pytest.raises(UnknownNameError, match="metric_depth"):
        get_task("metric_dept")


class TestCatalogue:
    def test_entries(self):
        expected = {
            "delta1": (True, True), "delta2": (True, True), "delta3": (True, True),
            "abs_rel": (False, False), "sq_rel": (False, False), "rmse": (False, False),
            "rmse_log": (False, False), "log10": (False, False), "silog": (False, False),
            "boundary_f1": (True, False), "boundary_recall": (True, False),
            "focal_abs_rel": (False, False), "focal_delta_25": (True, True),
            "focal_delta_50": (True, True), "focal_median_rel": (False, False),
        }
        builtin = {name: info for name, info in all_metrics().items()
                   if info.task in ("metric_depth", "boundary_depth", "boundary_mask", "focal")}
        assert set(builtin) == set(expected)
        for name, (higher, percent) in expected.items():
            info = metric_info(name)
            assert info.name == name
            assert (info.higher_is_better, info.percent) == (higher, percent), name
            assert info.label and info.description

    def test_depth_keys_are_in_the_catalogue(self):
        assert set(DEPTH_METRIC_KEYS) <= set(all_metrics())

    def test_unknown_name_suggests(self):
        with pytest.raises(UnknownNameError, match="delta1"):
            metric_info("delta_1")


@pytest.mark.parametrize("attrs, message", [
    ({"name": "no spaces allowed", "metrics": {"x_err": "lower"}}, "identifier"),
    ({"name": "bad_dir", "metrics": {"x_err": "smaller"}}, "'higher' or 'lower'"),
    ({"name": "no_metrics", "metrics": {}}, "at least one metric"),
    ({"name": "bad_need", "metrics": {"x_err": "lower"}, "needs": ("normals",)}, "unknown 'needs'"),
    ({"name": "bad_input", "metrics": {"x_err": "lower"}, "input": "tiles"}, "'input' must be one of"),
    ({"name": "clash", "metrics": {"delta1": "higher"}}, "already belong to task"),
    ({"name": "metric_depth", "metrics": {"x_err": "lower"}}, "already registered"),
])
def test_malformed_task_classes_are_refused(attrs, message):
    def score(self, sample, prediction, protocol):
        return {}

    cls = type("Bad", (Task,), {**attrs, "score": score})
    with pytest.raises(TaskError, match=message):
        register_task(cls)
    assert get_task("metric_depth").metrics["delta1"] == "higher"  # the registry is unchanged


def test_default_aggregation_is_the_mean_of_finite_values():
    import pandas as pd

    class Mean(Task):
        name = "unregistered_mean"
        metrics = {"m": "lower"}

        def score(self, sample, prediction, protocol):
            return {"m": 0.0}

    rows = pd.DataFrame({"m": [1.0, 2.0, np.nan, 6.0]})
    assert Mean().aggregate(rows, "per_image") == {"m": 3.0}
    assert Mean().aggregate(pd.DataFrame({"m": [np.nan]}), "per_image") == {"m": None}


def test_check_sample_names_the_missing_field():
    sample = Sample(id="a/1", image=np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(Exception, match=r"sample 'a/1': no mask ground truth for the boundary_mask task"):
        get_task("boundary_mask").check_sample(sample)
    depth = np.full((4, 5), 2.0, np.float32)
    row = get_task("metric_depth").score(Sample(id="b", image=sample.image, depth=depth),
                                         Prediction(depth * 1.25, output_kind="metric_depth"),
                                         default_protocol().for_dataset((None, None)))
    assert row["delta1"] == 0.0 and row["abs_rel"] == pytest.approx(0.25)


def test_tasks_command_lists_every_task():
    result = CliRunner().invoke(cli, ["tasks"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines[2:]] == list(task_names())
    assert "delta1 ↑" in result.output and "abs_rel ↓" in result.output


# -- a third-party task through a real entry point ------------------------------------------------

TOY_MODULE = '''
"""A plug-in task: the largest absolute depth error of an image, in metres."""
import numpy as np

from dpbench.tasks import Task


class ToyTask(Task):
    name = "toy"
    needs = ("depth",)
    metrics = {"toy_err": "lower"}

    def score(self, sample, prediction, protocol):
        valid = sample.valid_mask()
        return {"toy_err": float(np.abs(prediction.depth - sample.depth)[valid].max())}
'''


def _toy_distribution(folder: Path) -> Path:
    """A distribution installed as files on a path entry: the package and its dist-info."""
    site = folder / "site"
    (site / "toy_task").mkdir(parents=True)
    (site / "toy_task" / "__init__.py").write_text(textwrap.dedent(TOY_MODULE))
    info = site / "toy_task-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-task\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dpbench.tasks]\ntoy = toy_task:ToyTask\n")
    return site


def _dpbench(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dpbench", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_plugin_task_runs_reports_and_checks(tmp_path):
    from dpbench.sample import generate_sample_suite

    site = _toy_distribution(tmp_path)
    data = generate_sample_suite(tmp_path / "sample", scale=0.5)
    suite = {"name": "toy-suite", "datasets": [
        {"name": "middlebury", "path": str(data / "middlebury"), "split": "all", "tasks": ["metric_depth", "toy"]},
        {"name": "sintel", "path": str(data / "sintel"), "split": "all", "tasks": ["toy"]},
    ]}
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    listing = _dpbench(["tasks"], env, tmp_path)
    assert listing.returncode == 0 and "toy_err ↓" in listing.stdout and "toy_task" in listing.stdout

    for model, run_id in (("probe:gt", "gt"), ("probe:gt-scale", "scaled")):
        done = _dpbench(["run", "-m", model, "--suite", str(tmp_path / "suite.json"), "--run-id", run_id,
                         "--no-progress"], env, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    rows = __import__("dpbench.store", fromlist=["RunStore"]).RunStore(tmp_path / "runs" / "gt").rows()
    toy = rows[rows["task"] == "toy"]
    assert len(toy) == 9 and (toy["status"] == "ok").all() and (toy["toy_err"] == 0.0).all()

    report = _dpbench(["report", "runs/gt", "--format", "json", "--out", "baseline.json"], env, tmp_path)
    assert report.returncode == 0, report.stderr
    baseline = json.loads((tmp_path / "baseline.json").read_text())
    text = json.dumps(baseline)
    assert '"toy_err"' in text
    markdown = _dpbench(["report", "runs/gt", "runs/scaled"], env, tmp_path)
    assert "toy: per dataset" in markdown.stdout and "toy_err" in markdown.stdout

    same = _dpbench(["check", "runs/gt", "--against", "baseline.json"], env, tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "toy_err" in same.stdout
    worse = _dpbench(["check", "runs/scaled", "--against", "baseline.json"], env, tmp_path)
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert any("toy_err" in line and "REGRESSED" in line for line in worse.stdout.splitlines())
