"""Parameter and FLOP counting: hand-computed counts, the full Depth Pro on meta, the forward hook."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dpbench.errors import ModelError
from dpbench.speed.flops import count_flops, count_model_flops, meta_model, meta_parameter_count
from dpbench.speed.hooks import count_parameters, forward_callable, is_out_of_memory
from dpbench.speed.sizes import InputSize

pytestmark = pytest.mark.usefixtures("torch_single_thread")

# conv 3->8, 3x3, padding 1 on 16x16: 8*16*16 outputs x 3*3*3 MACs; linear 2048->10: 20480 MACs.
CONV_MACS = 8 * 16 * 16 * 3 * 3 * 3
LINEAR_MACS = 8 * 16 * 16 * 10


def small_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 16 * 16, 10))


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_flops_of_a_small_network_match_hand_counts(device):
    with torch.device(device):
        net = small_net()
    x = torch.zeros(1, 3, 16, 16, device=device)
    flops, by_operator = count_flops(lambda: net(x))
    assert flops == 2 * (CONV_MACS + LINEAR_MACS)  # FlopCounterMode: 2 FLOPs per MAC
    assert by_operator["aten.convolution"] == 2 * CONV_MACS
    assert by_operator["aten.addmm"] == 2 * LINEAR_MACS


def test_batch_doubles_the_flops():
    net = small_net()
    one, _ = count_flops(lambda: net(torch.zeros(1, 3, 16, 16)))
    two, _ = count_flops(lambda: net(torch.zeros(2, 3, 16, 16)))
    assert two == 2 * one


class Wrapper:
    """A DepthModel-like object holding modules as attributes (one shared between two)."""

    def __init__(self):
        self.network = small_net()
        self.head = nn.Linear(10, 2)
        self.alias = self.network
        self.name = "w"


def test_parameters_of_a_wrapper_count_each_tensor_once():
    expected = (3 * 8 * 9 + 8) + (2048 * 10 + 10) + (10 * 2 + 2)
    assert count_parameters(Wrapper()) == expected
    assert count_parameters(object()) is None


def test_full_depthpro_on_meta_has_the_released_parameter_count():
    assert meta_parameter_count("depthpro") == 951_991_330


def test_depthpro_meta_model_needs_no_weights_and_counts_flops():
    model = meta_model("depthpro", {"config": "tiny", "pretrained": False, "compile": True})
    assert model.device.type == "meta"
    count = count_model_flops(model, InputSize("vga", 640, 480))
    assert count.path == "forward" and count.counted_on == "meta"
    assert count.flops > 0 and count.macs == count.flops // 2
    # attention is counted on meta (decomposed into matrix products)
    assert count.by_operator.get("aten.bmm", 0) > 0
    # the network input is always 512 px for tiny: the count does not depend on the image size
    assert count_model_flops(model, InputSize("hd", 1920, 1080)).flops == count.flops


def test_meta_model_of_a_model_without_meta_support():
    with pytest.raises(ModelError):
        meta_model("probe:gt")


def test_depthpro_forward_callable_runs_the_network_alone():
    from dpbench.models import load_model

    model = load_model("depthpro", device="cpu", config="tiny", pretrained=False)
    images = [np.zeros((48, 64, 3), np.uint8)] * 2
    forward = forward_callable(model, images)
    depth, fov = forward()
    assert depth.shape == (2, 1, 512, 512) and fov.shape[0] == 2


@pytest.mark.parametrize("exc, expected", [
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"), True),
    (RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB"), True),
    (RuntimeError("MPS backend out of memory"), True),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"), True),
    (MemoryError(), True),
    (RuntimeError("shape mismatch"), False),
    (ValueError("out of memory"), False),
])
def test_out_of_memory_detection(exc, expected):
    assert is_out_of_memory(exc) is expected
