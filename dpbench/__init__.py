"""dpbench: evaluation and benchmarking of monocular metric depth models (the Depth Pro protocol)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dpbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from dpbench.types import Prediction, Sample  # noqa: E402


def __getattr__(name: str):
    """``dpbench.evaluate`` (and its result type) are imported on first use, so that ``import
    dpbench`` stays light (the runner pulls in pandas and the registries)."""
    if name in ("evaluate", "EvaluationResult"):
        from dpbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'dpbench' has no attribute {name!r}")


__all__ = ["EvaluationResult", "Prediction", "Sample", "__version__", "evaluate"]
