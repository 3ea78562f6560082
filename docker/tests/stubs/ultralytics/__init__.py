"""Stand-in for ultralytics 8.3.40 (see ../README.md): the surface train.py uses, no network, no GPU."""

__version__ = "8.3.40"

from ultralytics.models import YOLO  # noqa: E402
from ultralytics.utils import SETTINGS  # noqa: E402

settings = SETTINGS
__all__ = ("__version__", "YOLO", "settings")
