"""A speed measurement stored as a run (``kind: "speed"``).

Layout: an ordinary run folder ``<out>/<run-id>/`` written through :class:`~dpbench.store.RunStore`:

- ``manifest.json`` with ``kind: "speed"``, ``suite: "speed"``, the model record (incl.
  checkpoint sha256), model options, the environment (device, device name, host, versions,
  precision), ``speed``: {sizes, batch_size, warmup, repeats, compile, role, baseline_run or
  candidate_run, memory method, parameters, FLOPs at HD, native resolution} and a
  ``fingerprint`` of the setup;
- one row per input size: ``dataset="speed"``, ``task="speed"``, ``sample_id`` = size label
  (``vga``, ``hd``, ``4k``, ``800x600``), status ``ok`` or ``error`` (error text ``OOM: ...`` for
  an allocation failure) and the numeric columns of :data:`SPEED_COLUMNS`.

A setup other than plain fp32 (precision fp16/bf16, ``compile``, or a speed-only model option)
is compared with its fp32 reference after all sizes are timed (:mod:`dpbench.speed.fp32`): the
columns ``out_*_diff`` of each measured size, ``speed.fp32_reference`` (``"self"`` for a plain
fp32 setup, ``"off"`` when not asked, else how the reference was loaded) and
``speed.fp32_reference_error`` when the reference failed (the timing rows are kept).

A baseline model (``baseline_model``) is measured in the same job, after the candidate, on the
same sizes, and stored as a **second run** (``<run-id>.baseline``); the two manifests point at
each other (``speed.baseline_run`` / ``speed.candidate_run``), so that every run keeps one model,
as the rest of dpbench expects, and :func:`~dpbench.speed.check.check_speed` compares numbers
measured together.

Resuming: with ``run_id`` naming an existing run of the same setup (same fingerprint: model,
checkpoint, options, device, host, precision, batch size, warm-up, repeats, compile), only the
sizes without an ``ok`` row are measured (failed sizes are tried again). Without ``run_id`` the
newest unfinished speed run of the same setup in ``out`` is continued.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dpbench.errors import DpbenchError, ModelError
from dpbench.speed import fp32
from dpbench.speed.flops import FlopCount, count_model_flops, meta_model
from dpbench.speed.hooks import (
    count_parameters,
    failure_text,
    forward_callable,
    is_out_of_memory,
    native_hw,
    release_memory,
)
from dpbench.speed.memory import PeakMemory, rss_bytes
from dpbench.speed.sizes import DEFAULT_SIZES, SIZE_PRESETS, InputSize, parse_size, parse_sizes
from dpbench.speed.timing import LatencyStats, make_timer, time_calls
from dpbench.store import RunStore, StoreError, list_runs

log = logging.getLogger(__name__)

KIND = "speed"
DATASET = "speed"
TASK = "speed"
#: The size whose FLOPs fill the Table 5 "FLOPs @HD" column.
FLOPS_REFERENCE_SIZE = "hd"
BASELINE_SUFFIX = ".baseline"

#: Numeric columns of a speed row (NaN when not applicable, e.g. forward-only without the hook).
SPEED_COLUMNS = (
    "width", "height", "batch_size", "warmup", "repeats",
    "latency_ms_median", "latency_ms_p10", "latency_ms_p90", "latency_ms_min", "latency_ms_max",
    "latency_ms_mean", "ms_per_image_median", "images_per_s",
    "forward_ms_median", "forward_ms_p10", "forward_ms_p90", "forward_ms_min", "forward_ms_max",
    "forward_ms_mean", "forward_images_per_s",
    "peak_mem_mb", "peak_reserved_mb", "model_mem_mb",
    "params", "flops", "macs", "gflops", "gmacs", "native_height", "native_width",
    *fp32.FP32_DIFF_COLUMNS,
)


class SpeedError(DpbenchError):
    """A speed run cannot be made as asked (bad option, unavailable device, mismatched resume)."""


@dataclass
class SpeedConfig:
    """Everything ``dpbench speed`` accepts (see ``dpbench speed --help``)."""

    model: str
    model_options: Mapping[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    device: str = "auto"
    precision: str = "fp32"
    sizes: str | Sequence[str] = DEFAULT_SIZES
    batch_size: int = 1
    warmup: int = 2
    repeats: int = 10
    compile: bool = False
    out: str | Path = "runs"
    run_id: str | None = None
    baseline_model: str | None = None
    baseline_options: Mapping[str, Any] = field(default_factory=dict)
    baseline_checkpoint: str | None = None
    seed: int = 0
    #: Compare each size's output with the fp32 reference (None: whenever the setup is not
    #: plain fp32; see :mod:`dpbench.speed.fp32`).
    compare_fp32: bool | None = None

    def check(self) -> list[InputSize]:
        """Validate; return the parsed sizes (SizeError/SpeedError on bad values)."""
        from dpbench.models.device import PRECISIONS

        sizes = parse_sizes(self.sizes) if isinstance(self.sizes, str) else parse_sizes(list(self.sizes))
        if int(self.batch_size) < 1:
            raise SpeedError(f"batch size must be >= 1, got {self.batch_size}")
        if int(self.warmup) < 0:
            raise SpeedError(f"warmup must be >= 0, got {self.warmup}")
        if int(self.repeats) < 1:
            raise SpeedError(f"repeats must be >= 1, got {self.repeats}")
        if self.precision not in PRECISIONS:
            raise SpeedError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.run_id is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", self.run_id):
            raise SpeedError(f"run id {self.run_id!r}: use letters, digits and . _ + - only")
        return sizes


@dataclass
class ModelMeasurement:
    """What :func:`run_speed` returns per measured model."""

    role: str
    store: RunStore
    resumed: bool
    measured: list[str]
    skipped: list[str]


@dataclass
class SpeedResult:
    """The candidate's run, the baseline's run (or None) and the sizes measured."""

    candidate: ModelMeasurement
    baseline: ModelMeasurement | None
    sizes: list[InputSize]

    @property
    def store(self) -> RunStore:
        return self.candidate.store


# -- devices ----------------------------------------------------------------------------------

def resolve_speed_device(device: str):
    """``torch.device`` for ``device``, or a one-line SpeedError when it is not available."""
    from dpbench.models.device import resolve_device

    try:
        return resolve_device(device)
    except RuntimeError as exc:  # unavailable CUDA/MPS, malformed names
        raise SpeedError(str(exc)) from exc


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def fingerprint(model_record: Mapping, options: Mapping, environment: Mapping, config: SpeedConfig) -> str:
    """A hash of everything that must match to resume a speed run (not the sizes)."""
    payload = {
        "model": model_record.get("name"), "checkpoint_sha256": model_record.get("checkpoint_sha256"),
        "config": model_record.get("config"), "options": dict(options),
        "device": environment.get("device"), "device_name": environment.get("device_name"),
        "host": environment.get("hostname"), "precision": config.precision,
        "batch_size": int(config.batch_size), "warmup": int(config.warmup), "repeats": int(config.repeats),
        "compile": bool(config.compile), "torch": environment.get("torch"),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _find_resumable(out: Path, print_: str) -> RunStore | None:
    for store in reversed(list_runs(out)):
        manifest = store.manifest
        if (manifest.get("kind") == KIND and manifest.get("fingerprint") == print_
                and manifest.get("status") != "complete" and not store.is_locked()):
            return store
    return None


def _open_store(out: Path, run_id: str | None, print_: str, manifest: dict, allow_search: bool) -> tuple[RunStore, bool]:
    from dpbench.runner import new_run_id

    if run_id is not None and (out / run_id / "manifest.json").exists():
        store = RunStore(out / run_id)
        old = store.manifest
        if old.get("kind") != KIND:
            raise SpeedError(f"run {run_id} in {out} is not a speed run; choose another --run-id")
        if old.get("fingerprint") != print_:
            raise SpeedError(f"cannot resume speed run {run_id}: it was measured with a different setup "
                             "(model, checkpoint, options, device, host, precision, batch size, warm-up, "
                             "repeats or compile); choose another --run-id")
        resumed = True
    else:
        store = _find_resumable(out, print_) if (run_id is None and allow_search) else None
        resumed = store is not None
        if store is None:
            name = run_id or new_run_id(out, manifest["model"].get("name", "model"), KIND)
            return RunStore.create(out / name, {**manifest, "run_id": name}, lock=True), False
    store.acquire_lock()
    for action in store.repair():
        log.warning("run %s: %s", store.run_id, action)
    history = list(store.manifest.get("resumed", []))
    history.append(_now())
    store.update_manifest(status="running", finished=None, failure=None, resumed=history,
                          environment=manifest["environment"])
    return store, resumed


# -- one size ---------------------------------------------------------------------------------

def _stats_columns(prefix: str, stats: LatencyStats) -> dict:
    return {f"{prefix}_median": stats.median_ms, f"{prefix}_p10": stats.p10_ms, f"{prefix}_p90": stats.p90_ms,
            f"{prefix}_min": stats.min_ms, f"{prefix}_max": stats.max_ms, f"{prefix}_mean": stats.mean_ms}


def random_images(size: InputSize, batch_size: int, seed: int = 0) -> list[np.ndarray]:
    """``batch_size`` random H×W×3 uint8 images (fixed seed: every run sees the same pixels)."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size.height, size.width, 3), dtype=np.uint8) for _ in range(batch_size)]


