"""One-line errors with exit 2: devices, offline Hugging Face models, Depth Pro without network,
a data root that does not exist."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import _runner_fakes as fakes  # noqa: E402  (registers fake-* datasets and the fake:* models)

from dpbench.cli import cli  # noqa: E402
from dpbench.errors import CheckpointError, ModelError  # noqa: E402
from dpbench.models import load_model  # noqa: E402
from dpbench.models.depthpro import weights  # noqa: E402
from dpbench.models.device import DeviceError, check_device, resolve_device  # noqa: E402

NO_CUDA = not torch.cuda.is_available()


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


@pytest.mark.parametrize("device, words", [
    ("tpu", "unknown device 'tpu': expected auto, cpu, cuda, cuda:N or mps"),
    ("cuda:", "unknown device 'cuda:'"),
    ("CPU ", "unknown device 'CPU '"),
    ("", "unknown device ''"),
])
def test_device_strings_are_checked(device, words):
    with pytest.raises(DeviceError, match=words.replace("(", r"\(")):
        check_device(device)


def test_devices_this_machine_has():
    assert check_device("auto") == "auto" and check_device("cpu") == "cpu"
    assert check_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_cuda(device):
    with pytest.raises(DeviceError, match=f"device '{device}' requested but CUDA is not available"):
        resolve_device(device)


@pytest.mark.parametrize("model, device", [("fake:gt", "tpu"), ("probe:gt", "tpu")]
                         + ([("probe:gt", "cuda"), ("depthpro", "cuda")] if NO_CUDA else []))
def test_run_with_a_bad_device_is_one_line(tmp_path, model, device):
    suite = fakes.build_fake_suite(tmp_path / "data", 2, 1, 1)
    result = CliRunner().invoke(cli, ["run", "--model", model, "--suite", str(suite), "--device", device,
                                      "--out", str(tmp_path / "runs"), "--no-progress"])
    line = _one_error_line(result)
    assert f"'{device}'" in line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_dpbench_offline_is_honoured_for_hf_models(monkeypatch):
    """DPBENCH_OFFLINE=1 alone (HF_HUB_OFFLINE unset): the Hub cache only, not one connection."""
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("DPBENCH_OFFLINE", "1")
    connections = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: connections.append(address))
    with pytest.raises(ModelError) as info:
        load_model("hf:dpbench-tests/not-a-model", device="cpu")
    message = str(info.value)
    assert connections == []
    assert "\n" not in message and message.startswith("hf:dpbench-tests/not-a-model: cannot load")
    assert "offline mode is on" in message and "`hf download dpbench-tests/not-a-model`" in message
    assert "huggingface-cli" not in message


def test_depth_pro_download_without_network_stops_at_the_first_source(monkeypatch, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now: connection refused, as without network
    card = weights.model_card()
    card["weights"]["url"] = f"http://127.0.0.1:{port}/depth_pro.pt"
    monkeypatch.setattr(weights, "model_card", lambda: card)
    hub_calls = []
    monkeypatch.setattr(weights, "fetch_hf_hub", lambda *args: hub_calls.append(args))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("DPBENCH_OFFLINE", raising=False)
    monkeypatch.setenv("DPBENCH_CHECKPOINTS", str(tmp_path / "none"))
    with pytest.raises(CheckpointError) as info:
        weights.resolve_checkpoint(progress=False)
    message = str(info.value)
    assert hub_calls == []  # no second source, no retries
    assert "\n" not in message
    assert "Connection refused" in message and "no network, so no other source was tried" in message
    target = weights.cache_dir() / "checkpoints"
    assert f"`hf download apple/DepthPro depth_pro.pt --local-dir {target}`" in message
    assert "huggingface-cli" not in message


def test_depth_pro_offline_message_is_one_line(monkeypatch):
    monkeypatch.setenv("DPBENCH_OFFLINE", "1")
    with pytest.raises(CheckpointError) as info:
        weights.resolve_checkpoint()
    assert "\n" not in str(info.value) and "no download was attempted" in str(info.value)


def test_datasets_with_a_data_root_that_does_not_exist(tmp_path, monkeypatch):
    root = tmp_path / "nonexistent"
    line = _one_error_line(CliRunner().invoke(cli, ["datasets", "--data-root", str(root)]))
    assert line == f"error: data root {root} does not exist (from --data-root)"
    monkeypatch.setenv("DPBENCH_DATA", str(root))
    line = _one_error_line(CliRunner().invoke(cli, ["datasets"]))
    assert line == f"error: data root {root} does not exist (from $DPBENCH_DATA)"
    root.write_text("")  # (click itself refuses a file given as --data-root)
    line = _one_error_line(CliRunner().invoke(cli, ["datasets"]))
    assert line == f"error: data root {root} is not a folder (from $DPBENCH_DATA)"
