"""Run folders for the report/check tests, written by hand in the store contract's layout.

The files are written here with the csv/json modules (and pyarrow for Parquet), not through
dpbench.store, so that the tests also check that the reports read the contract's layout.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

import dpbench.datasets as datasets_registry
from dpbench.datasets.base import Dataset
from dpbench.metrics.depth import depth_metric_stats, depth_metrics
from dpbench.types import Sample

THRESHOLDS = [float(t) for t in np.linspace(1.05, 1.25, 10)]
PROTOCOL = {"focal_mode": "estimated", "resize": "bilinear_inverse_depth", "alignment": "none",
            "aggregation": "per_image", "boundary_thresholds": THRESHOLDS, "alpha_threshold": 0.1}


def manifest(run_id, *, model="model-a", suite="sample", reference=False, created="2026-01-01T00:00:00Z",
             status="complete", protocol=None, datasets=(), checkpoint_sha256=None):
    """A manifest.json dict as the contract describes it."""
    return {
        "format": "dpbench-run/1", "run_id": run_id, "status": status, "created": created,
        "finished": created if status == "complete" else None,
        "model": {"name": model, "output_kind": "metric_depth", "reads_ground_truth": reference,
                  "checkpoint": None, "checkpoint_sha256": checkpoint_sha256},
        "suite": suite, "protocol": dict(protocol or PROTOCOL), "datasets": list(datasets),
        "environment": {"dpbench": "0.1.0", "python": "3.11", "device": "cpu", "precision": "fp32"},
        "limit": None,
    }


def dataset_entry(name, tasks, *, status="complete", reason="", root="/nowhere", split="all",
                  num_samples=None, protocol_hash="0123456789abcdef"):
    return {"name": name, "tasks": list(tasks), "split": split, "root": str(root), "status": status,
            "reason": reason, "num_samples": num_samples, "protocol_hash": protocol_hash,
            "min_depth": 0.001, "max_depth": 10.0, "excluded": {}}


def depth_row(dataset, sample_id, pred, gt, *, status="ok", error=""):
    """A metric_depth row with per-image metrics and stat_* columns from dpbench's metric code."""
    row = {"dataset": dataset, "sample_id": sample_id, "task": "metric_depth", "status": status,
           "error": error, "seconds_load": 0.01, "seconds_predict": 0.02, "seconds_metrics": 0.001,
           "focal_px_used": 500.0, "focal_source": "estimated"}
    if status == "ok":
        row.update({k: v for k, v in depth_metrics(pred, gt).items()})
        row.update({f"stat_{k}": v for k, v in depth_metric_stats(pred, gt).items()})
    return row


def boundary_row(dataset, sample_id, f1, curves=None, *, status="ok"):
    """A boundary_depth row; ``curves`` = (precision, recall, f1) per threshold (default flat)."""
    precision, recall, f1s = curves or ([f1] * 10, [f1] * 10, [f1] * 10)
    row = {"dataset": dataset, "sample_id": sample_id, "task": "boundary_depth", "status": status,
           "error": "" if status == "ok" else "failed", "boundary_f1": f1 if status == "ok" else math.nan}
    for i in range(10):
        row[f"boundary_precision_t{i}"] = precision[i]
        row[f"boundary_recall_t{i}"] = recall[i]
        row[f"boundary_f1_t{i}"] = f1s[i]
    return row


def mask_row(dataset, sample_id, recall, *, status="ok"):
    row = {"dataset": dataset, "sample_id": sample_id, "task": "boundary_mask", "status": status,
           "error": "" if status == "ok" else "failed", "boundary_recall": recall}
    for i in range(10):
        row[f"boundary_recall_t{i}"] = recall
    return row


def focal_row(dataset, sample_id, pred, gt, *, status="ok"):
    return {"dataset": dataset, "sample_id": sample_id, "task": "focal", "status": status,
            "error": "" if status == "ok" else "failed", "focal_pred": pred, "focal_gt": gt,
            "focal_rel_err": abs(pred - gt) / gt}


def write_run(runs_dir, man, rows, kind="csv") -> Path:
    """Write ``runs_dir/<run_id>/manifest.json`` and ``samples.<kind>`` by hand."""
    folder = Path(runs_dir) / man["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(man, indent=2), encoding="utf-8")
    columns = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    if kind == "csv":
        with (folder / "samples.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else
                                     repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = {c: [row.get(c) for row in rows] for c in columns}
        pq.write_table(pa.table(table), folder / "samples.parquet")
    return folder


def depth_pair(rng, shape=(12, 16), scale=1.0, noise=0.1):
    """A GT depth map and a prediction = GT × scale × multiplicative noise."""
    gt = rng.uniform(1.0, 9.0, shape)
    pred = gt * scale * rng.uniform(1.0 - noise, 1.0 + noise, shape)
    return pred, gt


def standard_run(runs_dir, run_id, *, model, rng, scale=1.0, noise=0.1, reference=False,
                 suite="sample", created="2026-01-01T00:00:00Z", f1=0.5, recall=0.4,
                 focal_scale=1.1, n=3, kind="csv", protocol=None, status="complete",
                 depth_sets=("middlebury",)):
    """A run with depth + boundary datasets, a mask dataset and a focal dataset."""
    datasets = [dataset_entry(d, ["metric_depth", "boundary_depth"], num_samples=n) for d in depth_sets]
    datasets += [dataset_entry("am2k", ["boundary_mask"], num_samples=n),
                 dataset_entry("exif_folder", ["focal"], num_samples=n)]
    rows = []
    for d in depth_sets:
        for i in range(n):
            pred, gt = depth_pair(rng, scale=scale, noise=noise)
            rows.append(depth_row(d, f"{d}-{i}", pred, gt))
            rows.append(boundary_row(d, f"{d}-{i}", f1))
    for i in range(n):
        rows.append(mask_row("am2k", f"m{i}", recall))
        rows.append(focal_row("exif_folder", f"f{i}", 1000.0 * focal_scale, 1000.0))
    man = manifest(run_id, model=model, suite=suite, reference=reference, created=created,
                   protocol=protocol, datasets=datasets, status=status)
    return write_run(runs_dir, man, rows, kind=kind)


TEST_DATASET = "report_test_depth"


class NpzDepth(Dataset):
    """A throw-away adapter: <root>/<id>.npz holding 'image' and 'depth' (0 = no GT)."""

    name = TEST_DATASET
    task = "metric_depth"
    layout = "<root>/<id>.npz with arrays image (H×W×3 uint8) and depth (H×W float32)"

    def _index(self):
        return sorted(self.root.glob("*.npz"))

    def _item_id(self, item):
        return item.stem

    def _load(self, item):
        data = np.load(item)
        depth = data["depth"].astype(np.float32)
        return Sample(id=item.stem, image=data["image"], depth=depth, valid=depth > 0)

    @classmethod
    def is_present(cls, root):
        return any(Path(root).glob("*.npz"))


def register_test_dataset(monkeypatch) -> None:
    """Register :class:`NpzDepth` for one test (monkeypatch removes it afterwards)."""
    datasets_registry.dataset_names()  # load the built-in adapters first
    monkeypatch.setitem(datasets_registry._REGISTRY, TEST_DATASET, NpzDepth)


def box_scene(rng, h=40, w=60):
    """A random image and the depth of a box (2 m) in front of a wall (8 m)."""
    depth = np.full((h, w), 8.0, dtype=np.float32)
    depth[10:30, 15:40] = 2.0
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return image, depth