def measure_size(model: Any, size: InputSize, *, index: int, batch_size: int, warmup: int, repeats: int,
                 device, timer, reference_bytes: int | None, flops: FlopCount | None,
                 params: int | None, seed: int = 0, memory_factory=PeakMemory,
                 outputs: dict[str, fp32.KeptOutput] | None = None) -> dict:
    """One row: latencies of ``predict_batch`` and of the forward alone, peak memory, counts.

    An allocation failure gives an ``error`` row whose text starts with ``OOM``; any other error
    at this size an ``error`` row with the exception's type and message. Never raises for them.
    With ``outputs``, an ``ok`` size puts there (key: size label) the first image's output of
    the last timed call, for the fp32 comparison.
    """
    row: dict[str, Any] = dict.fromkeys(SPEED_COLUMNS)  # every row has every column (NaN = n/a)
    row |= {
        "dataset": DATASET, "sample_id": size.label, "task": TASK, "status": "ok", "error": "",
        "sample_index": index, "width": size.width, "height": size.height, "batch_size": batch_size,
        "warmup": warmup, "repeats": repeats, "params": params,
    }
    hw = native_hw(model)
    if hw is not None:
        row["native_height"], row["native_width"] = hw
    if flops is not None:
        row.update(flops=flops.flops, macs=flops.macs, gflops=flops.flops / 1e9, gmacs=flops.macs / 1e9)
    try:
        images = random_images(size, batch_size, seed)
        memory = memory_factory(device, reference_bytes=reference_bytes)
        predict = fp32.LastResult(lambda: model.predict_batch(images), warmup + repeats)
        with memory:
            predict_seconds = time_calls(predict, warmup=warmup, repeats=repeats, timer=timer)
        stats = LatencyStats.from_seconds(predict_seconds)
        row.update(_stats_columns("latency_ms", stats))
        row["ms_per_image_median"] = stats.median_ms / batch_size
        row["images_per_s"] = stats.per_second(batch_size)
        row["seconds_predict"] = stats.median_ms / 1e3
        report = memory.report
        row["peak_mem_mb"] = report.peak_mb
        row["peak_reserved_mb"] = report.reserved_mb
        row["model_mem_mb"] = report.reference_mb
        forward = forward_callable(model, images)
        if forward is not None:
            forward_stats = LatencyStats.from_seconds(
                time_calls(forward, warmup=warmup, repeats=repeats, timer=timer))
            row.update(_stats_columns("forward_ms", forward_stats))
            row["forward_images_per_s"] = forward_stats.per_second(batch_size)
        if outputs is not None:
            outputs[size.label] = fp32.first_output(predict.result)
    except Exception as exc:  # noqa: BLE001 - one size failing must not stop the others
        row.update(status="error", error=failure_text(exc))
        release_memory(device)
    return row


