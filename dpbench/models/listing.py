"""The rows of ``dpbench models``: every registered model, its output kind, how dpbench runs it
(route) and whether it can run here (status), where its weights are looked up and whether they are
there, and the optional extra it needs (installed or not).

Besides the registry's entries, the baseline model cards (``baselines/models/*.toml``) add one row
per ``[[variants]]`` entry naming a model of a registered family (e.g. ``hf:Intel/zoedepth-nyu-kitti``,
marked present when the Hugging Face Hub cache already holds it), one row per card without such a
variant (e.g. a Table 3 estimator served as ``predictions:<dir>``), and one row per method of the
paper's Tables 1–3 that no card names yet. Nothing here touches the network.

Card keys read (all optional): ``route`` and ``status`` at card or variant level (the variant's
win), ``paper_method``, ``output_kind``, ``weights``, ``notes``/``title``; a variant may name its
``hub_repos`` (checked in the Hub cache) or describe its ``weights``.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from dpbench.models import ModelInfo, get_model_info, model_infos
from dpbench.models.hub_cache import hub_cache_has
from dpbench.resources import load_toml, resource_dir

log = logging.getLogger(__name__)

COLUMNS = ("name", "output_kind", "route", "status", "weights", "present", "extra", "notes")
#: The columns ``dpbench models`` prints, in order (``present`` is in the status and the JSON).
LIST_COLUMNS = tuple(column for column in COLUMNS if column != "present")
#: Columns wrapped, never cut, when the table is fitted to the terminal: the name, the status
#: (what is missing), where the weights are (or why their look-up failed) and what to install.
WRAP_COLUMNS = ("name", "status", "weights", "extra")
#: The route of families whose route is what they are (cards may say it for the others).
FAMILY_ROUTES = {"hf": "transformers", "predictions": "predictions"}
#: The paper tables whose methods must all be listed (file, table label).
PAPER_TABLES = (("table1_metric_delta1.csv", "Table 1"), ("table2_boundary.csv", "Table 2"),
                ("table3_focal.csv", "Table 3"))
#: Families whose card variants are Hub repositories, with the file that marks one as downloaded.
HUB_MARKERS = {"hf": "config.json", "marigold": "model_index.json"}


def model_rows(include_cards: bool = True) -> list[dict]:
    """One dict per model with the keys of :data:`COLUMNS`.

    ``present`` is True/False when weights were looked for, None when the question does not
    apply (weight-free probes, prediction folders, a family as a whole).
    """
    cards = load_cards()
    rows = [_registry_row(info, cards) for info in model_infos()]
    if include_cards:
        listed = {row["name"] for row in rows}
        rows += [row for row in card_rows(cards) if row["name"] not in listed]
        rows += paper_rows(cards)
    return rows


def load_cards() -> list[tuple[Path, dict]]:
    """The baseline model cards (path, parsed TOML); unreadable cards are skipped with a warning."""
    try:
        folder = resource_dir("baselines") / "models"
    except FileNotFoundError:
        return []
    cards = []
    for path in sorted(folder.glob("*.toml")):
        try:
            cards.append((path, load_toml(path)))
        except ValueError as exc:
            log.warning("skipping model card %s: %s", path, exc)
    return cards


def _missing_modules(info: ModelInfo) -> list[str]:
    """The modules of ``info.requires`` and ``info.extra_modules`` that cannot be imported."""
    return [m for m in dict.fromkeys(info.requires + info.extra_modules)
            if importlib.util.find_spec(m) is None]


def status_of(info: ModelInfo | None, present: bool | None, declared: str | None = None) -> str:
    """``runnable``, ``needs extra <x>`` (or ``needs <module>``), ``weights missing``, or what the
    card declares (``predictions only``, ``not runnable yet``...)."""
    if declared:
        return str(declared)
    if info is not None:
        missing = _missing_modules(info)
        if missing:
            return f"needs extra {info.extra}" if info.extra else f"needs {', '.join(missing)}"
    return "weights missing" if present is False else "runnable"


def _display_name(info: ModelInfo) -> str:
    if not info.family:
        return info.name
    if info.default_arg is not None:
        return f"{info.name}[:<repo>]" if info.name in HUB_MARKERS else f"{info.name}[:<variant>]"
    return f"{info.name}:<...>"


def _registry_row(info: ModelInfo, cards: list[tuple[Path, dict]] = ()) -> dict:
    weights, present = _weights(info)
    return {
        "name": _display_name(info),
        "output_kind": f"from {info.kind_from}" if info.kind_from else info.output_kind,
        "route": FAMILY_ROUTES.get(info.name) or _card_route(info, cards),
        "status": status_of(info, present),
        "weights": weights,
        "present": present,
        "extra": extra_status(info),
        "notes": info.description,
    }


def _card_route(info: ModelInfo, cards) -> str:
    """The route the cards give registry entry ``info``: that of the card named like it or of the
    variant naming it exactly (or its default argument), else of the first variant of its family
    that declares one."""
    exact = {info.name} | ({f"{info.name}:{info.default_arg}"} if info.default_arg else set())
    found = []
    for _, card in cards:
        if card.get("name") == info.name and card.get("route"):  # a native model's own card
            found.append((False, str(card["route"])))
        for variant in card.get("variants", []):
            name = str(variant.get("model", ""))
            route = variant.get("route") or card.get("route")
            if route and (name in exact or name.partition(":")[0] == info.name):
                found.append((name not in exact, str(route)))
    return min(found)[1] if found else "-"


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
    missing = _missing_modules(info)
    if info.extra is None:
        return f"missing: {', '.join(missing)}" if missing else "-"
    if missing:
        return f'{info.extra} (missing: pip install "dpbench[{info.extra}]")'
    return f"{info.extra} (installed)"


def card_rows(cards: list[tuple[Path, dict]] | None = None) -> list[dict]:
    """Rows for the cards' ``[[variants]]`` naming a model of a registered family, and one row per
    card without such a variant (its route and status as the card declares them)."""
    rows = []
    for path, card in load_cards() if cards is None else cards:
        card_name = str(card.get("name", path.stem))
        named = False
        for variant in card.get("variants", []):
            name = variant.get("model")
            if not name:
                continue
            try:
                info, arg = get_model_info(name)
            except Exception as exc:  # a card naming an unknown family: skip it, do not crash
                log.warning("model card %s names %r: %s", path.name, name, exc)
                continue
            named = True
            if name == info.name:  # the registry's own row already describes it
                continue
            weights, present = _variant_weights(variant, info, arg or name)
            route = variant.get("route") or card.get("route") or FAMILY_ROUTES.get(info.name, "-")
            rows.append({
                "name": name,
                "output_kind": variant.get("output_kind", card.get("output_kind", info.output_kind)),
                "route": str(route),
                "status": status_of(info, present, variant.get("status") or card.get("status")),
                "weights": weights,
                "present": present,
                "extra": extra_status(info),
                "notes": f"{card_name}: {variant.get('notes', '')}".rstrip(": "),
            })
        if not named:
            rows.append(_card_only_row(card_name, card))
    return rows


def _variant_weights(variant: dict, info: ModelInfo, repo: str) -> tuple[str, bool | None]:
    """Where a card variant's weights are and whether they are here: its ``hub_repos`` (present
    when every one is in the Hub cache), its ``weights`` text, the Hub repository of a Hub family,
    else the family's own look-up."""
    if variant.get("hub_repos"):
        repos = [str(r) for r in variant["hub_repos"]]
        found = [hub_cache_has(r, "config.json") for r in repos]
        present = None if None in found else all(found)
        return f"Hub cache: {' | '.join(repos)}", present
    if variant.get("weights"):
        return str(variant["weights"]), None
    if info.name in HUB_MARKERS:
        return f"Hub cache: {repo}", hub_cache_has(repo, HUB_MARKERS[info.name])
    return _weights(info)


