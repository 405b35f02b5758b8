import pytest

from dpbench.datasets import Dataset, get_dataset_class, open_dataset, register_dataset
from dpbench.errors import DatasetError, UnknownNameError
from dpbench.models import get_model_info, register_model


def test_unknown_dataset_suggests_close_names():
    @register_dataset("zz_fake_booster")
    class Fake(Dataset):
        pass

    with pytest.raises(UnknownNameError) as info:
        get_dataset_class("zz_fake_boostr")
    assert "zz_fake_booster" in info.value.suggestions
    assert "Did you mean" in str(info.value)


def test_missing_root_names_layout(tmp_path):
    @register_dataset("zz_fake_layout")
    class Fake(Dataset):
        layout = "<root>/images/*.png"

    with pytest.raises(DatasetError, match=r"images/\*\.png"):
        open_dataset("zz_fake_layout", tmp_path / "nope")


def test_model_family_resolution():
    @register_model("zzfam", output_kind="metric_depth", family=True)
    def factory(arg=None, **kw):
        raise AssertionError

    info, arg = get_model_info("zzfam:some/path:with:colons")
    assert info.name == "zzfam" and arg == "some/path:with:colons"
    with pytest.raises(UnknownNameError):
        get_model_info("zzfamx:abc")
