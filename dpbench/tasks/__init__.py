"""The task registry: what is scored per sample, which metrics, how rows become one number.

Built-in tasks: ``metric_depth`` (:mod:`~dpbench.tasks.depth`), ``boundary_depth`` and
``boundary_mask`` (:mod:`~dpbench.tasks.boundary`), ``focal`` (:mod:`~dpbench.tasks.focal`).
Third-party packages add tasks with one :class:`Task` subclass and an entry point in the group
``dpbench.tasks``; the runner, store, reports and ``dpbench check`` ask this registry.
"""

from __future__ import annotations

from dpbench.tasks.base import (
    DIRECTIONS,
    INPUTS,
    NEEDS,
    MetricInfo,
    TableSpec,
    Task,
    TaskError,
    all_metrics,
    get_task,
    list_tasks,
    metric_info,
    register_task,
    task_names,
)

__all__ = ["DIRECTIONS", "INPUTS", "NEEDS", "MetricInfo", "TableSpec", "Task", "TaskError", "all_metrics",
           "get_task", "list_tasks", "metric_info", "register_task", "task_names"]
