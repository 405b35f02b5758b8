"""Who ran what, where: the model record, the environment, run ids and the resume fingerprint."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dpbench import __version__


def describe_model(model: Any, checkpoint: str | None) -> dict:
    """The manifest's ``model`` record: ``model.describe()`` plus checkpoint path and sha256."""
    record = dict(model.describe()) if hasattr(model, "describe") else {}
    record.setdefault("name", getattr(model, "name", ""))
    record.setdefault("output_kind", getattr(model, "output_kind", "metric_depth"))
    record.setdefault("reads_ground_truth", bool(getattr(model, "reads_ground_truth", False)))
    path = record.get("checkpoint") or checkpoint
    record["checkpoint"] = str(path) if path else None
    if not record.get("checkpoint_sha256"):
        record["checkpoint_sha256"] = file_sha256(path) if path and Path(path).is_file() else None
    return json.loads(json.dumps(record, default=str))


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """sha256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def environment_record(device: str, precision: str, world_size: int) -> dict:
    """Versions, device, precision, git commit and host of this run (manifest ``environment``)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for key, distribution in (("numpy", "numpy"), ("torch", "torch"), ("timm", "timm"), ("scipy", "scipy"),
                              ("pandas", "pandas"), ("cv2", "opencv-python-headless"), ("h5py", "h5py"),
                              ("pyarrow", "pyarrow")):
        try:  # package metadata: no import (importing torch/timm costs seconds)
            versions[key] = version(distribution)
        except PackageNotFoundError:
            versions[key] = None
    resolved, device_name = _device_info(device)
    commit, dirty = _git_state()
    return {
        "dpbench": __version__,
        "python": platform.python_version(),
        **versions,
        "device": resolved,
        "device_name": device_name,
        "precision": precision,
        "git_commit": commit,
        "git_dirty": dirty,
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "world_size": world_size,
    }


def _device_info(device: str) -> tuple[str, str]:
    """The device the model ran on. A model that never imported torch (the probes, cached
    predictions) ran on the CPU whatever was requested."""
    if "torch" not in sys.modules:
        return "cpu", cpu_name()
    try:
        import torch

        from dpbench.models.device import resolve_device

        resolved = resolve_device(device)
        if resolved.type == "cuda":
            return str(resolved), torch.cuda.get_device_name(resolved)
        if resolved.type == "mps":
            return "mps", "Apple MPS"
        return "cpu", cpu_name()
    except Exception as exc:  # recording the environment must never stop a run
        return device, f"unknown ({type(exc).__name__})"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_state() -> tuple[str | None, bool | None]:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None, None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
        return commit or None, bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso(moment: _dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^A-Za-z0-9._+]+", "-", text).strip("-.") or "model"
    return slug[:limit].rstrip("-.")


def new_run_id(runs_dir: Path, model: str, suite: str, moment: _dt.datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS-<model>-<suite>`` (UTC), with ``-2``, ``-3``... if it is taken."""
    moment = moment or utc_now()
    base = f"{moment:%Y%m%d-%H%M%S}-{_slug(model)}-{_slug(suite, 24)}"
    candidate, number = base, 1
    while (runs_dir / candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def run_fingerprint(model_record: Mapping, model_options: Mapping, suite_name: str,
                    datasets: Sequence[str], protocol_record: Mapping, limit: int | None,
                    precision: str, save_predictions: bool = False) -> str:
    """A hash of everything that must match for a run to be resumed (not device or batch size)."""
    payload = {
        "model": model_record.get("name"), "checkpoint_sha256": model_record.get("checkpoint_sha256"),
        "model_options": dict(model_options), "suite": suite_name, "datasets": list(datasets),
        "protocol": dict(protocol_record), "limit": limit, "precision": precision,
        "save_predictions": bool(save_predictions),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


__all__ = ["cpu_name", "describe_model", "environment_record", "file_sha256", "iso", "new_run_id",
           "run_fingerprint", "utc_now"]