def _card_only_row(card_name: str, card: dict) -> dict:
    """A card no dpbench model serves (e.g. a focal estimator whose outputs are read as files)."""
    route = str(card.get("route", "-"))
    declared = card.get("status") or ("predictions only" if route == "predictions" else "no dpbench model")
    return {
        "name": card_name,
        "output_kind": str(card.get("output_kind", "-")),
        "route": route,
        "status": str(declared),
        "weights": str(card.get("weights", "-")),
        "present": None,
        "extra": "-",
        "notes": str(card.get("notes") or card.get("title", "")),
    }


def paper_rows(cards: list[tuple[Path, dict]] | None = None) -> list[dict]:
    """One row per method of the paper's Tables 1–3 that no model card names (``paper_method`` or
    card ``name``), so that the listing shows every baseline of the paper."""
    from dpbench.errors import DpbenchError
    from dpbench.report.paper import paper_dir, read_paper_csv

    named: set[str] = set()
    for path, card in load_cards() if cards is None else cards:
        named.update(str(v) for v in (card.get("name"), card.get("paper_method"), path.stem) if v)
        named.update(str(v["paper_method"]) for v in card.get("variants", []) if v.get("paper_method"))
    tables: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    for file_name, label in PAPER_TABLES:
        try:
            rows = read_paper_csv(paper_dir() / file_name)
        except (DpbenchError, FileNotFoundError) as exc:
            log.warning("paper table %s: %s", file_name, exc)
            continue
        for row in rows:
            method = row.get("method_id", "")
            if method and method not in named:
                tables.setdefault(method, [])
                if label not in tables[method]:
                    tables[method].append(label)
                titles.setdefault(method, row.get("method", method))
    return [{"name": method, "output_kind": "-", "route": "-", "status": "no model card",
             "weights": "-", "present": None, "extra": "-",
             "notes": f"{titles[method]}: paper {', '.join(labels)} baseline"}
            for method, labels in tables.items()]
