"""ultralytics.data.utils stand-in: the dataset yaml check, without downloads."""

from pathlib import Path

IMG_FORMATS = {"bmp", "jpeg", "jpg", "png", "tif", "tiff", "webp"}


def check_det_dataset(dataset):
    """The yaml's val folder for a path on disk (built-in names would be downloaded: none here)."""
    path = Path(str(dataset))
    if not path.is_file():
        return {"val": []}
    import yaml

    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    root = Path(content.get("path") or path.parent)
    val = content.get("val")
    return {"val": [str(root / val)] if val else []}
