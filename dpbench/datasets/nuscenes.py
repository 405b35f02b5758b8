"""nuScenes camera keyframes with LiDAR-projected depth (docs/formats.md §4, P5).

The relational tables (``v1.0-*/``) are reduced once to a compact keyframe index (per sample:
scene, timestamp, and for each camera and ``LIDAR_TOP`` the file, size, calibration and ego
pose), cached under ``dpbench.resources.cache_dir()/nuscenes`` keyed by the tables' sizes and
modification times, because ``sample_data.json``/``ego_pose.json`` of v1.0-trainval are large.
Depth is the camera-frame z of the keyframe's LIDAR_TOP points (see :mod:`dpbench.io.nuscenes`).

The split ``val_881`` is dpbench's own seeded draw of the paper's sample count from ``val``
(:func:`draw_subset` over the items in the ``subset_order`` of the spec); it is not the paper's
subset, which is unpublished, nor plumbline's, which orders the samples differently.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from dpbench.datasets import register_dataset
from dpbench.datasets._depth import DepthDataset, read_list_file
from dpbench.errors import DatasetError
from dpbench.io.image import read_image
from dpbench.io.nuscenes import (
    TABLES,
    Pose,
    lidar_points_in_camera,
    load_table,
    rasterize_depth,
    read_pcd_bin,
)
from dpbench.resources import cache_dir
from dpbench.types import Sample

log = logging.getLogger(__name__)

CAMERAS = ("CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT")
LIDAR = "LIDAR_TOP"
_INDEX_FORMAT = "dpbench-nuscenes-keyframes/1"
#: The order of the val items before the val_881 draw (spec key ``subset_order``): by scene name,
#: then keyframe timestamp, then camera in the order of the ``cameras`` option. plumbline orders
#: by sample token instead, so the same seed picks other frames there.
SUBSET_ORDER = "scene_timestamp"


def draw_subset(count: int, size: int, seed: int) -> list[int]:
    """Indices of the val_881 draw: ``size`` of ``range(count)`` without replacement, ascending.

    numpy ``default_rng(seed).choice(count, size, replace=False)``, sorted back into the order
    of the items (dpbench's own draw; the paper's 881 frames are unpublished).
    """
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(count, size=size, replace=False)).tolist()


def _channel_record(data: dict, calib: dict, ego: dict) -> dict:
    return {
        "filename": data["filename"],
        "width": data.get("width"),
        "height": data.get("height"),
        "sensor": [calib["rotation"], calib["translation"]],
        "intrinsic": calib.get("camera_intrinsic") or [],
        "ego": [ego["rotation"], ego["translation"]],
    }


def build_keyframe_index(version_dir: Path) -> list[dict]:
    """Reduce the tables to one record per keyframe sample, sorted by (scene name, timestamp)."""
    scenes = {r["token"]: r["name"] for r in load_table(version_dir, "scene")}
    samples = {r["token"]: r for r in load_table(version_dir, "sample")}
    channels = {r["token"]: r["channel"] for r in load_table(version_dir, "sensor")}
    calibrated = {r["token"]: r for r in load_table(version_dir, "calibrated_sensor")}
    wanted = set(CAMERAS) | {LIDAR}
    keyframes: dict[str, dict[str, dict]] = {}
    for data in load_table(version_dir, "sample_data"):
        if not data.get("is_key_frame"):
            continue
        calib = calibrated.get(data["calibrated_sensor_token"])
        if calib is None:
            raise DatasetError(f"{version_dir / 'sample_data.json'}: record {data['token']} refers to an unknown "
                               f"calibrated_sensor {data['calibrated_sensor_token']}")
        channel = channels.get(calib["sensor_token"])
        if channel in wanted:
            keyframes.setdefault(data["sample_token"], {})[channel] = data
    ego_tokens = {data["ego_pose_token"] for chans in keyframes.values() for data in chans.values()}
    poses = {r["token"]: r for r in load_table(version_dir, "ego_pose") if r["token"] in ego_tokens}
    index = []
    for sample_token, chans in keyframes.items():
        sample = samples.get(sample_token)
        if sample is None:
            raise DatasetError(f"{version_dir / 'sample_data.json'}: keyframe of unknown sample {sample_token}")
        record = {"token": sample_token, "scene": scenes.get(sample["scene_token"], sample["scene_token"]),
                  "timestamp": sample["timestamp"], "channels": {}}
        for channel, data in chans.items():
            ego = poses.get(data["ego_pose_token"])
            if ego is None:
                raise DatasetError(f"{version_dir / 'ego_pose.json'}: missing ego_pose {data['ego_pose_token']}")
            record["channels"][channel] = _channel_record(data, calibrated[data["calibrated_sensor_token"]], ego)
        index.append(record)
    index.sort(key=lambda r: (r["scene"], r["timestamp"], r["token"]))
    return index


def _tables_signature(version_dir: Path) -> str:
    parts = [str(version_dir.resolve())]
    for name in TABLES:
        path = version_dir / f"{name}.json"
        stat = path.stat() if path.exists() else None
        parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}" if stat else f"{name}:-")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def cached_keyframe_index(version_dir: Path) -> list[dict]:
    """:func:`build_keyframe_index`, cached on disk by the tables' path, sizes and mtimes."""
    path = cache_dir() / "nuscenes" / f"keyframes-{_tables_signature(version_dir)}.json"
    if path.is_file():
        try:
            payload = json.loads(path.read_text())
            if payload.get("format") == _INDEX_FORMAT:
                return payload["samples"]
        except (json.JSONDecodeError, OSError, KeyError):
            log.warning("nuscenes: ignoring unreadable index cache %s", path)
    index = build_keyframe_index(version_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".tmp{os.getpid()}")
        temporary.write_text(json.dumps({"format": _INDEX_FORMAT, "tables": str(version_dir), "samples": index}))
        temporary.replace(path)
    except OSError as exc:  # a read-only cache must not prevent opening the dataset
        log.warning("nuscenes: could not cache the keyframe index at %s: %s", path, exc)
    return index


