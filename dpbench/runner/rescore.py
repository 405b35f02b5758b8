"""Re-score a finished run from its cached predictions with other protocol options.

``dpbench rescore RUN --alignment ... --aggregation ...`` never runs the model again: it replays
the predictions saved by ``dpbench run --save-predictions`` (``predictions.h5``) through the
normal pipeline (re-opening each dataset from the root and split recorded in the manifest for the
ground truth) and writes a new run whose manifest names its source (``rescored_from``). The
cached predictions are float16, so re-scored metrics differ from the original run's by float16
round-off (relative 5e-4 per pixel) even with identical options.

The focal mode cannot change here: it changed what the model was given, i.e. the predictions.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dpbench.errors import DpbenchError, ModelError
from dpbench.models.base import DepthModel
from dpbench.protocol import Protocol, ProtocolError
from dpbench.runner.api import evaluate, print_message
from dpbench.runner.config import RunConfig, RunResult
from dpbench.store import RunStore, StoreError
from dpbench.suites import Suite, SuiteEntry
from dpbench.types import Prediction, Sample

log = logging.getLogger(__name__)


class CachedPredictions(DepthModel):
    """A stand-in model that returns a run's cached predictions (by dataset and sample id)."""

    def __init__(self, store: RunStore):
        self.store = store
        record = store.manifest.get("model", {})
        self.record = dict(record)
        self.name = str(record.get("name", "cached"))
        self.output_kind = str(record.get("output_kind", "metric_depth"))
        self.reads_ground_truth = bool(record.get("reads_ground_truth", False))
        self._dataset: str | None = None

    def begin_dataset(self, dataset: str) -> None:
        self._dataset = dataset

    def predict(self, sample_or_image: Sample | np.ndarray, focal_px: float | None = None) -> Prediction:
        if not isinstance(sample_or_image, Sample) or self._dataset is None:
            raise ModelError("cached predictions are looked up by dataset and sample id: pass a Sample")
        try:
            depth, attrs = self.store.read_prediction(self._dataset, sample_or_image.id)
        except KeyError as exc:
            raise ModelError(str(exc).strip("'\"")) from None
        meta: dict[str, Any] = {"cached_from": self.store.run_id}
        source = attrs.get("focal_source")
        if source:
            meta["focal_source"] = source
        estimate = _number(attrs.get("focal_px_estimated"))
        if estimate is not None:
            meta["focal_px_estimated"] = estimate
        return Prediction(depth=depth, focal_px=_number(attrs.get("focal_px")), meta=meta)

    def describe(self) -> dict:
        return dict(self.record)


def _number(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _resolve_run(run: str | os.PathLike, runs_dir: str | os.PathLike | None) -> RunStore:
    path = Path(run)
    if not (path / "manifest.json").exists() and runs_dir is not None:
        path = Path(runs_dir) / str(run)
    return RunStore(path)


def _new_id(runs_dir: Path, base: str) -> str:
    candidate, number = f"{base}-rescored", 1
    while (runs_dir / candidate).exists():
        number += 1
        candidate = f"{base}-rescored-{number}"
    return candidate


def rescore(run: str | os.PathLike, *, new_id: str | None = None, runs_dir: str | os.PathLike | None = None,
            protocol: Mapping[str, Any] | None = None, data_root: str | os.PathLike | None = None,
            workers: int = 2, progress: bool = True,
            say: Callable[[str], None] | None = None) -> RunResult:
    """Score the cached predictions of ``run`` again under ``protocol`` overrides; a new run.

    ``run`` is a run folder or a run id under ``runs_dir``; the new run goes next to it (or into
    ``runs_dir``) as ``new_id`` (default ``<run id>-rescored``). ``data_root`` re-locates the
    datasets when they moved since the original run.
    """
    source = _resolve_run(run, runs_dir)
    source.validate()
    manifest = source.manifest
    if not manifest.get("save_predictions") or not source.has_predictions():
        raise StoreError(f"run {source.run_id} has no cached predictions (it was not run with "
                         "--save-predictions); re-run the model instead")
    overrides = {k: v for k, v in (protocol or {}).items() if v is not None}
    old_focal = manifest.get("protocol", {}).get("focal_mode")
    if "focal_mode" in overrides and overrides["focal_mode"] != old_focal:
        raise ProtocolError("the focal mode changes the model's input, so cached predictions cannot be "
                            f"re-scored with another one (this run used {old_focal!r}); re-run the model")
    new_protocol = Protocol.from_options(manifest.get("protocol", {}), **overrides)
    if source.is_locked():
        raise StoreError(f"run {source.run_id} is still being written; wait for it to finish")
    source.merge_predictions()
    keys = source.prediction_keys()
    source_rows = source.rows()

    entries = []
    for record in manifest.get("datasets", []):
        if record.get("status") in ("missing", "error") or not record.get("root"):
            continue
        path = Path(record["root"])
        if data_root is not None:
            from dpbench.datasets import find_dataset_root

            path = find_dataset_root(record["name"], data_root) or path
        entries.append(SuiteEntry(dataset=record["name"], tasks=tuple(record.get("tasks", ())),
                                  split=record.get("split"), path=path))
    if not entries:
        raise DpbenchError(f"run {source.run_id} has no evaluated dataset to re-score")
    suite = Suite(name=str(manifest.get("suite", "custom")), description=f"re-score of {source.run_id}",
                  entries=tuple(entries), protocol=new_protocol.as_options(), source="rescore")

    def sample_filter(dataset: str) -> set[str]:
        return {sample_id for name, sample_id in keys if name == dataset}

    def carried_rows(dataset: str) -> list[dict]:
        """Error rows of samples without a cached prediction (the model failed on them)."""
        rows = source_rows[(source_rows["dataset"] == dataset) & (source_rows["status"] == "error")]
        rows = rows[[(dataset, sid) not in keys for sid in rows["sample_id"]]]
        return [_clean(r) for r in rows.to_dict("records")]

    target_dir = Path(runs_dir) if runs_dir is not None else source.path.parent
    options_record = manifest.get("options", {})
    config = RunConfig(model=str(manifest.get("model", {}).get("name", "cached")), suite=suite,
                       out=target_dir, run_id=new_id or _new_id(target_dir, source.run_id), resume=False,
                       save_predictions=False, workers=workers, progress=progress,
                       precision=str(options_record.get("precision", "fp32")),
                       limit=manifest.get("limit"), on_error="continue", device="cpu")
    result = evaluate(CachedPredictions(source), config, say=say or print_message,
                      extra_manifest={"rescored_from": source.run_id, "rescored_from_path": str(source.path)},
                      sample_filter=sample_filter, carried_rows=carried_rows)
    _share_predictions(source, result.store)
    return result


def _clean(row: Mapping[str, Any]) -> dict:
    out = {}
    for key, value in row.items():
        if isinstance(value, float) and math.isnan(value):
            continue
        out[key] = value
    return out


def _share_predictions(source: RunStore, target: RunStore) -> None:
    """Give the new run the source's ``predictions.h5`` (hard link, or a copy across devices)."""
    if not source.predictions_path.exists():
        return
    try:
        os.link(source.predictions_path, target.predictions_path)
    except OSError:
        shutil.copyfile(source.predictions_path, target.predictions_path)
    target.update_manifest(save_predictions=True, predictions_from=source.run_id)


__all__ = ["CachedPredictions", "rescore"]
