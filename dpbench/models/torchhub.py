"""Upstream models published through ``torch.hub``: one loading path for every baseline family.

dpbench owns the protocol around an upstream network (pre- and post-processing, intrinsics,
units) and loads the network itself the way its authors publish it: ``torch.hub.load`` of their
GitHub repository (code cached under ``torch.hub.get_dir()``, weights under its ``checkpoints/``).
The ``repo`` model option points at a local clone instead (``-o repo=/path/to/Metric3D``), which is
also how the tests load stand-ins of the upstream entry points.

Offline (``DPBENCH_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``) a GitHub repository is read from the hub
cache only; without a cached copy the error says so at once (no network attempt, no retries).
A missing Python package of the upstream code becomes a one-line error naming the dpbench extra.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpbench.errors import MissingExtraError, ModelError
from dpbench.models.hub_cache import is_offline


@dataclass
class HubSource:
    """Where an upstream hub repository is read from, and what a run records about it."""

    repo: str  # "owner/name[:ref]" or a local folder
    local_dir: Path | None  # the folder torch.hub reads (None: download from GitHub)
    provenance: dict[str, Any] = field(default_factory=dict)


def hub_dir() -> Path:
    """torch.hub's cache folder (``$TORCH_HOME/hub``, by default ~/.cache/torch/hub)."""
    import torch

    return Path(torch.hub.get_dir())


def cached_repo_dir(repo: str) -> Path | None:
    """The hub cache's copy of GitHub repository ``owner/name[:ref]``, if one is there.

    torch.hub stores ``owner/name:ref`` as ``<hub_dir>/owner_name_ref``; without a ref any cached
    branch of the repository is accepted (the newest folder).
    """
    owner_name, _, ref = repo.partition(":")
    owner, _, name = owner_name.partition("/")
    folder = hub_dir()
    if ref:
        exact = folder / f"{owner}_{name}_{ref.replace('/', '_')}"
        return exact if exact.is_dir() else None
    candidates = [p for p in folder.glob(f"{owner}_{name}_*") if p.is_dir()] if folder.is_dir() else []
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def hub_checkpoint(filename: str) -> Path:
    """Where torch.hub keeps a downloaded weight file (``<hub_dir>/checkpoints/<filename>``)."""
    return hub_dir() / "checkpoints" / filename


def git_commit(folder: Path | None) -> str | None:
    """The commit a clone of upstream code is at (None when it is not a git checkout): what a run
    records so that the upstream code it used can be found again."""
    if folder is None or not (folder / ".git").exists():
        return None
    try:
        return subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _code_provenance(folder: Path) -> dict[str, Any]:
    """The git commit of a repository folder, and the sha256 of its ``hubconf.py``."""
    record: dict[str, Any] = {"code_dir": str(folder)}
    commit = git_commit(folder)
    if commit is not None:
        record["code_commit"] = commit
    hubconf = folder / "hubconf.py"
    if hubconf.is_file():
        record["hubconf_sha256"] = hashlib.sha256(hubconf.read_bytes()).hexdigest()
    return record


def resolve_hub_source(model_name: str, repo: str) -> HubSource:
    """Decide where ``repo`` (a GitHub ``owner/name[:ref]`` or a local clone) is read from.

    A local folder must hold ``hubconf.py``. A GitHub repository is downloaded by torch.hub
    unless offline, where only the hub cache is read.
    """
    local = Path(os.path.expanduser(repo))
    if local.exists() or repo.startswith((".", "/", "~")):
        if not (local / "hubconf.py").is_file():
            raise ModelError(f"{model_name}: {local} is not a torch.hub repository (no hubconf.py there)")
        return HubSource(repo, local, {"code": "local", **_code_provenance(local)})
    if is_offline():
        cached = cached_repo_dir(repo)
        if cached is None:
            raise ModelError(f"{model_name}: offline and the torch.hub cache ({hub_dir()}) has no copy of "
                             f"{repo}; run once with internet, or pass -o repo=<path to a clone of {repo}>")
        return HubSource(repo, cached, {"code": f"github:{repo} (hub cache)", **_code_provenance(cached)})
    return HubSource(repo, None, {"code": f"github:{repo}"})


def load_hub_entry(model_name: str, source: HubSource, entry: str, *, extra: str, **kwargs) -> Any:
    """``torch.hub.load`` of ``entry`` from ``source`` with ``kwargs`` as upstream names them.

    An ImportError raised by the upstream code becomes a MissingExtraError naming ``extra``.
    After a GitHub download the cached folder's commit is added to ``source.provenance``.
    """
    import torch

    try:
        if source.local_dir is not None:
            module = torch.hub.load(str(source.local_dir), entry, source="local", **kwargs)
        else:
            module = torch.hub.load(source.repo, entry, trust_repo=True, **kwargs)
            cached = cached_repo_dir(source.repo)
            if cached is not None:
                source.provenance.update(_code_provenance(cached))
    except ModuleNotFoundError as exc:
        raise MissingExtraError(f"model {model_name!r} (upstream {source.repo})", extra, exc.name or str(exc)) from None
    except ImportError as exc:
        raise MissingExtraError(f"model {model_name!r} (upstream {source.repo})", extra, str(exc)) from None
    source.provenance["entry"] = entry
    return module


__all__ = ["HubSource", "cached_repo_dir", "git_commit", "hub_checkpoint", "hub_dir", "load_hub_entry", "resolve_hub_source"]
