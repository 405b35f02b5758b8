"""Registry refinements made for the model families: bare family names with a default argument,
clear errors for a family without argument, "did you mean" over every registered name."""

from __future__ import annotations

import pytest

from dpbench.errors import MissingExtraError, UnknownNameError
from dpbench.models import get_model_info, load_model, register_model


@register_model("zzdefault", output_kind="relative_depth", family=True, default_arg="org/base-model",
                kind_from="the argument")
def _zz_default(arg=None, checkpoint=None, device="auto", precision="fp32", **options):
    from dpbench.models.base import DepthModel

    model = DepthModel()
    model.arg = arg
    return model


def test_bare_family_uses_its_default_argument():
    info, arg = get_model_info("zzdefault")
    assert arg == "org/base-model" and info.kind_from == "the argument"
    assert get_model_info("zzdefault:other/model")[1] == "other/model"
    model = load_model("zzdefault")
    assert model.arg == "org/base-model" and model.name == "zzdefault"


def test_family_without_default_needs_an_argument():
    with pytest.raises(ValueError, match=r"model family 'hf' needs an argument: hf:<\.\.\.>"):
        get_model_info("hf")
    with pytest.raises(ValueError, match="needs an argument"):
        get_model_info("predictions:")


def test_unknown_names_suggest_close_ones():
    with pytest.raises(UnknownNameError) as info:
        get_model_info("probe:gt-scal")
    assert "probe:gt-scale" in info.value.suggestions and "Did you mean" in str(info.value)
    with pytest.raises(UnknownNameError) as info:
        get_model_info("marigol")
    assert "marigold" in info.value.suggestions
    with pytest.raises(UnknownNameError):
        get_model_info("hff:Intel/dpt-large")


def test_missing_required_module_is_checked_before_the_factory():
    @register_model("zzneeds", output_kind="metric_depth", extra="zzextra",
                    requires=("dpbench_no_such_module_zz",))
    def factory(**kwargs):
        raise AssertionError("must not be called")

    with pytest.raises(MissingExtraError, match=r'pip install "dpbench\[zzextra\]"'):
        load_model("zzneeds")


def test_bad_options_are_model_option_errors(tmp_path):
    from dpbench.errors import DpbenchError
    from dpbench.models import ModelOptionError

    cases = [
        (lambda: load_model("probe:gt-scale", factor="abc"), "factor must be a positive number, got 'abc'"),
        (lambda: load_model("probe:gt-blur", sigma=-2), "sigma must be a positive number of pixels"),
        (lambda: load_model("probe:gt", colour=1), r"unknown option\(s\) \['colour'\]; accepted: none"),
        (lambda: load_model(f"predictions:{tmp_path}", scale=3),
         r"unknown option\(s\) \['scale'\]; accepted: \['dataset', 'output_kind', 'png_scale', 'resize'\]"),
        (lambda: load_model(f"predictions:{tmp_path}", output_kind="depth"), "output_kind must be one of"),
        (lambda: load_model("hf:some/repo", colour=1), r"hf:some/repo: unknown option\(s\) \['colour'\]"),
        (lambda: get_model_info("hf"), "needs an argument"),
    ]
    for call, message in cases:
        with pytest.raises(ModelOptionError, match=message) as info:
            call()
        # one clean CLI line (DpbenchError) and still a ValueError for library callers
        assert isinstance(info.value, DpbenchError) and isinstance(info.value, ValueError)

