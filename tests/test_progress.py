"""Progress of long work: bars on a terminal, one summary line per unit of work in logs."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _runner_fakes as fakes  # noqa: E402

from dpbench.models.depthpro.weights import fetch_url  # noqa: E402
from dpbench.progress import Progress, progress, progress_style  # noqa: E402
from dpbench.runner import RunConfig, run  # noqa: E402
from dpbench.sample.suite import generate_sample_suite  # noqa: E402


def test_style_follows_the_terminal_and_the_override(monkeypatch):
    monkeypatch.delenv("DPBENCH_PROGRESS", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert progress_style() == "lines" and progress_style(enabled=False) == "off"

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert progress_style() == "bars"
    monkeypatch.setenv("DPBENCH_PROGRESS", "lines")
    assert progress_style() == "lines"
    monkeypatch.setenv("DPBENCH_PROGRESS", "off")
    assert progress_style() == "off"


def test_lines_give_one_summary_with_count_and_rate():
    said = []
    with Progress(total=4, desc="sintel", unit="img", style="lines", say=said.append) as bar:
        for _ in range(4):
            bar.advance()
        bar.note("halfway remark")
    assert said[0] == "sintel: halfway remark"
    assert len(said) == 2 and said[1].startswith("sintel: 4 img in ") and said[1].endswith(" img/s)")
    bytes_bar = Progress(total=3 * 1024 * 1024, desc="weights", unit="B", unit_scale=True, style="lines",
                         say=said.append)
    bytes_bar.advance(1024 * 1024)
    bytes_bar.close()
    bytes_bar.close()  # once only
    assert said[2].startswith("weights: 1.0 MiB of 3.0 MiB in ") and said[2].endswith("B/s)")
    assert len(said) == 3


def test_off_says_nothing_and_bars_draw_on_stderr(monkeypatch):
    said = []
    with progress(total=2, desc="quiet", enabled=False, say=said.append) as bar:
        bar.advance(2)
        bar.note("x")
    assert said == []
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setenv("DPBENCH_PROGRESS", "bars")
    with progress(total=3, desc="drawn", unit="img", say=said.append) as bar:
        bar.advance(3)
    assert said == [] and "drawn" in stream.getvalue() and "3/3" in stream.getvalue()


def test_a_run_in_a_log_prints_one_line_per_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("DPBENCH_PROGRESS", "lines")
    suite = fakes.build_fake_suite(tmp_path / "data", 3, 2, 2)
    said = []
    run(RunConfig(model="fake:gt", suite=str(suite), out=tmp_path / "runs", workers=1), say=said.append)
    per_dataset = [line for line in said if " img in " in line]
    datasets = {line.split(":")[0] for line in per_dataset}
    assert len(per_dataset) == len(datasets) >= 3
    assert any(line.startswith(f"{name}: 3 img in ") for line in per_dataset for name in datasets)


def test_sample_generation_reports_each_dataset(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DPBENCH_PROGRESS", "lines")
    generate_sample_suite(tmp_path / "sample", scale=0.25)
    lines = capsys.readouterr().err.splitlines()
    written = [line for line in lines if line.startswith("sample suite: ") and " written (" in line]
    assert len(written) >= 6 and any(line.startswith("sample suite: sintel written") for line in written)
    assert any(line.startswith("sample suite: ") and " datasets in " in line for line in lines)


def test_download_reports_bytes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DPBENCH_PROGRESS", "lines")
    source = tmp_path / "w.bin"
    source.write_bytes(b"x" * 5000)
    fetch_url(source.as_uri(), tmp_path / "copy.bin")
    err = capsys.readouterr().err
    assert "downloading copy.bin: 4.9 KiB in " in err
    assert (tmp_path / "copy.bin").read_bytes() == source.read_bytes()


@pytest.mark.parametrize("n_runs", [3])
def test_reading_few_runs_for_a_report_is_quiet(tmp_path, monkeypatch, capsys, n_runs):
    import numpy as np
    from report_runs import standard_run

    from dpbench.report import build_report

    monkeypatch.setenv("DPBENCH_PROGRESS", "lines")
    rng = np.random.default_rng(0)
    folders = [standard_run(tmp_path, f"r{i}", model=f"m{i}", rng=rng) for i in range(n_runs)]
    build_report(folders)
    assert "reading runs" not in capsys.readouterr().err
    monkeypatch.setattr("dpbench.report.document.MANY_RUNS", 2)
    build_report(folders)
    assert "reading runs: 3 run in " in capsys.readouterr().err
