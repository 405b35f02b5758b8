"""CUDA graphs for the Depth Pro forward: capture once per input shape, then replay.

Depth Pro's forward runs thousands of kernels whose shapes depend only on the input's shape (the
network always runs at S×S; only the batch size varies). A CUDA graph records them once and
replays them with one launch, removing the per-kernel CPU launch cost. :class:`GraphedForward`
wraps the network: on CUDA, the first call for a given (shape, dtype, device, autocast setting)
warms the network up on a side stream, captures one forward into a graph whose input and output
tensors are fixed buffers, and replays that graph on later calls after copying the new input into
the buffer. The outputs are cloned out of the graph's buffers, so a caller never sees them
overwritten by the next replay. At most ``max_graphs`` shapes are kept (each holds the forward's
working memory in its private pool); a further shape, a CPU tensor or a call with autograd on runs
the network eagerly. Replaying a graph launches exactly the kernels of the captured forward, so
its outputs equal an eager forward's up to the nondeterminism of the kernels themselves.
"""

from __future__ import annotations

import torch
from torch import nn

#: Default number of input shapes that keep a captured graph (see :class:`GraphedForward`).
DEFAULT_MAX_GRAPHS = 2
#: Eager forwards run on a side stream before a capture (cuDNN/cuBLAS pick their algorithms, the
#: caching allocator warms up), as the CUDA-graphs documentation recommends.
WARMUP_FORWARDS = 2


def _autocast_key(device_type: str) -> tuple[bool, torch.dtype | None]:
    """Whether autocast is on for ``device_type`` and to which dtype (part of a graph's key)."""
    enabled = torch.is_autocast_enabled(device_type)
    return enabled, torch.get_autocast_dtype(device_type) if enabled else None


class _Captured:
    """One captured forward: its graph, its static input buffer and its static outputs."""

    def __init__(self, graph, static_input: torch.Tensor, static_output):
        self.graph = graph
        self.static_input = static_input
        self.static_output = static_output
        self.replays = 0


class GraphedForward:
    """Calls ``network(x)``, through a CUDA graph captured per input shape (see module docstring).

    ``cuda`` is the module providing ``CUDAGraph``, ``graph``, ``Stream``, ``stream`` and
    ``current_stream`` (``torch.cuda``); ``graph_device`` the device type whose inputs are captured.
    Tests pass a recording fake and ``"cpu"``.
    """

    def __init__(
        self, network: nn.Module, *, max_graphs: int = DEFAULT_MAX_GRAPHS, cuda=None, graph_device: str = "cuda"
    ):
        if max_graphs < 1:
            raise ValueError(f"max_graphs must be >= 1, got {max_graphs}")
        self.network = network
        self.max_graphs = max_graphs
        self.cuda = torch.cuda if cuda is None else cuda
        self.graph_device = graph_device
        self.graphs: dict[tuple, _Captured] = {}
        self.eager_calls = 0

    def parameters(self):
        """The wrapped network's parameters (``infer`` reads the device from them)."""
        return self.network.parameters()

    @property
    def image_size(self) -> int:
        """The wrapped network's input side."""
        return self.network.image_size

    def _key(self, x: torch.Tensor) -> tuple:
        return (tuple(x.shape), x.dtype, str(x.device), x.is_contiguous(memory_format=torch.channels_last),
                _autocast_key(x.device.type))

    def _graphable(self, x: torch.Tensor) -> bool:
        return x.device.type == self.graph_device and not (torch.is_grad_enabled() and x.requires_grad)

    def __call__(self, x: torch.Tensor):
        if not self._graphable(x):
            self.eager_calls += 1
            return self.network(x)
        key = self._key(x)
        captured = self.graphs.get(key)
        if captured is None:
            if len(self.graphs) >= self.max_graphs:
                self.eager_calls += 1
                return self.network(x)
            captured = self._capture(x)
            self.graphs[key] = captured
        captured.static_input.copy_(x)
        captured.graph.replay()
        captured.replays += 1
        return _clone(captured.static_output)

    def _capture(self, x: torch.Tensor) -> _Captured:
        """Warm up on a side stream, then record one forward on a copy of ``x``."""
        cuda = self.cuda
        static_input = x.clone()
        side = cuda.Stream()
        side.wait_stream(cuda.current_stream())
        with cuda.stream(side):
            for _ in range(WARMUP_FORWARDS):
                self.network(static_input)
        cuda.current_stream().wait_stream(side)
        graph = cuda.CUDAGraph()
        with cuda.graph(graph):
            static_output = self.network(static_input)
        return _Captured(graph, static_input, static_output)


def _clone(output):
    """Copies of a forward's outputs (tensors cloned; tuples/lists rebuilt; None kept)."""
    if isinstance(output, torch.Tensor):
        return output.clone()
    if isinstance(output, (tuple, list)):
        return type(output)(_clone(item) for item in output)
    return output