@register_dataset("nuscenes")
class NuScenes(DepthDataset):
    """nuScenes keyframes (CAM_FRONT of the val scenes by default) with sparse LiDAR depth."""


    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise", *,
                 cameras: list[str] | tuple[str, ...] | str | None = None, min_dist: float | None = None,
                 rounding: str | None = None, tables: str | None = None):
        if isinstance(cameras, str):
            cameras = [cameras]
        self._tables_choice = tables
        self.version_dir: Path | None = None
        super().__init__(root, split, on_error, cameras=cameras, min_dist=min_dist, rounding=rounding)

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        root = Path(root)
        return (root / "samples").is_dir() and any((root / name / "sample.json").is_file()
                                                   for name in ("v1.0-trainval", "v1.0-mini", "v1.0-test"))

    def _find_tables(self) -> Path | None:
        if self._tables_choice is not None:
            path = self.root / self._tables_choice
            if not (path / "sample.json").is_file():
                raise DatasetError(f"{self.name}: tables folder {path} not found (no sample.json)")
            return path
        for name in self.spec_value("table_folders"):
            if (self.root / name / "sample.json").is_file():
                return self.root / name
        return None

    def _scene_filter(self) -> set[str] | None:
        if self.split in ("val", "val_881"):
            return set(read_list_file(self.spec_value("val_scenes_file")))
        if self.split == "mini_val":
            return set(self.spec.get("mini_val_scenes", []))
        return None

    def _index(self) -> list[tuple[dict, str]]:
        self.version_dir = self._find_tables()
        if self.version_dir is None:
            return []
        self.options["tables"] = self.version_dir.name
        scenes = self._scene_filter()
        items = []
        for record in cached_keyframe_index(self.version_dir):
            if scenes is not None and record["scene"] not in scenes:
                continue
            for camera in self.options["cameras"]:
                channels = record["channels"]
                if camera not in channels:
                    self._skip_or_raise(f"{record['scene']}/{record['token']}", f"no {camera} keyframe in the tables")
                    continue
                image_path = self.root / channels[camera]["filename"]
                if self.split == "all" and not image_path.is_file():
                    continue  # "all" = the samples whose image is present (partial downloads)
                missing = [] if image_path.is_file() else [str(image_path)]
                if LIDAR not in channels:
                    missing.append(f"{LIDAR} keyframe in the tables")
                elif not (self.root / channels[LIDAR]["filename"]).is_file():
                    missing.append(str(self.root / channels[LIDAR]["filename"]))
                if missing:
                    self._skip_or_raise(f"{record['scene']}/{camera}/{record['token']}", f"missing {', '.join(missing)}")
                    continue
                items.append((record, camera))
        if scenes is not None:
            found = {record["scene"] for record, _ in items}
            absent = sorted(scenes - found)
            if absent:
                log.warning("%s: %d scene(s) of split %r are not in %s (e.g. %s)", self.name, len(absent),
                            self.split, self.version_dir, absent[0])
        if self.split == "val_881":
            # The items are in the SUBSET_ORDER already (the index is sorted by scene and timestamp,
            # cameras follow the option's order); the spec must name that order, since the order
            # decides which items the seed picks.
            order = self.spec_value("subset_order")
            if order != SUBSET_ORDER:
                raise DatasetError(f"{self.name}: datasets/{self.name}.toml: subset_order = {order!r} is not "
                                   f"implemented; the adapter draws val_881 from the {SUBSET_ORDER!r} order")
            size = int(self.spec_value("subset_size"))
            if len(items) < size:
                raise DatasetError(f"{self.name}: split 'val_881' needs {size} val samples, only {len(items)} found "
                                   f"under {self.root}")
            items = [items[i] for i in draw_subset(len(items), size, int(self.spec_value("subset_seed")))]
        return items

    def _item_id(self, item: tuple[dict, str]) -> str:
        record, camera = item
        return f"{record['scene']}/{camera}/{record['token']}"

    def _load(self, item: tuple[dict, str]) -> Sample:
        record, camera = item
        cam = record["channels"][camera]
        lidar = record["channels"][LIDAR]
        image_path = self.root / cam["filename"]
        lidar_path = self.root / lidar["filename"]
        image = read_image(image_path)
        height, width = image.shape[:2]
        if (cam.get("width"), cam.get("height")) not in ((width, height), (None, None)):
            raise DatasetError(f"{self.name}: {image_path}: image is {width}x{height} but sample_data says "
                               f"{cam.get('width')}x{cam.get('height')}")
        K = np.asarray(cam["intrinsic"], dtype=np.float64)
        if K.shape != (3, 3):
            raise DatasetError(f"{self.name}: {self.version_dir}: calibrated_sensor of {camera} for sample "
                               f"{record['token']} has no 3x3 camera_intrinsic")
        points = read_pcd_bin(lidar_path)
        in_camera = lidar_points_in_camera(
            points,
            lidar_sensor=Pose(*[tuple(v) for v in lidar["sensor"]]),
            lidar_ego=Pose(*[tuple(v) for v in lidar["ego"]]),
            camera_ego=Pose(*[tuple(v) for v in cam["ego"]]),
            camera_sensor=Pose(*[tuple(v) for v in cam["sensor"]]),
        )
        depth = rasterize_depth(in_camera, K, width, height, min_dist=float(self.options["min_dist"]),
                                rounding=self.options["rounding"])
        meta = {
            "scene": record["scene"],
            "camera": camera,
            "sample_token": record["token"],
            "timestamp": record["timestamp"],
            "image_path": image_path,
            "depth_path": lidar_path,
            "calib_path": self.version_dir / "calibrated_sensor.json",
            "intrinsics": K.tolist(),
            "lidar_points": int(len(points)),
        }
        return self._make_sample(self._item_id(item), image, depth, None, float(K[0, 0]), meta, lidar_path)
