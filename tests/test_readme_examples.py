"""The README's example code runs as written, so the page cannot drift from the code.

A fenced block preceded by the line ``<!-- example -->`` (or fenced as ```` ```python example ````)
is an example: each one is written to a file and run with a fresh Python in an empty folder,
with ``$DPBENCH_DATA`` holding a small sample suite (what a first run would generate), and must
exit with code 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

_FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```\s*$", re.S | re.M)


def readme_examples(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every example block of ``text`` (see the module docstring)."""
    examples = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        marked = before == "<!-- example -->" or match.group(2).strip() == "example"
        if marked:
            if match.group(1) != "python":
                raise AssertionError(f"README line {text[: match.start()].count(chr(10)) + 1}: "
                                     "only python blocks can be examples")
            examples.append((text[: match.start()].count("\n") + 1, match.group(3)))
    return examples


def test_the_extractor_finds_marked_blocks_only():
    text = "x\n\n<!-- example -->\n```python\nprint(1)\n```\n\n```python\nprint(2)\n```\n" \
           "```python example\nprint(3)\n```\n"
    assert [code for _, code in readme_examples(text)] == ["print(1)\n", "print(3)\n"]


EXAMPLES = readme_examples(README.read_text(encoding="utf-8"))


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 3


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from dpbench.sample import generate_sample_suite

    root = tmp_path_factory.mktemp("readme_data")
    generate_sample_suite(root / "sample", scale=0.5)  # small images: a fast test
    return root


@pytest.mark.parametrize(("line", "code"), EXAMPLES, ids=[f"line{line}" for line, _ in EXAMPLES])
def test_readme_example_runs(line, code, data_root, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "DPBENCH_DATA": str(data_root), "PYTHONPATH": str(REPO),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"README example at line {line} failed:\n{done.stdout}\n{done.stderr}"
    assert (tmp_path / "runs").is_dir()  # every example stores a run, in the working folder
