"""dpbench: evaluation and benchmarking of monocular metric depth models (the Depth Pro protocol)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dpbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from dpbench.types import Prediction, Sample  # noqa: E402

__all__ = ["Prediction", "Sample", "__version__"]
