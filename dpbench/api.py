"""``dpbench.evaluate``: score one's own model from Python, without writing a plug-in.

Researchers evaluate checkpoints inside their training code or a notebook; this is the one call
for that. The model (a callable or an ``nn.Module``, see :mod:`dpbench.models.callable_model` for the
calling conventions) is wrapped in a :class:`~dpbench.models.callable_model.CallableModel` and handed to
the runner's :func:`dpbench.runner.evaluate`, so the run is stored, resumed, protocol-recorded and
reported exactly like one of ``dpbench run``: ``dpbench report``, ``check`` and ``rescore`` work
on ``result.run_dir``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dpbench.errors import DpbenchError
from dpbench.runner.config import RunConfig, RunResult

#: Keyword options that go to the protocol (the same names as ``dpbench run``'s options).
PROTOCOL_OPTIONS = ("focal_mode", "resize", "alignment", "aggregation", "depth_range", "clip_predictions",
                    "boundary_valid")
#: Keyword options that go to :class:`~dpbench.runner.config.RunConfig` as they are.
RUN_OPTIONS = ("datasets", "precision", "batch_size", "workers", "limit", "run_id", "resume", "save_predictions",
               "on_error", "progress", "checkpoint")


@dataclasses.dataclass
class EvaluationResult:
    """What :func:`evaluate` returns: the stored run and views of its numbers."""

    run: RunResult

    @property
    def store(self):
        """The run's :class:`~dpbench.store.RunStore`."""
        return self.run.store

    @property
    def run_dir(self) -> Path:
        """The run folder (``dpbench report / check / rescore`` accept it)."""
        return Path(self.run.store.path)

    @property
    def run_id(self) -> str:
        return self.run.store.run_id

    @property
    def status(self) -> str:
        """``complete``, ``partial``, ``empty``, ... (as ``dpbench run`` reports it)."""
        return self.run.status

    def aggregate(self, aggregation: str | None = None) -> dict:
        """Per-dataset scores (:func:`dpbench.report.aggregate_run`; δ values are fractions)."""
        from dpbench.report import aggregate_run

        return aggregate_run(self.run.store, aggregation)

    def table(self) -> str:
        """Per-dataset numbers as text, the table ``dpbench run`` prints at the end of a run."""
        from dpbench.report import summarize_run

        return summarize_run(self.run.store)

    def flat(self, aggregation: str | None = None) -> dict[str, float]:
        """``{"<suite>/<dataset>/<metric>": value}`` for loggers (``wandb.log``,
        ``mlflow.log_metrics``, TensorBoard's ``add_scalar``): every defined, finite score of
        every dataset, δ values as fractions; undefined scores and sample counts are left out."""
        aggregate = self.aggregate(aggregation)
        suite = aggregate.get("suite") or "suite"
        flat = {}
        for dataset, scores in aggregate["results"].items():
            for metric, value in scores.items():
                if metric.startswith("num_") or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                if math.isfinite(value):
                    flat[f"{suite}/{dataset}/{metric}"] = float(value)
        return flat

    def __str__(self) -> str:
        return self.table()


def _sample_root(data_root: str | os.PathLike) -> Path:
    """The sample suite's folder for a data root: the root itself when it holds the suite's
    ``suite.json``, else ``<root>/sample`` (where ``dpbench run --data-root`` looks)."""
    root = Path(data_root)
    return root if (root / "suite.json").is_file() else root / "sample"


def evaluate(model: Any, suite: str = "sample", *, data_root: str | os.PathLike | None = None,
             output_kind: str = "metric_depth", device: str | None = None, out: str | os.PathLike = "runs",
             name: str | None = None, batch: bool | None = None, say: Callable[[str], None] | None = None,
             **options: Any) -> EvaluationResult:
    """Evaluate one's own model over a suite; the Python twin of ``dpbench run``.

    ``model``: a callable ``image (H×W×3 uint8) [, focal_px] -> depth``, a torch ``nn.Module``
    (input 1×3×H×W float in [0, 1] on its device, output depth B×H×W or B×1×H×W), or a
    :class:`~dpbench.models.DepthModel`; see :mod:`dpbench.models.callable_model` for every convention.
    ``suite``: a suite name (``dpbench run --suite``) or a ``suite.json``; ``data_root``: where the
    datasets are (for ``sample``: the folder holding the sample suite, or its parent).
    ``output_kind``: ``metric_depth``, ``relative_depth`` or ``relative_disparity`` (relative
    outputs are aligned as the protocol says). ``device``: where a module runs (None: where it
    is). ``name``: the model's name in the run (give each checkpoint its own). ``batch``: the
    callable takes a list of images (modules batch by default). ``say``: where progress lines go
    (default: printed). Other keywords are ``dpbench run``'s options: ``datasets``,
    ``batch_size``, ``workers``, ``limit``, ``run_id``, ``resume``, ``save_predictions``,
    ``on_error``, ``progress``, ``precision`` (a module runs under ``torch.autocast`` for
    ``fp16``/``bf16``), ``checkpoint`` and the protocol options
    ``focal_mode``, ``resize``, ``alignment``, ``aggregation``, ``depth_range``,
    ``clip_predictions``, ``boundary_valid``.
    """
    from dpbench.models.base import DepthModel
    from dpbench.models.callable_model import CallableModel
    from dpbench.runner import evaluate as run_evaluate

    unknown = sorted(set(options) - set(PROTOCOL_OPTIONS) - set(RUN_OPTIONS))
    if unknown:
        raise DpbenchError(f"evaluate: unknown option(s) {', '.join(unknown)}; accepted: "
                           f"{', '.join(sorted((*PROTOCOL_OPTIONS, *RUN_OPTIONS)))}")
    if isinstance(model, DepthModel):
        wrapped = model
    else:
        wrapped = CallableModel(model, output_kind=output_kind, name=name, batch=batch, device=device,
                                precision=options.get("precision", "fp32"))
    protocol = {key: options.pop(key) for key in PROTOCOL_OPTIONS if key in options}
    if options.get("datasets") is not None and isinstance(options["datasets"], str):
        options["datasets"] = [options["datasets"]]
    run_device = str(getattr(wrapped, "device", None) or device or "auto")
    sample_root = _sample_root(data_root) if data_root is not None and suite == "sample" else None
    config = RunConfig(model=wrapped.name, suite=suite, data_root=data_root, device=run_device, out=out,
                       protocol=protocol, sample_root=sample_root, **options)
    return EvaluationResult(run_evaluate(wrapped, config, say=say))


__all__ = ["EvaluationResult", "evaluate"]
