"""Where the Depth Pro checkpoint comes from, how it is checked, and how it is read safely.

Look-up order: an explicit ``checkpoint`` path; ``$DPBENCH_CHECKPOINTS/depth_pro.pt``;
``<dpbench cache>/checkpoints/depth_pro.pt``; then a download (Apple's published URL, else the
Hugging Face repo ``apple/DepthPro`` through ``huggingface_hub``) into the cache, streamed through
a sha256 with a progress bar, checked against the model card ``baselines/models/depthpro.toml``
and moved into place atomically. Offline (``DPBENCH_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``) nothing is
downloaded and the error says where to put the file.

Files are read with ``torch.load(..., weights_only=True)`` (never arbitrary unpickling) or
safetensors; the Hugging Face conversion (``apple/DepthPro-hf``) is renamed to the native layout.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpbench.errors import CheckpointError, MissingExtraError
from dpbench.io.confine import confined
from dpbench.io.limits import read_json
from dpbench.models.hub_cache import OFFLINE_VARIABLES, download_hint, is_offline
from dpbench.resources import cache_dir, load_toml, resource_path

CARD_FILE = "models/depthpro.toml"
_CHUNK = 1 << 20


def model_card() -> dict:
    """The Depth Pro model card (``baselines/models/depthpro.toml``) as a dict."""
    return load_toml(resource_path("baselines", CARD_FILE))


def checkpoint_name() -> str:
    return str(model_card()["weights"]["file"])


def lookup_paths() -> list[tuple[str, Path]]:
    """The local places searched for ``depth_pro.pt``, in order, each with a short label."""
    name = checkpoint_name()
    places = []
    env = os.environ.get("DPBENCH_CHECKPOINTS")
    if env:
        places.append(("$DPBENCH_CHECKPOINTS", Path(env).expanduser() / name))
    places.append(("cache", cache_dir() / "checkpoints" / name))
    return places


def weight_locations() -> list[tuple[str, bool]]:
    """For ``dpbench models``: every local place looked at, and whether a file is there."""
    return [(str(path), path.is_file()) for _, path in lookup_paths()]


# -- hashing -------------------------------------------------------------------------------------

_SHA256_MEMO: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (memoised per path, size and mtime)."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256_MEMO:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
        _SHA256_MEMO[key] = digest.hexdigest()
    return _SHA256_MEMO[key]


def verify_file(path: Path, card_weights: Mapping[str, Any], sha256: str | None = None) -> None:
    """Compare size and sha256 with the card (only the fields the card records)."""
    expected_size = card_weights.get("size_bytes")
    if expected_size is not None and path.stat().st_size != int(expected_size):
        raise CheckpointError(
            f"{path}: size {path.stat().st_size} bytes differs from the model card's {expected_size} "
            "(truncated or a different file)"
        )
    expected_sha = card_weights.get("sha256")
    if expected_sha:
        actual = sha256 or sha256_file(path)
        if actual.lower() != str(expected_sha).lower():
            raise CheckpointError(f"{path}: sha256 {actual} differs from the model card's {expected_sha}")


# -- download ------------------------------------------------------------------------------------

def fetch_url(url: str, destination: Path, *, progress: bool = True, timeout: float = 60.0) -> str:
    """Stream ``url`` into ``destination`` (a temporary name), returning the sha256 of the bytes."""
    from dpbench.progress import progress as progress_of

    request = urllib.request.Request(url, headers={"User-Agent": "dpbench"})
    digest = hashlib.sha256()
    with urllib.request.urlopen(request, timeout=timeout) as response, destination.open("wb") as out:
        total = response.headers.get("Content-Length")
        with progress_of(total=int(total) if total else None, unit="B", unit_scale=True,
                         desc=f"downloading {destination.name}", enabled=progress) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                bar.advance(len(chunk))
        if total and out.tell() != int(total):
            raise CheckpointError(f"download of {url} stopped after {out.tell()} of {total} bytes")
    return digest.hexdigest()


def fetch_hf_hub(repo: str, filename: str, destination: Path) -> str:
    """Download ``filename`` of Hugging Face repo ``repo`` to ``destination`` (no second copy)."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise MissingExtraError("downloading Depth Pro from the Hugging Face Hub", "hf", "huggingface_hub") from exc
    with tempfile.TemporaryDirectory(prefix=".hf-", dir=destination.parent) as folder:
        fetched = Path(hf_hub_download(repo_id=repo, filename=filename, local_dir=folder))
        os.replace(fetched, destination)
    return sha256_file(destination)


@dataclass
class _Source:
    label: str
    fetch: Callable[[Path], str]


