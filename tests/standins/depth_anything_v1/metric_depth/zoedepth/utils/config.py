"""Stand-in of upstream's ``zoedepth/utils/config.py``: ``get_config(model_name, mode, dataset,
**overwrite)`` with upstream's merge order (the dataset's config under the model's) and the two
dataset entries that decide the head's ``max_depth`` (nyu 10 m, kitti 80 m)."""

DATASETS_CONFIG = {
    "nyu": {"dataset": "nyu", "min_depth": 1e-3, "max_depth": 10, "max_depth_eval": 10},
    "kitti": {"dataset": "kitti", "min_depth": 0.001, "max_depth": 80, "max_depth_eval": 80},
}
MODEL_CONFIG = {"name": "ZoeDepth", "version_name": "v1", "img_size": [392, 518]}
MODE_CONFIG = {"infer": {"force_keep_ar": True}, "eval": {}, "train": {}}


class EasyDict(dict):
    """Attribute access like upstream's easydict."""

    __getattr__ = dict.__getitem__

    def __setattr__(self, key, value):
        self[key] = value


def get_config(model_name, mode="train", dataset=None, **overwrite_kwargs):
    if model_name not in ("zoedepth", "zoedepth_nk"):
        raise ValueError(f"Model {model_name} not in supported choices")
    if mode not in ("train", "infer", "eval"):
        raise ValueError(f"Mode {mode} not in supported choices")
    config = {**MODEL_CONFIG, **MODE_CONFIG[mode], **overwrite_kwargs}
    if dataset is not None:
        config["dataset"] = dataset
        config = {**DATASETS_CONFIG[dataset], **config}
    config["model"] = model_name
    return EasyDict(config)
