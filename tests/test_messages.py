"""Messages that say what happened: sample generation skipped or first use, corrupt checkpoints."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from dpbench.cli import cli
from dpbench.errors import CheckpointError


def test_second_sample_command_says_it_skipped(tmp_path):
    runner = CliRunner()
    out = tmp_path / "sample"
    first = runner.invoke(cli, ["sample", "--out", str(out), "--scale", "0.25"])
    assert first.exit_code == 0 and first.output.strip().splitlines()[-1] == f"sample suite written to {out}"
    assert "sample suite: sintel written (" in first.output  # progress, one line per dataset in a log
    manifest = (out / "suite.json").stat().st_mtime_ns
    second = runner.invoke(cli, ["sample", "--out", str(out), "--scale", "0.25"])
    assert second.exit_code == 0
    assert second.output.strip() == (f"sample suite already in {out} (seed 0, scale 0.25): skipped; "
                                     "--force regenerates it")
    assert (out / "suite.json").stat().st_mtime_ns == manifest  # nothing was written
    other = runner.invoke(cli, ["sample", "--out", str(out), "--scale", "0.5"])  # other settings: refused
    assert other.exit_code == 2 and "--force" in other.output


def test_first_use_is_a_plain_line_and_a_broken_suite_a_warning(tmp_path, monkeypatch, capsys, caplog):
    from dpbench.sample import suite

    calls = []
    monkeypatch.setattr(suite, "_generate", lambda root, *args, **kwargs: calls.append(root) or root)
    with caplog.at_level(logging.INFO, logger="dpbench.sample"):
        suite.ensure_sample_suite(tmp_path / "fresh")
    assert capsys.readouterr().err == f"generating the sample suite in {tmp_path / 'fresh'} (first use, about 10 s)\n"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "suite.json").write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="dpbench.sample"):
        suite.ensure_sample_suite(broken)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"regenerating the sample suite in {broken} (no valid suite.json)"]
    assert calls == [tmp_path / "fresh", broken]


class Payload:
    """An arbitrary object: torch's refusal of it advises weights_only=False, which we drop."""

    def __reduce__(self):
        return (print, ("this would run on unpickling",))


@pytest.mark.parametrize(("damage", "reason"), [
    ("garbage", "it holds something other than tensors: Unsupported operand 0"),
    ("payload", "it holds something other than tensors: Unsupported global: GLOBAL print was not an allowed "
                "global by default"),
    ("truncated", "PytorchStreamReader failed reading zip archive: failed finding central directory"),
    ("empty", "the file is empty or ends early"),
])
def test_corrupt_checkpoint_error_gives_no_unsafe_advice(tmp_path, damage, reason):
    torch = pytest.importorskip("torch")
    from dpbench.models.depthpro import weights

    path = tmp_path / "broken.pt"
    torch.save({"weight": torch.zeros(4)}, path)
    data = path.read_bytes()
    if damage == "payload":
        torch.save({"weight": torch.zeros(1), "payload": Payload()}, path)
    else:
        path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00not a checkpoint" * 50,
                          "empty": b""}[damage])
    with pytest.raises(CheckpointError) as caught:
        weights.read_state_dict(path)
    message = str(caught.value)
    assert message == (f"{path}: not a readable PyTorch checkpoint (corrupted, truncated, or containing objects "
                       f"other than tensors): {reason}")
    assert "weights_only" not in message and "\n" not in message