# -- one model --------------------------------------------------------------------------------

@contextlib.contextmanager
def _seeded(seed: int):
    """Torch's CPU random generator seeded with ``seed`` inside, restored after: a randomly
    initialised model (``pretrained=false``) gets the same weights in every load of the job, so
    the fp32 reference is the candidate's network."""
    try:
        import torch
    except ImportError:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def _load(name: str, checkpoint: str | None, device: str, config: SpeedConfig, options: Mapping) -> Any:
    """Load the model; ``batch_size`` is offered to factories that take it (Depth Pro batches
    ``predict_batch`` by it) and dropped for those that do not (they loop over the batch)."""
    with _seeded(config.seed):
        return _load_unseeded(name, checkpoint, device, config, options)


def _load_unseeded(name: str, checkpoint: str | None, device: str, config: SpeedConfig, options: Mapping) -> Any:
    from dpbench.models import load_model
    from dpbench.models.base import ModelOptionError

    options = dict(options)
    if config.compile:
        options["compile"] = True
    offered = int(config.batch_size) > 1 and "batch_size" not in options
    if offered:
        options["batch_size"] = int(config.batch_size)
    try:
        try:
            return load_model(name, checkpoint=checkpoint, device=device, precision=config.precision, **options)
        except (ModelOptionError, TypeError) as exc:
            if not (offered and "batch_size" in str(exc)):
                raise
            options.pop("batch_size")
            return load_model(name, checkpoint=checkpoint, device=device, precision=config.precision, **options)
    except DpbenchError:
        raise
    except TypeError as exc:  # a factory not taking an option (compile...)
        raise ModelError(f"{name}: {exc}") from exc
    except RuntimeError as exc:
        if is_out_of_memory(exc):
            raise ModelError(f"{name}: out of memory while loading the model ({exc})") from exc
        raise


