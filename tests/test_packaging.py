"""The wheel must ship every code package and the data folders (pyproject lists them explicitly)."""

from pathlib import Path

from dpbench.resources import load_toml

ROOT = Path(__file__).resolve().parents[1]


def test_every_code_package_is_listed_in_pyproject():
    config = load_toml(ROOT / "pyproject.toml")["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "dpbench").rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_every_data_folder_is_mapped_into_the_package():
    config = load_toml(ROOT / "pyproject.toml")["tool"]["setuptools"]
    mapped = set(config["package-dir"].values())
    data_dirs = {
        str(path.relative_to(ROOT))
        for top in ("datasets", "baselines")
        for path in [ROOT / top, *(p for p in (ROOT / top).rglob("*") if p.is_dir())]
    }
    assert data_dirs <= mapped, f"add to [tool.setuptools.package-dir]: {sorted(data_dirs - mapped)}"
    suffixes = {p.suffix for top in ("datasets", "baselines") for p in (ROOT / top).rglob("*") if p.is_file()}
    patterns = {pattern for patterns in config["package-data"].values() for pattern in patterns}
    assert {f"*{suffix}" for suffix in suffixes} <= patterns
