"""What a task is: the ``Task`` class, its metric catalogue entries and report tables, the registry.

A task turns one (sample, prediction) pair into a row of numbers and a dataset's rows into one
score per metric. Everything the runner, the store, the reports and ``dpbench check`` need to know
about a task is declared on its class, so that adding a task is one class (plus an entry point in
the group ``dpbench.tasks`` for a third-party package):

.. code-block:: python

    @register_task
    class ToyTask(Task):
        name = "toy"
        needs = ("depth",)
        metrics = {"toy_err": "lower"}
        def score(self, sample, prediction, protocol):
            return {"toy_err": float(abs(prediction.depth - sample.depth).max())}
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from dpbench.errors import DpbenchError, UnknownNameError
from dpbench.tasks.additive import AdditiveStats, mean_stats

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from dpbench.protocol import Protocol
    from dpbench.types import Prediction, Sample

log = logging.getLogger(__name__)

#: Sample fields a task may read: GT depth (``Sample.depth``), an alpha/binary mask
#: (``Sample.mask``), the GT focal length (``Sample.focal_px``).
NEEDS = ("depth", "alpha", "focal")
#: What a task receives as ``prediction``: ``map`` = checked and resampled to the GT size,
#: ``raw`` = checked but at the model's own size, ``focal`` = as returned, depth unchecked
#: (the task reads the focal length only, so the model is never given one for it).
INPUTS = ("map", "raw", "focal")
DIRECTIONS = ("higher", "lower")
_SAMPLE_FIELDS = {"depth": "depth", "alpha": "mask", "focal": "focal_px"}
_NEED_TEXT = {"depth": "depth ground truth", "alpha": "mask ground truth", "focal": "ground-truth focal length"}


class TaskError(DpbenchError, ValueError):
    """A task class is malformed or clashes with a registered one; the message names it."""


@dataclass(frozen=True)
class MetricInfo:
    """What a report needs to know about a metric. ``percent``: print value × 100."""

    name: str
    label: str
    higher_is_better: bool
    percent: bool
    description: str
    task: str


@dataclass(frozen=True)
class TableSpec:
    """A report table a task contributes, laid out like the paper's.

    ``layout="datasets"``: one table, columns = datasets × ``metrics`` (dataset-major), each
    headed by ``header`` (one format, or one per metric) formatted with ``dataset``, ``label``
    and ``metric``; tables of several
    tasks with the same ``key`` are merged column-wise in task order (Table 2: F1 and recall).
    ``layout="per_dataset"``: one table per dataset (key ``<key>:<dataset>``), one column per
    metric. ``rank`` appends the average rank over the datasets on the first metric (Table 1).
    ``metric_scale``: the metrics measure metric scale, so runs of relative models (scored after
    alignment to the ground truth, which hands them the true scale) are bolded and ranked only
    among themselves, never beside metric models (the paper's Tables 1 and 4 hold metric models).
    """

    key: str
    title: str
    metrics: tuple[str, ...]
    layout: str = "datasets"
    header: str | Mapping[str, str] = "{dataset} {label}"
    rank: bool = False
    metric_scale: bool = False

    def column_header(self, dataset: str, info: MetricInfo) -> str:
        """The header of the column of ``info``'s metric on ``dataset``."""
        text = self.header if isinstance(self.header, str) else self.header[info.name]
        return text.format(dataset=dataset, label=info.label, metric=info.name)


class Task:
    """One kind of evaluation; subclass it, set the class attributes and implement :meth:`score`."""

    #: Name used in suites (``tasks = ["toy"]``) and in the ``task`` column of rows.
    name: ClassVar[str] = ""
    #: Sample fields the task reads (any of :data:`NEEDS`); a sample without one is an error row.
    needs: ClassVar[tuple[str, ...]] = ("depth",)
    #: Metric name -> ``"higher"`` or ``"lower"`` (which direction is better).
    metrics: ClassVar[Mapping[str, str]] = {}
    #: Display labels of metrics (default: the name), metrics printed as percentages, descriptions.
    labels: ClassVar[Mapping[str, str]] = {}
    percent: ClassVar[tuple[str, ...]] = ()
    descriptions: ClassVar[Mapping[str, str]] = {}
    #: Which prediction :meth:`score` receives (one of :data:`INPUTS`).
    input: ClassVar[str] = "map"
    #: Report table title (default tables), the metric of the bar charts (default: the first)
    #: and the metrics the end-of-run summary prints (default: the headline).
    title: ClassVar[str] = ""
    headline_metric: ClassVar[str] = ""
    #: Short column titles of the end-of-run summary (default: the metric's label).
    summary_titles: ClassVar[Mapping[str, str]] = {}
    summary: ClassVar[tuple[str, ...]] = ()
    #: Row columns the task writes as text (every other column is stored as a number).
    text_columns: ClassVar[tuple[str, ...]] = ()
    #: Per-threshold curve columns ``<prefix><kind>_t<i>`` the report plots against the threshold.
    curve_prefix: ClassVar[str] = ""
    curve_kinds: ClassVar[tuple[str, ...]] = ()

    def score(self, sample: Sample, prediction: Prediction, protocol: Protocol) -> dict[str, float]:
        """The row values of one sample: at least every metric of :attr:`metrics`."""
        raise NotImplementedError

    def aggregate(self, rows: pd.DataFrame, aggregation: str) -> dict[str, float | None]:
        """One score per metric from a dataset's ``ok`` rows; default: mean over the finite values."""
        return {name: column_mean(rows, name) for name in self.metrics}

    def additive_stats(self, rows: pd.DataFrame, aggregation: str) -> AdditiveStats | None:
        """Per-row statistics whose sums give :meth:`aggregate`'s metrics (vectorised bootstrap
        intervals, :mod:`dpbench.tasks.additive`); None: the intervals recompute :meth:`aggregate`
        on resampled rows (slower, same result). Default: the per-image means of the default
        :meth:`aggregate`; a task that overrides ``aggregate`` overrides this too, or gets None."""
        if type(self).aggregate is Task.aggregate:
            return mean_stats(rows, tuple(self.metrics))
        return None

    def bootstrap_metrics(self, rows: pd.DataFrame, aggregation: str, weights: np.ndarray
                          ) -> dict[str, np.ndarray] | None:
        """:meth:`aggregate` of every bootstrap resample at once: ``weights[b, r]`` is how often
        row r is drawn in resample b; ``{metric: one value per resample}`` (NaN: undefined).
        Default: from :meth:`additive_stats`; None: recompute :meth:`aggregate` per resample."""
        stats = self.additive_stats(rows, aggregation)
        return None if stats is None else stats.metrics_of(weights)

    def tables(self) -> list[TableSpec]:
        """The report tables of this task (default: one column per dataset and metric)."""
        return [TableSpec(self.name, self.title or f"{self.name}: per dataset", tuple(self.metrics))]

    # helpers shared by every task -------------------------------------------------------------
    @property
    def headline(self) -> str:
        """The metric shown first (bar charts, summaries)."""
        return self.headline_metric or next(iter(self.metrics))

    @property
    def summary_metrics(self) -> tuple[str, ...]:
        return self.summary or (self.headline,)

    @property
    def uses_depth(self) -> bool:
        """Whether the task scores the predicted map (so the model may be given a focal length)."""
        return self.input != "focal"

    def check_sample(self, sample: Sample) -> None:
        """A DpbenchError naming the sample when a field the task needs is missing."""
        for need in self.needs:
            if getattr(sample, _SAMPLE_FIELDS[need]) is None:
                raise DpbenchError(f"sample {sample.id!r}: no {_NEED_TEXT[need]} for the {self.name} task")

    def metric_infos(self) -> list[MetricInfo]:
        return [MetricInfo(name, self.labels.get(name, name), direction == "higher", name in self.percent,
                           self.descriptions.get(name, ""), self.name)
                for name, direction in self.metrics.items()]


def column_mean(rows: pd.DataFrame, name: str) -> float | None:
    """Mean of the finite values of column ``name`` (None when there is none)."""
    if name not in rows:
        return None
    import pandas as pd

    values = pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else None


def finite_or_none(value: Any) -> float | None:
    """A finite float, or None for missing/NaN/inf (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# -- the registry ------------------------------------------------------------------------------

#: Modules of the built-in tasks, in the canonical task order.
BUILTIN_MODULES = ("dpbench.tasks.depth", "dpbench.tasks.boundary", "dpbench.tasks.focal",
                   "dpbench.tasks.pointcloud", "dpbench.tasks.ibims")
_REGISTRY: dict[str, Task] = {}
_METRICS: dict[str, MetricInfo] = {}
_discovered = False


def _validate(cls: type) -> None:
    where = f"task class {cls.__module__}.{cls.__qualname__}"
    if not isinstance(cls, type) or not issubclass(cls, Task):
        raise TaskError(f"{where}: a task must subclass dpbench.tasks.Task")
    if not isinstance(cls.name, str) or not cls.name.isidentifier():
        raise TaskError(f"{where}: 'name' must be an identifier, got {cls.name!r}")
    if not cls.metrics:
        raise TaskError(f"{where}: 'metrics' must name at least one metric")
    bad = {m: d for m, d in cls.metrics.items() if d not in DIRECTIONS}
    if bad:
        raise TaskError(f"{where}: metric directions must be 'higher' or 'lower', got {bad}")
    unknown = set(cls.needs) - set(NEEDS)
    if unknown:
        raise TaskError(f"{where}: unknown 'needs' {sorted(unknown)}; choose from {', '.join(NEEDS)}")
    if cls.input not in INPUTS:
        raise TaskError(f"{where}: 'input' must be one of {', '.join(INPUTS)}, got {cls.input!r}")
    stray = [m for m in (cls.headline_metric, *cls.summary, *cls.percent) if m and m not in cls.metrics]
    if stray:
        raise TaskError(f"{where}: headline_metric, summary and percent name unknown metric(s) {stray}")
    if cls.score is Task.score:
        raise TaskError(f"{where}: implement score(sample, prediction, protocol)")


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: register a :class:`Task` under its ``name`` (its metrics must be new)."""
    _validate(cls)
    existing = _REGISTRY.get(cls.name)
    if existing is not None:
        if type(existing) is cls:
            return cls
        raise TaskError(f"task {cls.name!r} is already registered by {type(existing).__module__}")
    task = cls()
    infos = task.metric_infos()
    clash = [i.name for i in infos if i.name in _METRICS]
    if clash:
        owners = sorted({_METRICS[n].task for n in clash})
        raise TaskError(f"task {cls.name!r}: metric(s) {clash} already belong to task(s) {owners}")
    _REGISTRY[cls.name] = task
    _METRICS.update({info.name: info for info in infos})
    return cls


def _discover() -> None:
    """Register the built-in tasks, then those of installed plug-ins (entry points ``dpbench.tasks``)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    from importlib import import_module

    from dpbench._plugins import load_entry_points

    for module in BUILTIN_MODULES:  # they register themselves, in this order
        import_module(module)

    for name, value, obj in load_entry_points("dpbench.tasks", "task"):
        try:
            if isinstance(obj, type) and issubclass(obj, Task):
                register_task(obj)
            else:
                raise TaskError(f"{value} is not a Task subclass")
            if name != obj.name:
                log.warning("task plug-in %r registers the task %r", name, obj.name)
        except TaskError as exc:
            log.warning("could not register task plug-in %r (%s): %s", name, value, exc)


def get_task(name: str) -> Task:
    """The registered task called ``name`` (UnknownNameError with suggestions otherwise)."""
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError("task", name, _REGISTRY) from None


def list_tasks() -> list[Task]:
    """Every registered task, built-ins first, in registration order."""
    _discover()
    return list(_REGISTRY.values())


def task_names() -> tuple[str, ...]:
    """Names of the registered tasks in their canonical order (rows, tables, suites)."""
    return tuple(task.name for task in list_tasks())


def metric_info(name: str) -> MetricInfo:
    """The catalogue entry of metric ``name`` (UnknownNameError with suggestions otherwise)."""
    _discover()
    try:
        return _METRICS[name]
    except KeyError:
        raise UnknownNameError("metric", name, _METRICS) from None


def all_metrics() -> dict[str, MetricInfo]:
    """Every metric of every registered task, by name, in task order."""
    _discover()
    return dict(_METRICS)