def _counts(name: str, options: Mapping, sizes: Sequence[InputSize], batch_size: int,
            say: Callable[[str], None]) -> tuple[Any | None, dict[str, FlopCount], int | None]:
    """The meta model (or None), FLOPs per size label (plus ``hd``) and parameters, on meta."""
    try:
        meta = meta_model(name, options)
    except DpbenchError as exc:
        say(f"{name}: FLOPs and parameters counted on the loaded model ({exc})")
        return None, {}, None
    flops: dict[str, FlopCount] = {}
    wanted = list(sizes)
    if FLOPS_REFERENCE_SIZE not in {s.label for s in wanted}:
        wanted.append(parse_size(FLOPS_REFERENCE_SIZE))
    for size in wanted:
        try:
            flops[size.label] = count_model_flops(meta, size, batch_size)
        except Exception as exc:  # noqa: BLE001 - counting must not stop the timing
            say(f"{name}: FLOPs at {size.label} not counted ({type(exc).__name__}: {exc})")
    return meta, flops, count_parameters(meta)


def measure_model(config: SpeedConfig, *, role: str, name: str, options: Mapping, checkpoint: str | None,
                  sizes: Sequence[InputSize], run_id: str | None, partner: Mapping[str, Any],
                  say: Callable[[str], None], timer=None, memory_factory=PeakMemory,
                  allow_search: bool = True) -> ModelMeasurement:
    """Measure ``name`` at every size and store it as a run (see the module docstring)."""
    from dpbench.runner import describe_model, environment_record

    out = Path(config.out)
    device = resolve_speed_device(config.device)
    meta, flops, params = _counts(name, options, sizes, int(config.batch_size), say)
    model = _load(name, checkpoint, str(device), config, options)
    record = describe_model(model, checkpoint)
    environment = environment_record(str(device), config.precision, 1)
    environment["cuda"] = _cuda_version()
    environment["torch_threads"] = _torch_threads()
    environment["load_average"] = _load_average()
    if params is None:
        params = count_parameters(model)
    print_ = fingerprint(record, options, environment, config)
    hw = native_hw(model)
    plan = fp32.reference_plan(model, options, config.precision, bool(config.compile))
    kept: dict[str, fp32.KeptOutput] | None = {} if plan is not None and config.compare_fp32 is not False else None
    manifest = {
        "run_id": None, "kind": KIND, "status": "running", "created": _now(), "finished": None,
        "model": record, "model_options": dict(options), "suite": KIND, "protocol": {}, "metrics": list(SPEED_COLUMNS),
        "datasets": [], "environment": environment, "fingerprint": print_, "argv": list(sys.argv),
        "options": {"device": config.device, "precision": config.precision, "batch_size": int(config.batch_size)},
        "speed": {
            "role": role, **dict(partner), "sizes": [s.label for s in sizes],
            "size_pixels": {s.label: [s.width, s.height] for s in sizes},
            "batch_size": int(config.batch_size), "warmup": int(config.warmup), "repeats": int(config.repeats),
            "compile": bool(config.compile), "seed": int(config.seed),
            "params": params, "native_hw": list(hw) if hw else None,
            "flops_convention": "FlopCounterMode: 2 FLOPs per multiply-accumulate; macs = flops / 2 "
                                "(the paper's Table 5 'FLOPs' are fvcore MACs)",
            "flops_counted_on": "meta" if meta is not None else str(device.type),
            "flops_at_hd": flops[FLOPS_REFERENCE_SIZE].flops if FLOPS_REFERENCE_SIZE in flops else None,
            "flops_path": next(iter(flops.values())).path if flops else None,
            "fp32_reference": fp32.reference_record(plan, kept is not None),
        },
    }
    store, resumed = _open_store(out, run_id, print_, manifest, allow_search)  # locked for this process
    speed_record = {**store.manifest.get("speed", {}), **manifest["speed"]}
    speed_record["sizes"] = list(dict.fromkeys([*store.manifest.get("speed", {}).get("sizes", []),
                                                *[s.label for s in sizes]]))
    speed_record["size_pixels"] = {**store.manifest.get("speed", {}).get("size_pixels", {}),
                                   **manifest["speed"]["size_pixels"]}
    store.update_manifest(speed=speed_record, model=record)
    rows = store.rows()
    done = set(rows.loc[rows["status"] == "ok", "sample_id"]) if not rows.empty else set()
    if not rows.empty and (rows["status"] != "ok").any():  # failed sizes are measured again
        store.row_file.consolidate(rows[rows["status"] == "ok"].reset_index(drop=True))
    verb = "resuming" if resumed else "writing"
    say(f"{record.get('name')} ({role}) on {environment.get('device_name')}: {verb} {store.path}")
    timer = timer or make_timer(device)
    reference = rss_bytes() if device.type == "cpu" else None
    measured, skipped = [], []
    status, failure = "complete", None
    try:
        for index, size in enumerate(sizes):
            if size.label in done:
                skipped.append(size.label)
                say(f"  {size}: already measured, skipped")
                continue
            count = flops.get(size.label)
            if meta is None:
                try:
                    count = count_model_flops(model, size, int(config.batch_size))
                except Exception as exc:  # noqa: BLE001
                    say(f"  {size}: FLOPs not counted ({type(exc).__name__}: {exc})")
                    release_memory(device)
            row = measure_size(model, size, index=index, batch_size=int(config.batch_size),
                               warmup=int(config.warmup), repeats=int(config.repeats), device=device,
                               timer=timer, reference_bytes=reference, flops=count, params=params,
                               seed=int(config.seed), memory_factory=memory_factory, outputs=kept)
            store.append_rows([row])
            measured.append(size.label)
            say("  " + _size_line(size, row))
        if kept:
            model = None  # the candidate goes before its fp32 reference comes
            release_memory(device)
            _compare_fp32(store, config, name, checkpoint, device, plan, kept, sizes, say)
    except KeyboardInterrupt:
        status, failure = "interrupted", "interrupted by the user"
        raise
    except BaseException as exc:
        status, failure = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        store.consolidate()
        _finish(store, status, failure)
        del model, meta
        release_memory(device)
    return ModelMeasurement(role=role, store=store, resumed=resumed, measured=measured, skipped=skipped)


