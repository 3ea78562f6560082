"""A tiny detection dataset and a starting checkpoint, made on the spot (nothing is downloaded).

Images are plain backgrounds with filled shapes in three colours, one class per colour, with the
YOLO label of each shape (class, centre x/y, width, height, all relative). Deterministic for a
given seed, so two nodes of one test see the same files.
"""

from __future__ import annotations

import random
from pathlib import Path

CLASS_NAMES = ("red-box", "green-disc", "blue-box")
COLOURS = ((220, 40, 40), (40, 200, 60), (50, 70, 230))  # RGB per class


def write_dataset(root: Path, *, train: int = 24, val: int = 8, size: int = 64, seed: int = 0) -> Path:
    """Writes images/{train,val}, labels/{train,val} and data.yaml (path: .) under root; returns data.yaml."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    for split, count in (("train", train), ("val", val)):
        images = root / "images" / split
        labels = root / "labels" / split
        images.mkdir(parents=True, exist_ok=True)
        labels.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            grey = rng.randint(90, 170)
            image = Image.new("RGB", (size, size), (grey, grey, grey))
            draw = ImageDraw.Draw(image)
            lines = []
            for _ in range(rng.randint(1, 3)):
                cls = rng.randrange(len(CLASS_NAMES))
                w = rng.randint(size // 5, size // 2)
                h = w if cls == 1 else rng.randint(size // 5, size // 2)
                x0 = rng.randint(0, size - w)
                y0 = rng.randint(0, size - h)
                box = (x0, y0, x0 + w - 1, y0 + h - 1)
                (draw.ellipse if cls == 1 else draw.rectangle)(box, fill=COLOURS[cls])
                lines.append(f"{cls} {(x0 + w / 2) / size:.6f} {(y0 + h / 2) / size:.6f} {w / size:.6f} {h / size:.6f}")
            image.save(images / f"{split}-{i:04d}.jpg", quality=95)
            (labels / f"{split}-{i:04d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(CLASS_NAMES))
    data_yaml = root / "data.yaml"
    data_yaml.write_text(f"path: .\ntrain: images/train\nval: images/val\nnames:\n{names}\n", encoding="utf-8")
    return data_yaml


def write_starting_checkpoint(path: Path, *, config: str = "yolov8n.yaml") -> Path:
    """An untrained checkpoint built from ultralytics' own model config, saved as a weights file."""
    import torch
    from ultralytics import YOLO, __version__

    path.parent.mkdir(parents=True, exist_ok=True)
    # What ultralytics' own weights files hold (engine/trainer.py save_model), minus the training
    # state: a model built from a yaml has no checkpoint for YOLO(...).save to copy.
    torch.save({"model": YOLO(config).model, "train_args": {}, "epoch": -1, "version": __version__}, path)
    return path


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1])
    print(write_dataset(target / "dataset"))
    print(write_starting_checkpoint(target / "weights" / "start.pt"))
