"""Per-dataset focal mode (issue 10, item 7): `--focal-mode sunrgbd=gt`, suites.toml overrides and
the `zeroshot-evidence` suite, whose reason is printed with the report's protocol."""

from __future__ import annotations

import numpy as np
import pytest
from report_runs import PROTOCOL, dataset_entry, depth_row, manifest, write_run

from dpbench.protocol import Protocol, ProtocolError, default_protocol, parse_focal_modes
from dpbench.report import build_report, render_report
from dpbench.runner.focal import focal_for_model
from dpbench.suites import get_suite
from dpbench.types import Sample


def test_parse_focal_modes():
    assert parse_focal_modes(()) == (None, {})
    assert parse_focal_modes(("gt",)) == ("gt", {})
    assert parse_focal_modes(("sunrgbd=gt", "exif", "eth3d=estimated")) == ("exif", {"sunrgbd": "gt", "eth3d": "estimated"})
    with pytest.raises(ProtocolError, match="focal_mode for sunrgbd"):
        parse_focal_modes(("sunrgbd=true",))
    with pytest.raises(ProtocolError, match="DATASET=MODE"):
        parse_focal_modes(("=gt",))


def test_the_override_applies_to_its_dataset_only():
    protocol = default_protocol(focal_mode_overrides={"sunrgbd": "gt"})
    assert (protocol.focal_mode_for("sunrgbd"), protocol.focal_mode_for("eth3d")) == ("gt", "estimated")
    sample = Sample("s", np.zeros((4, 4, 3), np.uint8), focal_px=321.0)
    assert focal_for_model(sample, protocol.focal_mode_for("sunrgbd")) == (321.0, "gt")
    assert focal_for_model(sample, protocol.focal_mode_for("eth3d")) == (None, "estimated")
    record = protocol.record("metric_depth")
    assert record["focal_mode_overrides"] == {"sunrgbd": "gt"}
    assert Protocol.from_options(record) == protocol  # a manifest record reads back
    with pytest.raises(ProtocolError):
        default_protocol(focal_mode_overrides={"sunrgbd": "guess"})


def test_cli_overrides_merge_over_the_suite():
    suite = get_suite("zeroshot-evidence")
    merged = Protocol.from_options(suite.protocol, focal_mode_overrides={"eth3d": "exif"})
    assert merged.focal_mode_overrides == {"sunrgbd": "gt", "eth3d": "exif"}


def test_zeroshot_keeps_estimated_and_the_evidence_variant_gives_sunrgbd_the_gt_focal():
    plain = Protocol.from_options(get_suite("zeroshot").protocol)
    evidence_suite = get_suite("zeroshot-evidence")
    evidence = Protocol.from_options(evidence_suite.protocol)
    assert [e.dataset for e in evidence_suite.entries] == [e.dataset for e in get_suite("zeroshot").entries]
    assert plain.focal_mode_for("sunrgbd") == "estimated" and plain.focal_mode_overrides == {}
    assert evidence.focal_mode_for("sunrgbd") == "gt" and evidence.focal_mode_for("booster") == "estimated"
    assert "plumbline" in evidence.focal_mode_reason


def test_the_reason_is_printed_with_the_protocol(tmp_path):
    record = default_protocol().replace(focal_mode_overrides={"sunrgbd": "gt"},
                                        focal_mode_reason="the evidence says so").record("metric_depth")
    man = manifest("ev", model="depthpro", suite="zeroshot-evidence", protocol={**PROTOCOL, **record},
                   datasets=[dataset_entry("sunrgbd", ["metric_depth"], num_samples=1)])
    gt = np.full((4, 4), 2.0)
    write_run(tmp_path, man, [depth_row("sunrgbd", "a", gt, gt)])
    markdown = render_report(build_report([tmp_path / "ev"]), "markdown")
    protocol_line = next(line for line in markdown.splitlines() if line.startswith("Protocol:"))
    assert "focal_mode_overrides = sunrgbd: gt" in protocol_line
    assert "focal_mode_reason = the evidence says so" in protocol_line


def test_a_focal_override_naming_a_dataset_outside_the_run_is_refused(tmp_path):
    from dpbench.runner import RunConfig, run

    config = RunConfig(model="probe:constant", suite="sample", sample_root=tmp_path / "data",
                       out=tmp_path / "runs", protocol={"focal_mode_overrides": {"sunrgb": "gt"}})
    with pytest.raises(ProtocolError, match=r"--focal-mode names sunrgb, which suite 'sample' does not evaluate"):
        run(config)
    assert not (tmp_path / "runs").exists()  # refused before any work


def test_a_row_records_the_models_own_focal_when_it_ignored_the_given_one():
    from dpbench.runner.focal import focal_source_of
    from dpbench.types import Prediction

    used = Prediction(depth=np.ones((2, 2)), focal_px=300.0)
    ignored = Prediction(depth=np.ones((2, 2)), focal_px=280.0,
                         meta={"focal_source": "estimated", "focal_px_given_ignored": 300.0})
    assert focal_source_of(used, "gt", True) == "gt"
    assert focal_source_of(ignored, "gt", True) == "estimated"
    assert focal_source_of(used, "gt", False) == "estimated"
