import numpy as np
import pytest

from dpbench.types import Prediction, Sample


def _image(h=4, w=5):
    return np.zeros((h, w, 3), np.uint8)


def test_sample_accepts_consistent_fields():
    depth = np.full((4, 5), 2.0, np.float64)
    valid = np.ones((4, 5), bool)
    s = Sample("a", _image(), depth=depth, valid=valid, mask=np.zeros((4, 5)), focal_px=100)
    assert s.depth.dtype == np.float32 and s.mask.dtype == np.float32
    assert s.focal_px == 100.0 and (s.height, s.width) == (4, 5)
    assert s.valid_mask().all()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"image": np.zeros((4, 5), np.uint8)}, "image"),
        ({"image": np.zeros((4, 5, 3), np.float32)}, "image"),
        ({"depth": np.ones((3, 5), np.float32)}, "depth"),
        ({"depth": np.ones((4, 5), np.int32)}, "depth"),
        ({"depth": np.full((4, 5), np.inf, np.float32)}, "depth"),
        ({"depth": np.ones((4, 5), np.float32), "valid": np.ones((4, 5), np.uint8)}, "valid"),
        ({"mask": np.full((4, 5), 255.0)}, "mask"),
        ({"focal_px": -3.0}, "focal_px"),
        ({"focal_px": float("nan")}, "focal_px"),
    ],
)
def test_sample_rejects_bad_fields_naming_them(kwargs, field):
    args = {"id": "x", "image": _image(), **kwargs}
    with pytest.raises(ValueError, match=rf"\.{field}:"):
        Sample(**args)


def test_nonfinite_depth_allowed_where_invalid():
    depth = np.ones((4, 5), np.float32)
    depth[0, 0] = np.inf
    valid = np.ones((4, 5), bool)
    valid[0, 0] = False
    s = Sample("x", _image(), depth=depth, valid=valid)
    assert not s.valid_mask()[0, 0] and s.valid_mask().sum() == 19
    valid[0, 0] = True
    with pytest.raises(ValueError, match="depth"):
        Sample("x", _image(), depth=depth, valid=valid)


def test_prediction_casts_and_counts_nonfinite():
    p = Prediction(np.array([[1.0, np.nan], [np.inf, 2.0]]), focal_px=50)
    assert p.depth.dtype == np.float32 and p.nonfinite_count() == 2
    with pytest.raises(ValueError, match="Prediction.depth"):
        Prediction(np.ones((2, 2, 1), np.float32))
