"""Small fake datasets and models for the runner/store tests (also imported by subprocess scripts).

Datasets (registered on import): ``fake-depth``, ``fake-mask``, ``fake-focal`` read a folder of
``<id>.npz`` files (ids may contain ``/``: sub-folders) written by :func:`write_fake_dataset`.
Model family ``fake:<behaviour>`` (reads the GT): ``gt`` (exact GT), ``scale`` (GT × 2),
``halfres`` (GT at half resolution), ``disparity`` (1/GT as relative disparity, via the option
``kind``), and faults keyed by sample position: ``nan@k``, ``shape@k``, ``raise@k``,
``interrupt@k`` (KeyboardInterrupt), ``kill@k`` (SIGKILL of the own process), where k is the
sample's ``index`` stored in the file. A fault can also come from ``$DPBENCH_FAKE_FAULT`` (same
syntax, applied on top of the behaviour), so that a resumed run can use the same model name.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np

from dpbench.datasets import register_dataset
from dpbench.datasets.base import Dataset
from dpbench.errors import DatasetError
from dpbench.models import register_model
from dpbench.models.base import DepthModel
from dpbench.types import Prediction, Sample


def make_scene(rng: np.random.Generator, h: int, w: int) -> dict:
    """A plane with a nearer box: depth, image, mask, focal."""
    depth = np.full((h, w), rng.uniform(4.0, 8.0), dtype=np.float32)
    y0, x0 = rng.integers(2, h // 2), rng.integers(2, w // 2)
    y1, x1 = y0 + rng.integers(3, h // 2), x0 + rng.integers(3, w // 2)
    depth[y0:y1, x0:x1] = rng.uniform(1.0, 2.5)
    depth *= rng.uniform(0.95, 1.05, size=(h, w)).astype(np.float32)
    image = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.float32)
    mask[y0:y1, x0:x1] = 1.0
    return {"image": image, "depth": depth, "mask": mask, "focal": float(rng.uniform(200, 400))}


def write_fake_dataset(root: Path, n: int, seed: int = 0, h: int = 24, w: int = 32,
                       nested: bool = True, holes: bool = True) -> list[str]:
    """Write ``n`` samples as npz files; returns their ids (in dataset order)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    ids = []
    for index in range(n):
        scene = make_scene(rng, h, w)
        valid = np.ones((h, w), bool)
        if holes:
            valid[0, : w // 3] = False
        sample_id = f"scene{index % 2}/frame_{index:04d}" if nested else f"frame_{index:04d}"
        path = root / f"{sample_id}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, valid=valid, index=index, **scene)
        ids.append(sample_id)
    return sorted(ids)


class _FakeNpz(Dataset):
    layout = "<root>/**/<id>.npz (image, depth, valid, mask, focal)"
    splits = ()

    def _index(self):
        return sorted(self.root.rglob("*.npz"))

    def _item_id(self, item: Path) -> str:
        return item.relative_to(self.root).with_suffix("").as_posix()

    @classmethod
    def is_present(cls, root) -> bool:
        return any(Path(root).rglob("*.npz"))

    def _read(self, item: Path) -> dict:
        try:
            with np.load(item) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{self.name}: {item}: unreadable ({exc})") from exc


@register_dataset("fake-depth")
class FakeDepth(_FakeNpz):
    task = "metric_depth"

    def _load(self, item: Path) -> Sample:
        d = self._read(item)
        return Sample(id=self._item_id(item), image=d["image"], depth=d["depth"], valid=d["valid"],
                      focal_px=float(d["focal"]), meta={"index": int(d["index"])})


@register_dataset("fake-mask")
class FakeMask(_FakeNpz):
    task = "boundary_mask"

    def _load(self, item: Path) -> Sample:
        d = self._read(item)
        return Sample(id=self._item_id(item), image=d["image"], mask=d["mask"], meta={"index": int(d["index"])})


@register_dataset("fake-focal")
class FakeFocal(_FakeNpz):
    task = "focal"

    def _load(self, item: Path) -> Sample:
        d = self._read(item)
        return Sample(id=self._item_id(item), image=d["image"], focal_px=float(d["focal"]),
                      meta={"index": int(d["index"])})


class FakeModel(DepthModel):
    reads_ground_truth = True

    def __init__(self, behaviour: str, kind: str = "metric_depth", log: str | None = None):
        self.behaviour, _, at = behaviour.partition("@")
        self.at = int(at) if at else None
        fault, _, fault_at = os.environ.get("DPBENCH_FAKE_FAULT", "").partition("@")
        self.fault, self.fault_at = (fault, int(fault_at)) if fault else (None, None)
        self.output_kind = kind
        self.name = f"fake:{behaviour}"
        self.log = log  # file receiving one line per predicted sample id (call counting)
        self.dataset = None
        self.first_predicted: dict[str, str] = {}  # per dataset, this session's first sample id

    def _gt(self, sample: Sample) -> np.ndarray:
        if sample.depth is not None:
            return np.where(sample.valid_mask(), sample.depth, 1.0).astype(np.float32)
        if sample.mask is not None:
            return np.where(sample.mask > 0.1, 1.0, 2.0).astype(np.float32)
        return np.ones((sample.height, sample.width), np.float32)

    def predict(self, sample, focal_px=None):
        index = sample.meta.get("index")
        if self.dataset is not None:
            self.first_predicted.setdefault(self.dataset, sample.id)
        if self.log:  # "{rank}" in the file name becomes the torchrun rank
            with open(self.log.replace("{rank}", os.environ.get("RANK", "0")), "a") as handle:
                handle.write(f"{sample.id}\n")
        fault = self.at is not None and index == self.at
        behaviour = self.behaviour
        if self.fault is not None and index == self.fault_at:
            behaviour, fault = self.fault, True
        depth = self._gt(sample)
        focal = sample.focal_px
        if behaviour == "scale":
            depth = depth * 2.0
            focal = None if focal is None else focal * 2.0
        elif behaviour == "halfres":
            depth = depth[::2, ::2].copy()
        elif behaviour == "nan" and fault:
            depth = depth.copy()
            depth[1, 1] = np.nan
        elif behaviour == "shape" and fault:
            depth = depth.T.copy()
        elif behaviour == "raise" and fault:
            raise RuntimeError(f"boom on {sample.id}")
        elif behaviour == "interrupt" and fault:
            raise KeyboardInterrupt
        elif behaviour == "kill" and fault:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.output_kind == "relative_disparity":
            depth = (3.0 / depth + 0.5).astype(np.float32)
        meta = {"focal_source": "estimated"} if focal_px is None else {
            "focal_source": "given", "focal_px_estimated": focal}
        return Prediction(depth=depth, focal_px=focal if focal_px is None else focal_px, meta=meta)

    def describe(self):
        return {**super().describe(), "behaviour": self.behaviour}

    def begin_dataset(self, dataset):
        self.dataset = dataset

    def observed(self):
        return {"first_predicted": dict(self.first_predicted)} if self.first_predicted else {}


@register_model("fake", family=True, output_kind="metric_depth", reads_ground_truth=True,
                description="runner test model")
def _fake_factory(arg=None, checkpoint=None, device="auto", precision="fp32", kind="metric_depth", log=None,
                  **options):
    return FakeModel(arg or "gt", kind=kind, log=log)


def fake_suite_json(folder: Path, datasets: list[dict]) -> Path:
    """Write a suite.json listing ``datasets`` (name, path, tasks) and return its path."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "suite.json"
    path.write_text(json.dumps({"name": "fake", "datasets": datasets}))
    return path


def build_fake_suite(base: Path, n_depth: int = 6, n_mask: int = 3, n_focal: int = 3) -> Path:
    """Three fake datasets under ``base`` and a suite.json naming them with every task."""
    write_fake_dataset(base / "depth", n_depth, seed=1)
    write_fake_dataset(base / "mask", n_mask, seed=2, nested=False)
    write_fake_dataset(base / "focal", n_focal, seed=3, nested=False)
    return fake_suite_json(base, [
        {"name": "fake-depth", "path": "depth", "tasks": ["metric_depth", "boundary_depth"]},
        {"name": "fake-mask", "path": "mask", "tasks": ["boundary_mask"]},
        {"name": "fake-focal", "path": "focal", "tasks": ["focal"]},
    ])