def _compare_fp32(store: RunStore, config: SpeedConfig, name: str, checkpoint: str | None, device,
                  plan: fp32.ReferencePlan, kept: Mapping[str, fp32.KeptOutput], sizes: Sequence[InputSize],
                  say: Callable[[str], None]) -> None:
    """Load the fp32 reference once, store the difference columns of the sizes in ``kept`` and
    record a reference failure as ``speed.fp32_reference_error`` (the timing rows stay)."""
    by_label = {s.label: s for s in sizes}
    reference_config = dataclasses.replace(config, precision="fp32", compile=False)
    say(f"  comparing {len(kept)} size(s) with the fp32 reference (this setup: {', '.join(plan.reasons)})")
    results, error = fp32.compare_outputs(
        lambda: _load(name, checkpoint, str(device), reference_config, plan.options), kept,
        lambda label: random_images(by_label[label], int(config.batch_size), int(config.seed)), device)
    store.consolidate()
    fp32.store_differences(store, results)
    store.update_manifest(speed={**store.manifest.get("speed", {}), "fp32_reference_error": error})
    for label, columns in results.items():
        say(f"  {by_label[label]}: {fp32.difference_text(columns)}")
    if error:
        say(f"  fp32 reference: {error} (those sizes keep their timing, without difference columns)")


