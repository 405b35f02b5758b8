"""CUDA-graph capture and replay of the Depth Pro forward, on the CPU with a recording fake of
``torch.cuda`` (no GPU here): capture once per shape, replay with the new input, outputs cloned,
eager fallback beyond ``max_graphs`` / on other devices / with autograd, and the model option."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from dpbench.models.base import ModelOptionError
from dpbench.models.depthpro.config import TINY
from dpbench.models.depthpro.graphs import WARMUP_FORWARDS, GraphedForward
from dpbench.models.depthpro.inference import infer
from dpbench.models.depthpro.model import create_depthpro
from dpbench.models.depthpro.network import build_network
from dpbench.speed.flops import meta_model

pytestmark = pytest.mark.usefixtures("torch_single_thread")


class FakeGraph:
    """Stands for ``torch.cuda.CUDAGraph``: remembers the forwards run while it was capturing and,
    on ``replay``, reruns them on their (static) inputs and writes into their (static) outputs,
    as a real replay refills the captured output buffers from the captured input buffers."""

    def __init__(self, fake):
        self.fake = fake
        self.recorded: list = []
        fake.graphs.append(self)

    def replay(self):
        self.fake.events.append("replay")
        for function, static_input, static_output in self.recorded:
            _copy_into(static_output, function(static_input))


def _copy_into(target, value):
    if isinstance(target, torch.Tensor):
        target.copy_(value)
    elif isinstance(target, (tuple, list)):
        for t, v in zip(target, value, strict=True):
            _copy_into(t, v)


class FakeStream:
    def __init__(self, fake):
        self.fake = fake

    def wait_stream(self, other):
        self.fake.events.append("wait")


class FakeCuda:
    """The parts of ``torch.cuda`` that :class:`GraphedForward` uses, recording every call."""

    def __init__(self):
        self.events: list[str] = []
        self.graphs: list[FakeGraph] = []
        self.capturing: FakeGraph | None = None
        self.on_side_stream = False

    def CUDAGraph(self):  # noqa: N802 - the name of the real class
        return FakeGraph(self)

    def Stream(self):  # noqa: N802
        return FakeStream(self)

    def current_stream(self):
        return FakeStream(self)

    @contextlib.contextmanager
    def stream(self, stream):
        self.on_side_stream = True
        try:
            yield
        finally:
            self.on_side_stream = False

    @contextlib.contextmanager
    def graph(self, graph):
        self.events.append("capture")
        self.capturing = graph
        try:
            yield
        finally:
            self.capturing = None


class RecordingNetwork(torch.nn.Module):
    """Wraps a network; counts eager/side-stream calls and registers captured calls with the fake."""

    def __init__(self, network, fake: FakeCuda):
        super().__init__()
        self.inner = network
        self.fake = fake
        self.calls = {"capture": 0, "warmup": 0, "eager": 0}

    @property
    def image_size(self):
        return self.inner.image_size

    def forward(self, x):
        out = self.inner(x)
        if self.fake.capturing is not None:
            self.calls["capture"] += 1
            self.fake.capturing.recorded.append((self.inner, x, out))
        elif self.fake.on_side_stream:
            self.calls["warmup"] += 1
        else:
            self.calls["eager"] += 1
        return out


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(3)
    network = build_network(TINY).eval()
    with torch.no_grad():
        network.head[4].bias.fill_(0.2)
    return network


def _input(seed, batch=1, size=TINY.image_size):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=generator) * 2 - 1


def test_capture_once_per_shape_then_replay_with_the_new_input(net):
    fake = FakeCuda()
    recording = RecordingNetwork(net, fake)
    graphed = GraphedForward(recording, cuda=fake, graph_device="cpu")
    first, second = _input(0), _input(1)
    with torch.inference_mode():
        out1 = graphed(first)
        out2 = graphed(second)
        eager2 = net(second)
    assert recording.calls == {"capture": 1, "warmup": WARMUP_FORWARDS, "eager": 0}
    assert fake.events.count("capture") == 1 and fake.events.count("replay") == 2
    assert len(graphed.graphs) == 1 and next(iter(graphed.graphs.values())).replays == 2
    # The second call ran on the second input (copied into the static buffer), not the first.
    torch.testing.assert_close(out2[0], eager2[0], rtol=0, atol=0)
    torch.testing.assert_close(out2[1], eager2[1], rtol=0, atol=0)
    assert not torch.equal(out1[0], out2[0])
    # Outputs are copies: a later replay does not overwrite what an earlier call returned.
    kept = out1[0].clone()
    with torch.inference_mode():
        graphed(_input(2))
    assert torch.equal(out1[0], kept)
    captured = next(iter(graphed.graphs.values()))
    assert out1[0].data_ptr() != captured.static_output[0].data_ptr()


def test_new_shapes_capture_until_max_graphs_then_run_eagerly(net):
    fake = FakeCuda()
    recording = RecordingNetwork(net, fake)
    graphed = GraphedForward(recording, cuda=fake, graph_device="cpu", max_graphs=1)
    with torch.inference_mode():
        graphed(_input(0, batch=1))
        batch2 = _input(4, batch=2)
        out = graphed(batch2)  # a second shape: no room for another graph
        graphed(_input(5, batch=1))  # the first shape again: replayed
        reference = net(batch2)
    assert fake.events.count("capture") == 1
    assert graphed.eager_calls == 1 and recording.calls["eager"] == 1
    assert next(iter(graphed.graphs.values())).replays == 2
    torch.testing.assert_close(out[0], reference[0], rtol=0, atol=0)


def test_autocast_setting_is_part_of_the_key(net):
    fake = FakeCuda()
    graphed = GraphedForward(RecordingNetwork(net, fake), cuda=fake, graph_device="cpu")
    x = _input(0)
    with torch.inference_mode():
        graphed(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            graphed(x)
    assert fake.events.count("capture") == 2
    assert {key[-1] for key in graphed.graphs} == {(False, None), (True, torch.bfloat16)}


def test_other_devices_and_autograd_run_eagerly(net):
    fake = FakeCuda()
    recording = RecordingNetwork(net, fake)
    graphed = GraphedForward(recording, cuda=fake)  # captures CUDA inputs only
    with torch.inference_mode():
        graphed(_input(0))
    cpu_graphed = GraphedForward(recording, cuda=fake, graph_device="cpu")
    x = _input(1).requires_grad_(True)
    cpu_graphed(x)
    assert fake.events == [] and recording.calls["eager"] == 2
    assert graphed.eager_calls == 1 and cpu_graphed.eager_calls == 1
    with pytest.raises(ValueError, match="max_graphs"):
        GraphedForward(net, max_graphs=0)


def test_infer_runs_through_the_graphed_forward(net):
    fake = FakeCuda()
    graphed = GraphedForward(RecordingNetwork(net, fake), cuda=fake, graph_device="cpu")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(40, 56, 3), dtype=np.uint8) for _ in range(2)]
    for image in images:
        got = infer(graphed, image)
        expected = infer(net, image)
        torch.testing.assert_close(got.depth, expected.depth, rtol=0, atol=0)
        assert got.focal_px == expected.focal_px
    assert fake.events.count("capture") == 1 and fake.events.count("replay") == 2


def test_cuda_graphs_option_needs_cuda():
    with pytest.raises(ModelOptionError, match="cuda_graphs=true needs a CUDA device"):
        create_depthpro(config="tiny", device="cpu", pretrained=False, cuda_graphs=True)
    model = create_depthpro(config="tiny", device="cpu", pretrained=False)
    assert model.describe()["cuda_graphs"] is False
    # dpbench speed counts FLOPs on meta with the run's options: cuda_graphs is left out there.
    meta = meta_model("depthpro", {"config": "tiny", "pretrained": False, "cuda_graphs": True})
    assert meta.device.type == "meta" and meta.cuda_graphs is False