def _sources(card_weights: Mapping[str, Any], progress: bool) -> list[_Source]:
    sources = []
    if card_weights.get("url"):
        url = str(card_weights["url"])
        sources.append(_Source(url, lambda dest: fetch_url(url, dest, progress=progress)))
    if card_weights.get("hf_repo"):
        repo, filename = str(card_weights["hf_repo"]), str(card_weights.get("hf_filename", card_weights["file"]))
        sources.append(
            _Source(f"huggingface.co/{repo} ({filename})",
                    lambda dest: fetch_hf_hub(repo, filename, dest))
        )
    return sources


def download_checkpoint(target: Path | None = None, *, progress: bool = True) -> Path:
    """Download the released checkpoint into the cache (or ``target``), verified and atomic."""
    card = model_card()["weights"]
    target = target or lookup_paths()[-1][1]
    target.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for source in _sources(card, progress):
        handle, temporary = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
        os.close(handle)
        temporary = Path(temporary)
        try:
            sha256 = source.fetch(temporary)
            verify_file(temporary, card, sha256)
            os.replace(temporary, target)
            _SHA256_MEMO[(str(target.resolve()), target.stat().st_size, target.stat().st_mtime_ns)] = sha256
            return target
        except (OSError, urllib.error.URLError, CheckpointError, MissingExtraError, ValueError) as exc:
            failures.append(f"{source.label}: {exc}")
            if _no_network(exc):
                failures.append("no network, so no other source was tried")
                break
        except Exception as exc:  # e.g. huggingface_hub's own errors when offline
            failures.append(f"{source.label}: {type(exc).__name__}: {exc}")
        finally:
            temporary.unlink(missing_ok=True)
    raise CheckpointError(missing_checkpoint_message(download_errors=failures))


def _no_network(exc: BaseException) -> bool:
    """Whether a download failed before any server answered (name resolution, connection,
    time-out): then every other source would fail the same way, after its own retries."""
    if isinstance(exc, urllib.error.HTTPError):
        return False
    if isinstance(exc, urllib.error.URLError):
        return True
    return isinstance(exc, (ConnectionError, TimeoutError))


def missing_checkpoint_message(download_errors: list[str] | None = None) -> str:
    """The error text when no checkpoint is found (one line): where it was looked for, why it
    was not downloaded, and how to get it."""
    card = model_card()["weights"]
    places = ", ".join(f"{path} ({label})" for label, path in lookup_paths())
    cache_target = lookup_paths()[-1][1]
    text = f"the Depth Pro checkpoint '{card['file']}' was not found (looked in {places})."
    if download_errors:
        text += " Download attempts failed: " + "; ".join(" ".join(e.split()) for e in download_errors) + "."
    elif download_errors is None and is_offline():
        text += f" Offline mode ({' / '.join(OFFLINE_VARIABLES)} is set): no download was attempted."
    ways = [f"`curl -L -o {cache_target} {card.get('url', '<url>')}`"]
    if card.get("hf_repo"):
        hint = download_hint(card["hf_repo"], card.get("hf_filename", card["file"]), str(cache_target.parent))
        ways.insert(0, f"`{hint}`")
    return (text + f" Get it with {' or '.join(ways)}, or put the file anywhere and pass --checkpoint PATH "
            "(or set $DPBENCH_CHECKPOINTS to its folder); a Hugging Face conversion (apple/DepthPro-hf: a "
            "folder with model.safetensors) is accepted too")


def resolve_checkpoint(checkpoint: str | os.PathLike | None = None, *, download: bool = True,
                       progress: bool = True) -> Path:
    """The checkpoint file or folder to load, following the look-up order of the module doc."""
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.exists():
            raise CheckpointError(f"checkpoint not found: {path}")
        return path
    for _, path in lookup_paths():
        if path.is_file():
            return path
    if download and not is_offline():
        return download_checkpoint(progress=progress)
    raise CheckpointError(missing_checkpoint_message(download_errors=None if is_offline() else []))


# -- reading -------------------------------------------------------------------------------------

def checkpoint_files(path: str | os.PathLike) -> list[Path]:
    """The file(s) a checkpoint path stands for: itself, or the weights inside a folder."""
    path = Path(path)
    return _folder_files(path) if path.is_dir() else [path]


