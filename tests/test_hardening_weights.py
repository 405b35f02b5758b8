"""A safetensors index (and a checkpoint folder) cannot lead reading outside its folder."""

from __future__ import annotations

import json
import os

import pytest

from dpbench.errors import CheckpointError
from dpbench.models.depthpro.weights import checkpoint_files, containment_root


def _index(folder, *names):
    weight_map = {f"layer{i}.weight": name for i, name in enumerate(names)}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def _hf_cache(tmp_path):
    """``models--apple--DepthPro-hf/{blobs,snapshots/<rev>}`` as huggingface_hub lays it out."""
    repo = tmp_path / "hub" / "models--apple--DepthPro-hf"
    blobs, snapshot = repo / "blobs", repo / "snapshots" / "0123abcd"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for name, blob in (("model-00001-of-00002.safetensors", "aaa"), ("model-00002-of-00002.safetensors", "bbb")):
        (blobs / blob).write_bytes(b"x")
        os.symlink(f"../../blobs/{blob}", snapshot / name)
    _index(snapshot, "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    return repo, snapshot


def test_hf_cache_snapshot_shards_are_followed_into_blobs(tmp_path):
    repo, snapshot = _hf_cache(tmp_path)
    assert containment_root(snapshot) == repo
    files = checkpoint_files(snapshot)
    assert [f.name for f in files] == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert [f.resolve().name for f in files] == ["aaa", "bbb"]


@pytest.mark.parametrize("name, words", [
    ("/etc/hostname", "refuses the shard name '/etc/hostname'"),
    ("../../../outside.safetensors", "refuses the shard name '../../../outside.safetensors'"),
    ("sub/../../x.safetensors", "refuses the shard name"),
    ("", "refuses the shard name ''"),
])
def test_index_names_outside_the_folder_are_refused(tmp_path, name, words):
    _, snapshot = _hf_cache(tmp_path)
    _index(snapshot, "model-00001-of-00002.safetensors", name)
    with pytest.raises(CheckpointError) as info:
        checkpoint_files(snapshot)
    assert str(info.value).startswith(str(snapshot / "model.safetensors.index.json")) and words in str(info.value)


def test_a_shard_linked_outside_the_repository_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("DPBENCH_ALLOW_SYMLINKS", raising=False)
    _, snapshot = _hf_cache(tmp_path)
    outside = tmp_path / "secret.safetensors"
    outside.write_bytes(b"x")
    os.symlink(outside, snapshot / "evil.safetensors")
    _index(snapshot, "model-00001-of-00002.safetensors", "evil.safetensors")
    with pytest.raises(CheckpointError, match=r"evil.safetensors: safetensors shard is a link to .*secret"):
        checkpoint_files(snapshot)
    # a plain folder (not a cache snapshot) is its own root: its blob link is refused too
    plain = tmp_path / "plain"
    plain.mkdir()
    os.symlink(snapshot / "model-00001-of-00002.safetensors", plain / "model.safetensors")
    with pytest.raises(CheckpointError, match="checkpoint file is a link to"):
        checkpoint_files(plain)


@pytest.mark.parametrize("text", ["[]", '{"weight_map": []}', "{", "[" * 5000 + "]" * 5000])
def test_malformed_index_is_a_checkpoint_error(tmp_path, text):
    (tmp_path / "model.safetensors.index.json").write_text(text)
    with pytest.raises(CheckpointError, match="model.safetensors.index.json"):
        checkpoint_files(tmp_path)