def _finish(store: RunStore, status: str, failure: str | None) -> None:
    rows = store.rows()
    wanted = store.manifest.get("speed", {}).get("sizes", [])
    present = set(rows["sample_id"]) if not rows.empty else set()
    errors = int((rows["status"] == "error").sum()) if not rows.empty else 0
    missing = [s for s in wanted if s not in present]
    record = {"name": DATASET, "tasks": [TASK], "split": None, "root": None,
              "status": "complete" if not missing else "partial",
              "reason": f"not measured: {', '.join(missing)}" if missing else "",
              "num_samples": len(present), "num_available": len(wanted), "num_errors": errors,
              "expected_samples": len(wanted)}
    store.update_manifest(status=status, finished=_now(), failure=failure, datasets=[record])
    store.release_lock()


def _torch_threads() -> int | None:
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:
        return None


def _load_average() -> list[float] | None:
    """The 1/5/15-minute load averages at the start (a busy machine makes every number slower)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _cuda_version() -> str | None:
    try:
        import torch

        return torch.version.cuda
    except ImportError:
        return None


def _fmt(value: Any, digits: int = 1) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if not np.isfinite(number) else f"{number:.{digits}f}"


def _size_line(size: InputSize, row: Mapping[str, Any]) -> str:
    if row["status"] != "ok":
        return f"{size}: {row['error']}"
    forward = _fmt(row.get("forward_ms_median"))
    return (f"{size}: predict {_fmt(row['latency_ms_median'])} ms median "
            f"(p10 {_fmt(row['latency_ms_p10'])}, p90 {_fmt(row['latency_ms_p90'])}), forward {forward} ms, "
            f"peak +{_fmt(row.get('peak_mem_mb'), 0)} MiB")


# -- the job ----------------------------------------------------------------------------------

def run_speed(config: SpeedConfig, say: Callable[[str], None] | None = None, *, timer=None,
              memory_factory=PeakMemory) -> SpeedResult:
    """Measure ``config.model`` (and ``config.baseline_model``, after it) at every size; store runs."""
    say = say or (lambda message: print(message, file=sys.stderr))
    sizes = config.check()
    resolve_speed_device(config.device)  # an unavailable device or unknown model fails before any work
    from dpbench.models import get_model_info

    for name in filter(None, (config.model, config.baseline_model)):
        get_model_info(name)
    candidate = measure_model(config, role="candidate", name=config.model, options=config.model_options,
                              checkpoint=config.checkpoint, sizes=sizes, run_id=config.run_id,
                              partner={}, say=say, timer=timer, memory_factory=memory_factory)
    baseline = None
    if config.baseline_model:
        speed = dict(candidate.store.manifest.get("speed", {}))
        baseline_id = speed.get("baseline_run") or f"{candidate.store.run_id}{BASELINE_SUFFIX}"
        candidate.store.update_manifest(speed={**speed, "baseline_run": baseline_id})
        baseline = measure_model(config, role="baseline", name=config.baseline_model,
                                 options=config.baseline_options, checkpoint=config.baseline_checkpoint,
                                 sizes=sizes, run_id=baseline_id,
                                 partner={"candidate_run": candidate.store.run_id}, say=say, timer=timer,
                                 memory_factory=memory_factory, allow_search=False)
    return SpeedResult(candidate=candidate, baseline=baseline, sizes=sizes)


__all__ = ["DATASET", "KIND", "SIZE_PRESETS", "SPEED_COLUMNS", "TASK", "ModelMeasurement", "SpeedConfig",
           "SpeedError", "SpeedResult", "StoreError", "measure_model", "measure_size", "random_images",
           "resolve_speed_device", "run_speed"]
