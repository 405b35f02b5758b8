"""Shared pytest fixtures: every test runs offline, on CPU, on data it generates itself."""

from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """Keep caches and data roots of the user out of the tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DPBENCH_CACHE", str(home / "cache"))
    monkeypatch.delenv("DPBENCH_DATA", raising=False)
    monkeypatch.delenv("DPBENCH_CHECKPOINTS", raising=False)
    monkeypatch.delenv("DPBENCH_MAX_PIXELS", raising=False)
    monkeypatch.delenv("DPBENCH_ALLOW_SYMLINKS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield


@pytest.fixture(scope="module")
def torch_single_thread():
    """One torch intra-op thread for a test module: on a shared 2-core machine, two contending
    threads run small models about 10x slower. Use with ``pytest.mark.usefixtures``."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("DPBENCH_FULLSIZE") == "1":
        return
    skip = pytest.mark.skip(reason="full-size model test: set DPBENCH_FULLSIZE=1 to run")
    for item in items:
        if "fullsize" in item.keywords:
            item.add_marker(skip)
