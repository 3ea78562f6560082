from ultralytics.engine.model import YOLO

__all__ = ("YOLO",)