def _folder_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        document = read_json(index, "safetensors index", error=CheckpointError)
        weight_map = document.get("weight_map") if isinstance(document, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(f"{index}: unreadable safetensors index (no 'weight_map' table)")
        return [_shard_path(folder, index, name) for name in sorted(set(map(str, weight_map.values())))]
    for name in ("model.safetensors", checkpoint_name()):
        if (folder / name).is_file():
            return [confined(folder / name, containment_root(folder), "checkpoint file", error=CheckpointError)]
    raise CheckpointError(
        f"{folder}: no checkpoint inside (expected {checkpoint_name()}, model.safetensors or "
        "model.safetensors.index.json)"
    )


def containment_root(folder: Path) -> Path:
    """The folder a checkpoint folder's files must stay in: the folder itself, or for a Hugging
    Face cache snapshot (``.../models--<org>--<name>/snapshots/<revision>/``, whose files are
    symlinks to ``../../blobs/<hash>``) the ``models--*`` folder of that repository."""
    snapshots = folder.parent
    if snapshots.name == "snapshots" and snapshots.parent.name.startswith("models--"):
        return snapshots.parent
    return folder


def _shard_path(folder: Path, index: Path, name: str) -> Path:
    """The shard ``name`` listed by ``index``: a plain name inside ``folder`` (no absolute path,
    no ``..``, no link leading out of :func:`containment_root`)."""
    if not name or Path(name).is_absolute() or ".." in Path(name).parts or "\0" in name:
        raise CheckpointError(f"{index}: refuses the shard name {name!r} (it must be a file name inside "
                              f"{folder})")
    return confined(folder / name, containment_root(folder), "safetensors shard", error=CheckpointError)


def _read_safetensors(path: Path) -> dict:
    try:
        from safetensors.torch import load_file
    except ImportError as exc:
        raise MissingExtraError(f"reading {path.name}", "hf", "safetensors") from exc
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file (corrupted or truncated?): {exc}") from exc


def _read_torch(path: Path) -> dict:
    import torch

    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:  # files in the legacy (non-zip) format cannot be memory-mapped
            if "mmap" not in str(exc):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (corrupted, truncated, or containing objects "
            f"other than tensors): {_torch_load_reason(exc)}"
        ) from exc


def _torch_load_reason(exc: BaseException) -> str:
    """What went wrong in ``torch.load``, in one line, without torch's advice to retry with
    ``weights_only=False``: that runs arbitrary code from the file, which dpbench never does."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    if not text:
        return "the file is empty or ends early" if isinstance(exc, EOFError) else type(exc).__name__
    detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    if detail:  # keep torch's diagnosis, drop its advice (the allow-list and weights_only=False)
        return "it holds something other than tensors: " + detail.group(1).split(". ")[0].strip().rstrip(".")
    if "Weights only load failed" in text:
        return "it holds something other than tensors"
    first = text.splitlines()[0]
    return first.split(". This is an internal")[0]


def read_state_dict(path: str | os.PathLike) -> tuple[dict, str]:
    """Tensors of a checkpoint under native names, and the layout they came in ('native'/'hf')."""
    import torch

    files = checkpoint_files(path)
    state: dict = {}
    for file in files:
        loaded = _read_safetensors(file) if file.suffix == ".safetensors" else _read_torch(file)
        if isinstance(loaded, Mapping) and "state_dict" in loaded and isinstance(loaded["state_dict"], Mapping):
            loaded = loaded["state_dict"]
        if not isinstance(loaded, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()
        ):
            raise CheckpointError(f"{file}: expected a mapping of parameter names to tensors")
        state.update(loaded)
    from dpbench.models.depthpro.hf_keys import hf_to_native, is_hf_layout

    if is_hf_layout(state):
        return hf_to_native(state), "hf"
    return state, "native"


def check_state_dict(state: Mapping, expected: Mapping, source: str = "checkpoint") -> None:
    """Refuse a state dict whose keys or shapes differ from ``expected`` (a model's state dict).

    Missing and unexpected keys are listed (the first 10 of each); a wrong shape is named.
    """
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = [f"{source} does not match the Depth Pro architecture:"]
        for title, keys in (("missing", missing), ("unexpected", unexpected)):
            if keys:
                more = f" ... and {len(keys) - 10} more" if len(keys) > 10 else ""
                parts.append(f"  {len(keys)} {title} key(s): {', '.join(keys[:10])}{more}")
        raise CheckpointError("\n".join(parts))
    wrong = [
        f"{k}: {tuple(state[k].shape)} in the file, {tuple(v.shape)} expected"
        for k, v in expected.items() if tuple(state[k].shape) != tuple(v.shape)
    ]
    if wrong:
        more = f" ... and {len(wrong) - 10} more" if len(wrong) > 10 else ""
        raise CheckpointError(f"{source}: tensor(s) of the wrong shape: " + "; ".join(wrong[:10]) + more)
    bad_dtype = [k for k, v in state.items() if not v.is_floating_point()]
    if bad_dtype:
        raise CheckpointError(f"{source}: non-floating-point tensor(s): {', '.join(bad_dtype[:10])}")
