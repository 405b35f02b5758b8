"""Opening a run folder: a new run, or the unfinished run with the same setup (resume)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dpbench.runner.config import RunConfig
from dpbench.runner.dist import DistContext
from dpbench.runner.provenance import iso, new_run_id, utc_now
from dpbench.runner.scoring import error_text
from dpbench.store import RunStore, StoreError, list_runs

log = logging.getLogger(__name__)


def find_resumable(runs_dir: Path, fingerprint: str) -> RunStore | None:
    for store in reversed(list_runs(runs_dir)):
        manifest = store.manifest
        if manifest.get("fingerprint") == fingerprint and manifest.get("status") != "complete":
            return store
    return None


def compare_for_resume(store: RunStore, fingerprint: str, model_record: Mapping, suite_name: str,
                        protocol_record: Mapping) -> None:
    manifest = store.manifest
    if manifest.get("fingerprint") == fingerprint:
        return
    differences = []
    if manifest.get("model", {}).get("name") != model_record.get("name"):
        differences.append(f"model {manifest.get('model', {}).get('name')!r} vs {model_record.get('name')!r}")
    if manifest.get("model", {}).get("checkpoint_sha256") != model_record.get("checkpoint_sha256"):
        differences.append("checkpoint sha256")
    if manifest.get("suite") != suite_name:
        differences.append(f"suite {manifest.get('suite')!r} vs {suite_name!r}")
    old_protocol = manifest.get("protocol", {})
    changed = sorted(k for k in set(old_protocol) | set(protocol_record)
                     if old_protocol.get(k) != json.loads(json.dumps(protocol_record.get(k), default=str)))
    if changed:
        differences.append("protocol options " + ", ".join(changed))
    if not differences:
        differences.append("dataset selection, --limit, --precision, --save-predictions or model options")
    raise StoreError(f"cannot resume run {store.run_id}: it was started with a different setup "
                     f"({'; '.join(differences)}). Use another --run-id or --no-resume.")


def open_store(config: RunConfig, ctx: DistContext, fingerprint: str, manifest: dict,
                model_record: Mapping, suite_name: str, protocol_record: Mapping) -> tuple[RunStore, bool]:
    """Rank 0 creates or resumes the run folder; every rank gets its path."""
    runs_dir = Path(config.out)
    answer: dict[str, Any] = {}
    if ctx.is_main:
        store, resumed = None, False
        try:
            if config.run_id is not None and (runs_dir / config.run_id / "manifest.json").exists():
                if not config.resume:
                    raise StoreError(f"run {config.run_id} already exists in {runs_dir}; use --resume to "
                                     "continue it or choose another --run-id")
                store = RunStore(runs_dir / config.run_id)
                compare_for_resume(store, fingerprint, model_record, suite_name, protocol_record)
                resumed = True
            elif config.run_id is None and config.resume:
                store = find_resumable(runs_dir, fingerprint)
                resumed = store is not None
            if store is None:
                run_id = config.run_id or new_run_id(runs_dir, model_record.get("name", "model"), suite_name)
                # creating the folder and taking its lock are one step: of two processes starting
                # the same run id at once, one gets the run and the other a StoreError
                store = RunStore.create(runs_dir / run_id, {**manifest, "run_id": run_id}, lock=True)
            else:
                store.acquire_lock()
                for action in store.repair():
                    log.warning("run %s: %s", store.run_id, action)
                store.merge_shards()
                history = list(store.manifest.get("resumed", []))
                history.append(iso(utc_now()))
                store.update_manifest(status="running", finished=None, failure=None, resumed=history,
                                      environment=manifest["environment"])
            answer = {"path": str(store.path), "resumed": resumed}
        except BaseException as exc:
            if store is not None:
                store.release_lock()  # only if this process took it (a failed resume)
            answer = {"error": error_text(exc), "exception": exc}
    shared = ctx.broadcast({k: v for k, v in answer.items() if k != "exception"})
    if "error" in shared:
        if ctx.is_main and "exception" in answer:
            raise answer["exception"]
        raise StoreError(shared["error"])
    ctx.barrier()
    return RunStore(shared["path"]), bool(shared["resumed"])


__all__ = ["compare_for_resume", "find_resumable", "open_store"]
