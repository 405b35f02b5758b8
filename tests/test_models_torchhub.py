"""The shared torch.hub loading path of upstream baselines (local stand-in repositories only)."""

from __future__ import annotations

import hashlib
import textwrap

import pytest

from dpbench.errors import MissingExtraError, ModelError
from dpbench.models import torchhub


def _stand_in(folder, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hubconf.py").write_text(textwrap.dedent(body))
    return folder


def test_local_clone_is_loaded_with_upstreams_keywords_and_recorded(tmp_path):
    repo = _stand_in(tmp_path / "clone", """
        dependencies = ["torch"]
        def entry(pretrain=False, **kwargs):
            return {"pretrain": pretrain, "kwargs": kwargs}
    """)
    source = torchhub.resolve_hub_source("m", str(repo))
    out = torchhub.load_hub_entry("m", source, "entry", extra="x", pretrain=True)
    assert out == {"pretrain": True, "kwargs": {}}
    assert source.provenance["code"] == "local"
    assert source.provenance["entry"] == "entry"
    assert source.provenance["hubconf_sha256"] == hashlib.sha256((repo / "hubconf.py").read_bytes()).hexdigest()


def test_folder_without_hubconf_is_refused(tmp_path):
    with pytest.raises(ModelError, match="is not a torch.hub repository"):
        torchhub.resolve_hub_source("m", str(tmp_path))


def test_missing_upstream_package_names_the_extra(tmp_path):
    repo = _stand_in(tmp_path / "clone", """
        import no_such_package_for_dpbench_tests
        def entry():
            return None
    """)
    source = torchhub.resolve_hub_source("m", str(repo))
    with pytest.raises(MissingExtraError, match=r'no_such_package_for_dpbench_tests.*dpbench\[fam\]'):
        torchhub.load_hub_entry("m", source, "entry", extra="fam")


def test_offline_reads_only_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("DPBENCH_OFFLINE", "1")
    with pytest.raises(ModelError, match="offline and the torch.hub cache .* has no copy of owner/name"):
        torchhub.resolve_hub_source("m", "owner/name")
    cached = _stand_in(tmp_path / "torch" / "hub" / "owner_name_main", "def entry():\n    return 7\n")
    source = torchhub.resolve_hub_source("m", "owner/name")
    assert source.local_dir == cached
    assert torchhub.load_hub_entry("m", source, "entry", extra="x") == 7
    assert torchhub.resolve_hub_source("m", "owner/name:main").local_dir == cached
    with pytest.raises(ModelError):
        torchhub.resolve_hub_source("m", "owner/name:v2")


def test_online_github_repo_is_left_to_torch_hub(monkeypatch):
    monkeypatch.delenv("DPBENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    source = torchhub.resolve_hub_source("m", "yvanyin/metric3d")
    assert source.local_dir is None and source.provenance == {"code": "github:yvanyin/metric3d"}
