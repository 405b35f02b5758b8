"""The rows of ``dpbench models``: every registered model, its output kind, where its weights are
looked up and whether they are there, and the optional extra it needs (installed or not).

Besides the registry's entries, the baseline model cards (``baselines/models/*.toml``, their
``[[variants]]``) add one row per known checkpoint of a family (e.g. ``hf:Intel/zoedepth-nyu-kitti``),
marked present when the Hugging Face Hub cache already holds it. Nothing here touches the network.
"""

from __future__ import annotations

import importlib.util
import logging

from dpbench.models import ModelInfo, get_model_info, model_infos
from dpbench.models.hub_cache import hub_cache_has
from dpbench.resources import load_toml, resource_dir

log = logging.getLogger(__name__)

COLUMNS = ("name", "output_kind", "weights", "present", "extra", "notes")
#: The columns ``dpbench models`` prints, in order.
LIST_COLUMNS = COLUMNS
#: Columns wrapped, never cut, when the table is fitted to the terminal: the name, where the
#: weights are (or why their look-up failed) and what to install.
WRAP_COLUMNS = ("name", "weights", "extra")


def model_rows(include_cards: bool = True) -> list[dict]:
    """One dict per model with keys ``name, output_kind, weights, present, extra, notes``.

    ``present`` is True/False when weights were looked for, None when the question does not
    apply (weight-free probes, prediction folders, a family as a whole).
    """
    rows = [_registry_row(info) for info in model_infos()]
    if include_cards:
        listed = {row["name"] for row in rows}
        rows += [row for row in card_rows() if row["name"] not in listed]
    return rows


def _display_name(info: ModelInfo) -> str:
    if not info.family:
        return info.name
    if info.default_arg is not None:
        return f"{info.name}[:<repo>]"
    return f"{info.name}:<...>"


def _registry_row(info: ModelInfo) -> dict:
    weights, present = _weights(info)
    return {
        "name": _display_name(info),
        "output_kind": f"from {info.kind_from}" if info.kind_from else info.output_kind,
        "weights": weights,
        "present": present,
        "extra": extra_status(info),
        "notes": info.description,
    }


def _weights(info: ModelInfo) -> tuple[str, bool | None]:
    if info.weights is None:
        return ("none (reads the ground truth)" if info.reads_ground_truth else "-"), None
    try:
        places = list(info.weights())
    except Exception as exc:  # a listing must never crash on one model's card
        log.warning("model %s: weight look-up failed: %s", info.name, exc)
        return f"(look-up failed: {exc})", None
    if not places:
        return "-", None
    for place, found in places:
        if found:
            return str(place), True
    states = {found for _, found in places}
    return " | ".join(str(place) for place, _ in places), (None if states == {None} else False)


def extra_status(info: ModelInfo) -> str:
    """``-`` when nothing optional is needed, else the extra and whether its modules import."""
    missing = [m for m in info.requires if importlib.util.find_spec(m) is None]
    if info.extra is None:
        return f"missing: {', '.join(missing)}" if missing else "-"
    if missing:
        return f'{info.extra} (missing: pip install "dpbench[{info.extra}]")'
    return f"{info.extra} (installed)"


def card_rows() -> list[dict]:
    """Rows for the ``[[variants]]`` of the baseline model cards that name a model family."""
    try:
        folder = resource_dir("baselines") / "models"
    except FileNotFoundError:
        return []
    rows = []
    for path in sorted(folder.glob("*.toml")):
        try:
            card = load_toml(path)
        except ValueError as exc:
            log.warning("skipping model card %s: %s", path, exc)
            continue
        for variant in card.get("variants", []):
            name = variant.get("model")
            if not name:
                continue
            try:
                info, arg = get_model_info(name)
            except Exception as exc:  # a card naming an unknown family: skip it, do not crash
                log.warning("model card %s names %r: %s", path.name, name, exc)
                continue
            if name == info.name:  # the registry's own row already describes it
                continue
            filename = "model_index.json" if info.name == "marigold" else "config.json"
            repo = arg or name
            rows.append({
                "name": name,
                "output_kind": variant.get("output_kind", card.get("output_kind", info.output_kind)),
                "weights": f"Hub cache: {repo}",
                "present": hub_cache_has(repo, filename),
                "extra": extra_status(info),
                "notes": f"{card.get('name', path.stem)}: {variant.get('notes', '')}".rstrip(": "),
            })
    return rows
