"""A real check of the exported ONNX model before it is released (issue 8, item 8).

The exported file is run in ONNX Runtime on a few validation images and compared with the
PyTorch weights it was exported from: output shapes, the largest difference of the raw outputs,
and the detections after NMS. The result is the run record's `onnxExport` object; a mismatch
blocks the release, with the reason in `check.reason`. It also records what an edge box needs to
refuse a model its runtime cannot run: the opset and the input and output shapes.

ultralytics 8.3.40 exports detection models without NMS in the graph (`nms` is always false):
the output is the raw [1, 4 + classes, anchors] tensor (box centre x, y, width, height in input
pixels, then one score per class), and edge boxes must run NMS themselves.

Where ONNX Runtime comes from: the Python package `onnxruntime` in the process (the training
image pins it in docker/requirements.txt); without it, the command named by
YOLO_TRAIN_ONNX_RUNNER (tests: docker/tests/onnxruntime_node_runner.js, the same ONNX Runtime
from npm, because CI cannot install the Python package); without either the check fails.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence, Union

import numpy as np

RUNNER_ENV = "YOLO_TRAIN_ONNX_RUNNER"
RUNTIME_NAME = "onnxruntime"
NO_RUNTIME_REASON = "no ONNX runtime to check the export with (install onnxruntime==1.20.1)"

# The raw outputs are float32 from different kernels (ONNX Runtime's CPU kernels against PyTorch's,
# on a GPU for a GPU run), so they differ in the last bits, and those rounding errors grow with
# the magnitude of the numbers. Each part of the output is therefore compared against 1e-3 times
# its own largest value (at least 1): at imgsz 640 that lets box coordinates (pixels, up to about
# 640) differ by 0.64 px and class scores (0..1) by 0.001. Honest exports differ by orders of
# magnitude less (about 1e-4 px and 1e-7 in score on CPU); wrong weights, a different input size
# or preprocessing, or a broken operator move boxes by pixels and scores by tenths.
RELATIVE_TOLERANCE = 1e-3
BOX_ROWS = 4  # rows 0-3 of a detection output are the box; the rest are class scores

# Detections are compared as ultralytics' predictor makes them by default (conf 0.25, NMS IoU 0.7,
# at most 300 per image), which is what an edge box that follows ultralytics reports. The val
# threshold 0.001 would compare hundreds of near-zero, near-tied boxes per image whose order fp32
# noise can swap, and would block releases for differences nobody sees.
CONF_THRESHOLD = 0.25
NMS_IOU_THRESHOLD = 0.7
MAX_DETECTIONS = 300
# A PyTorch detection is matched by an ONNX one of the same class whose box overlaps it with
# IoU >= 0.9: a box that is 100 px wide may move by about 5 px, far more than rounding moves it,
# far less than a different model does.
MATCH_IOU = 0.9
# NMS has two thresholds at which a rounding-sized difference flips a decision; a detection left
# without a partner only because of such a flip is not counted as a mismatch. Its score is within
# SCORE_MARGIN of CONF_THRESHOLD, or a higher-scored detection of its class on its own side overlaps
# it within IOU_MARGIN of NMS_IOU_THRESHOLD (it was just kept here and just suppressed there). Both
# margins are over 50 times what honest exports move scores (< 1e-4) and IoUs (< 1e-4) by.
SCORE_MARGIN = 0.005
IOU_MARGIN = 0.01

RUNNER_TIMEOUT_SECONDS = 600

Device = Union[str, int, Sequence[int], None]


# --- Simplification -----------------------------------------------------------------------------


def onnxslim_available() -> bool:
    """Whether the exporter can simplify: ultralytics 8.3.40 imports onnxslim inside a try and, when
    that fails, logs "simplifier failure" and saves the graph unsimplified."""
    try:
        importlib.import_module("onnxslim")
    except Exception:  # ImportError, or a broken install failing while it imports
        return False
    return True


@dataclass
class SimplifierWatch:
    """Filled in by `watching_onnxslim`: whether onnxslim.slim ran to the end during the export."""

    simplified: bool = False


@contextmanager
def watching_onnxslim() -> Iterator[SimplifierWatch]:
    """Wrap ultralytics' ONNX export in this to learn whether the graph was really simplified.

    The exporter (8.3.40, export_onnx) calls `onnxslim.slim(model)` inside a try and goes on with
    the unsimplified graph on any exception, leaving only a log line. `onnxslim_available()` sees a
    missing package; this also sees slim failing, by wrapping onnxslim.slim for the duration.
    """
    watch = SimplifierWatch()
    try:
        onnxslim = importlib.import_module("onnxslim")
    except Exception:
        yield watch  # the exporter cannot import it either: nothing will be simplified
        return
    original = onnxslim.slim

    def slim_and_record(*args: Any, **kwargs: Any) -> Any:
        slimmed = original(*args, **kwargs)
        watch.simplified = True
        return slimmed

    onnxslim.slim = slim_and_record
    try:
        yield watch
    finally:
        onnxslim.slim = original


# --- Validation images --------------------------------------------------------------------------


def validation_images(data: str | Path, count: int = 4) -> list[Path]:
    """`count` images of the dataset's `val` split, spread evenly over it, in a stable order.

    `data` is what training was given: a data.yaml path (the trainer's `<workdir>/data.yaml` for a
    mounted dataset) or a builtin name such as `coco8.yaml`. It is resolved the way ultralytics'
    check_det_dataset resolves it (a relative `path:` under ultralytics' datasets folder, `val` a
    folder, a .txt list of images, an image, or a list of those), without its side effects: the
    dataset was downloaded for training already, and nothing is fetched here. [] when none are found.
    """
    import yaml
    from ultralytics.data.utils import IMG_FORMATS
    from ultralytics.utils import DATASETS_DIR
    from ultralytics.utils.checks import check_file

    yaml_file = Path(check_file(str(data), hard=False) or str(data))
    if not yaml_file.is_file():
        return []
    config = yaml.safe_load(yaml_file.read_text(encoding="utf-8")) or {}
    root = Path(str(config.get("path") or yaml_file.parent))
    if not root.is_absolute():
        root = (DATASETS_DIR / root).resolve()
    entries = config.get("val") or config.get("validation") or []
    files: list[Path] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        source = (root / str(entry)).resolve()
        if not source.exists() and str(entry).startswith("../"):
            source = (root / str(entry)[3:]).resolve()  # as check_det_dataset retries it
        files += _images_of(source, IMG_FORMATS)
    files = sorted(set(files))
    if len(files) <= count:
        return files
    return [files[i * len(files) // count] for i in range(count)]


def _images_of(source: Path, formats: set[str]) -> list[Path]:
    if source.is_dir():
        return [p for p in source.rglob("*") if p.suffix[1:].lower() in formats]
    if source.suffix == ".txt" and source.is_file():
        lines = [line.strip() for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
        # ultralytics reads "./x.jpg" in a list file as relative to the list's folder.
        return [source.parent / line[2:] if line.startswith("./") else Path(line) for line in lines]
    return [source] if source.is_file() else []


# --- The check ----------------------------------------------------------------------------------


def check_export(
    weights: Path,
    onnx: Path,
    images: Sequence[Path],
    imgsz: int,
    device: Device,
    opset: int,
    *,
    simplified: bool | None = None,
) -> dict[str, Any]:
    """The run record's `onnxExport` object for `onnx`, exported from `weights` at `imgsz`×`imgsz`.

    `device` is the run's ultralytics device ("cpu", 0, or GPU indices): PyTorch runs on it (the
    first GPU of several). `opset` is the opset the export asked for. `simplified` is what
    `watching_onnxslim` saw during the export; without it, whether onnxslim can be imported here.

    Returns `check.passed` false with a one-sentence `check.reason` when the export does not match
    the weights or no ONNX runtime is available; only a bug raises. What a failed check did not get
    to know is null (opset and shapes of an unreadable file; runtimeVersion, maxAbsDiff, tolerance,
    detections), and `images` is 0 before any image ran.
    """
    try:
        graph = describe_graph(onnx)
    except Exception as error:  # a missing, truncated or foreign file is a failed export, not a bug here
        return _failed(_new_record(None, simplified), f"the ONNX file {onnx} cannot be read: {_first_line(str(error))}")
    record = _new_record(graph, simplified)
    check = record["check"]

    expected_input = [1, 3, imgsz, imgsz]
    if graph.opset != opset:
        return _failed(record, f"the ONNX model has opset {graph.opset}, but the export asked for opset {opset}")
    if graph.input_shape != expected_input:
        return _failed(record, f"the ONNX model's input is {graph.input_shape}, but the model was trained and evaluated at {expected_input}")

    runtime = find_runtime()
    if runtime is None:
        return _failed(record, NO_RUNTIME_REASON)
    check["runtimeVersion"] = runtime.version
    if not images:
        return _failed(record, "no validation images were found to compare the models on")
    inputs = [tensor for tensor in (letterboxed(path, imgsz) for path in images) if tensor is not None]
    if not inputs:
        return _failed(record, f"none of the {len(images)} validation images could be read, so nothing was compared")
    check["images"] = len(inputs)

    try:
        version, onnx_outputs = runtime.run(onnx, graph.input_name, inputs)
    except RuntimeFailure as failure:
        check["runtimeVersion"] = failure.version
        runtime_name = f"{RUNTIME_NAME} {failure.version}" if failure.version else RUNTIME_NAME
        return _failed(record, f"{runtime_name} could not run the ONNX model: {failure.detail}")
    check["runtimeVersion"] = version
    return _compare(record, pytorch_outputs(weights, inputs, device), onnx_outputs)


def unchecked_export(reason: str, simplified: bool | None) -> dict[str, Any]:
    """The onnxExport object of an export the check never got to look at, and why."""
    return _failed(_new_record(None, simplified), reason)


def _new_record(graph: GraphFacts | None, simplified: bool | None) -> dict[str, Any]:
    """The onnxExport object before the comparison: what is not known yet is null."""
    return {
        "opset": graph.opset if graph else None,
        "inputShape": graph.input_shape if graph else None,
        "outputShape": graph.output_shape if graph else None,
        "simplified": onnxslim_available() if simplified is None else simplified,
        # ultralytics 8.3.40 exports detection models without NMS in the graph: edge boxes must run it.
        "nms": False,
        "check": {
            "passed": False,
            "runtime": RUNTIME_NAME,
            "runtimeVersion": None,
            "images": 0,
            "maxAbsDiff": None,
            "tolerance": None,
            "detections": None,
        },
    }


def _compare(record: dict[str, Any], torch_outputs: list[np.ndarray], onnx_outputs: list[np.ndarray]) -> dict[str, Any]:
    check = record["check"]
    for torch_output, onnx_output in zip(torch_outputs, onnx_outputs):
        if torch_output.shape != onnx_output.shape:
            return _failed(record, f"ONNX Runtime's output has shape {list(onnx_output.shape)}, PyTorch's {list(torch_output.shape)}")
    reference, candidate = np.concatenate(torch_outputs), np.concatenate(onnx_outputs)
    whole = part_difference("whole output", reference, candidate)
    check["maxAbsDiff"] = _rounded(whole.max_abs_diff)
    check["tolerance"] = _rounded(whole.tolerance)
    matching = match_detections(detections_after_nms(reference), detections_after_nms(candidate))
    check["detections"] = {"pytorch": matching.reference, "onnx": matching.candidate, "matched": matching.matched}

    # The parts are checked each against its own tolerance; the whole output's numbers are recorded.
    worst = max(output_parts(reference, candidate), key=lambda part: part.share_of_tolerance)
    if not np.isfinite(worst.max_abs_diff):
        return _failed(record, f"the {worst.part} in ONNX Runtime's output hold NaN or infinity where PyTorch's do not")
    if not worst.within_tolerance:
        return _failed(
            record, f"the {worst.part} in ONNX Runtime's output differ from PyTorch's by up to {worst.max_abs_diff:.3g} (tolerance {worst.tolerance:.3g})"
        )
    if not matching.passed:
        return _failed(
            record,
            f"after NMS (conf {CONF_THRESHOLD}, IoU {NMS_IOU_THRESHOLD}) PyTorch found {matching.reference} detections and "
            f"ONNX Runtime {matching.candidate}, of which only {matching.matched} match (same class, box IoU >= {MATCH_IOU})",
        )
    check["passed"] = True
    return record


def _failed(record: dict[str, Any], reason: str) -> dict[str, Any]:
    record["check"]["passed"] = False
    record["check"]["reason"] = reason
    return record


def _rounded(value: float) -> float | None:
    # Three significant digits say all there is to say (rounding keeps a <= b); JSON has no infinity.
    return float(f"{value:.3g}") if np.isfinite(value) else None


# --- The ONNX file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphFacts:
    opset: int | None
    input_name: str
    input_shape: list[int | str | None]
    output_shape: list[int | str | None]


def describe_graph(onnx: Path) -> GraphFacts:
    """Opset (of the default ONNX domain) and the first input's and output's declared shapes; a
    symbolic dimension (a dynamic export) is its name."""
    import onnx as onnx_lib

    model = onnx_lib.load(str(onnx), load_external_data=False)
    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)
    initializers = {initializer.name for initializer in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    return GraphFacts(
        opset=int(opset) if opset is not None else None,
        input_name=inputs[0].name,
        input_shape=_declared_shape(inputs[0]),
        output_shape=_declared_shape(model.graph.output[0]),
    )


def _declared_shape(value: Any) -> list[int | str | None]:
    dims = value.type.tensor_type.shape.dim
    return [int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or None) for d in dims]


# --- Inputs, as ultralytics' predictor prepares them ---------------------------------------------


def letterboxed(image_path: Path, imgsz: int) -> np.ndarray | None:
    """The [1, 3, imgsz, imgsz] float32 tensor ultralytics' predictor feeds a static-size model
    (BasePredictor.preprocess): letterboxed without stride rounding, BGR to RGB, CHW, 0..1.
    None for a file OpenCV cannot read (training skips such images too)."""
    import cv2
    from ultralytics.data.augment import LetterBox

    image = cv2.imread(str(image_path))  # BGR, 3 channels, as ultralytics loads images
    if image is None:
        return None
    boxed = LetterBox((imgsz, imgsz), auto=False)(image=image)
    chw = np.ascontiguousarray(boxed[..., ::-1].transpose(2, 0, 1))
    return (chw.astype(np.float32) / 255.0)[None]


# --- PyTorch ------------------------------------------------------------------------------------


def pytorch_outputs(weights: Path, inputs: list[np.ndarray], device: Device) -> list[np.ndarray]:
    """The raw detection output of the weights for each input: fused, eval, float32, as exported."""
    import torch
    from ultralytics.nn.tasks import attempt_load_one_weight

    target = reference_device(device)
    model, _ = attempt_load_one_weight(str(weights), device=target, fuse=True)
    outputs = []
    with torch.inference_mode(), full_float32():
        for tensor in inputs:
            prediction = model(torch.from_numpy(tensor).to(target))
            # In eval mode Detect returns (output, feature maps); the export returns the output only.
            prediction = prediction[0] if isinstance(prediction, (list, tuple)) else prediction
            outputs.append(prediction.float().cpu().numpy())
    return outputs


def reference_device(device: Device) -> Any:
    """The torch device for an ultralytics device value; the first GPU of several."""
    import torch

    if isinstance(device, (list, tuple)):
        device = device[0] if device else None
    text = str(device).strip().lower().replace("cuda:", "") if device is not None else ""
    text = text.split(",")[0].strip()
    if text == "cpu":
        return torch.device("cpu")
    if text == "":  # ultralytics' "pick for me"
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    if text.isdigit():
        # ultralytics' select_device may have narrowed CUDA_VISIBLE_DEVICES to the run's GPUs, which
        # renumbers them from 0; any of the node's identical GPUs gives the same numbers.
        index = int(text)
        return torch.device("cuda", index if index < torch.cuda.device_count() else 0)
    return torch.device(text)  # "mps"


@contextmanager
def full_float32() -> Iterator[None]:
    """PyTorch convolutions on Ampere and newer GPUs default to TF32 (10-bit mantissa), which alone
    moves boxes by more than the tolerance; the reference must be plain float32 like the export."""
    import torch

    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


# --- ONNX Runtime -------------------------------------------------------------------------------


class RuntimeFailure(Exception):
    """ONNX Runtime could not load or run the model: the export is unusable, not a bug here."""

    def __init__(self, detail: str, version: str | None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.version = version


class InProcessRuntime:
    """The Python package onnxruntime, as the training image has it."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.version: str | None = str(module.__version__)

    def run(self, onnx: Path, input_name: str, inputs: list[np.ndarray]) -> tuple[str, list[np.ndarray]]:
        version = str(self.module.__version__)
        try:
            # CPU: the provider every edge box has, and float32 without TF32 or fp16 shortcuts.
            session = self.module.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
            return version, [np.asarray(session.run(None, {input_name: tensor})[0], dtype=np.float32) for tensor in inputs]
        except Exception as error:  # onnxruntime raises its own exception types for invalid graphs
            raise RuntimeFailure(_first_line(str(error)), version) from error


class CommandRuntime:
    """ONNX Runtime behind a command (YOLO_TRAIN_ONNX_RUNNER), fed through files: see
    docker/tests/onnxruntime_node_runner.js for the request and response it reads and writes."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.version: str | None = None  # the command reports it with its outputs

    def run(self, onnx: Path, input_name: str, inputs: list[np.ndarray]) -> tuple[str, list[np.ndarray]]:
        with tempfile.TemporaryDirectory(prefix="onnx-check-") as folder:
            work = Path(folder)
            request = {"model": str(Path(onnx).resolve()), "response": str(work / "response.json"), "runs": []}
            for index, tensor in enumerate(inputs):
                file = work / f"input-{index}.f32"
                file.write_bytes(np.ascontiguousarray(tensor, dtype="<f4").tobytes())
                request["runs"].append({"inputs": [{"name": input_name, "shape": list(tensor.shape), "file": str(file)}]})
            (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
            shown = shlex.join(self.command)
            try:
                finished = subprocess.run(
                    [*self.command, str(work / "request.json")], capture_output=True, text=True, timeout=RUNNER_TIMEOUT_SECONDS
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                raise RuntimeFailure(f"`{shown}` did not run ({_first_line(str(error))})", None) from error
            if finished.returncode != 0 or not (work / "response.json").is_file():
                message = _last_line(finished.stderr) or f"exit status {finished.returncode}"
                raise RuntimeFailure(f"`{shown}` failed ({message})", None)
            response = json.loads((work / "response.json").read_text(encoding="utf-8"))
            outputs = [_read_float32(run["outputs"][0]) for run in response["runs"]]
            return str(response["version"]), outputs


def _read_float32(output: dict[str, Any]) -> np.ndarray:
    return np.fromfile(output["file"], dtype="<f4").astype(np.float32).reshape(output["shape"])


def find_runtime() -> InProcessRuntime | CommandRuntime | None:
    """onnxruntime in this process if it imports, else the YOLO_TRAIN_ONNX_RUNNER command, else None."""
    try:
        return InProcessRuntime(importlib.import_module("onnxruntime"))
    except ImportError:
        pass
    command = os.environ.get(RUNNER_ENV, "").strip()
    return CommandRuntime(shlex.split(command)) if command else None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no message").rstrip(".")


def _last_line(text: str) -> str:
    return next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "").rstrip(".")


# --- Comparison ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartDifference:
    part: str
    max_abs_diff: float
    tolerance: float

    @property
    def within_tolerance(self) -> bool:
        return bool(self.max_abs_diff <= self.tolerance)

    @property
    def share_of_tolerance(self) -> float:
        return self.max_abs_diff / self.tolerance


def output_parts(reference: np.ndarray, candidate: np.ndarray) -> list[PartDifference]:
    """The box coordinates and the class scores, each against its own magnitude (RELATIVE_TOLERANCE):
    the whole output's tolerance is set by the boxes, in pixels, and would let scores (0..1) drift."""
    parts = [("box coordinates", slice(0, BOX_ROWS)), ("class scores", slice(BOX_ROWS, None))]
    return [part_difference(name, reference[:, rows], candidate[:, rows]) for name, rows in parts if reference[:, rows].size]


def part_difference(name: str, reference: np.ndarray, candidate: np.ndarray) -> PartDifference:
    """The largest absolute difference, and RELATIVE_TOLERANCE times the largest magnitude (at least
    1); a NaN or infinity on one side only is an infinite difference."""
    same = (reference == candidate) | (np.isnan(reference) & np.isnan(candidate))
    with np.errstate(invalid="ignore"):
        difference = np.where(same, 0.0, np.abs(reference.astype(np.float64) - candidate))
    difference[np.isnan(difference)] = np.inf
    finite = np.abs(reference[np.isfinite(reference)])
    magnitude = max(1.0, float(finite.max()) if finite.size else 1.0)
    return PartDifference(name, float(difference.max()), RELATIVE_TOLERANCE * magnitude)


def detections_after_nms(outputs: np.ndarray) -> list[np.ndarray]:
    """Per image, rows of [x1, y1, x2, y2, score, class] from ultralytics' own NMS."""
    import torch
    from ultralytics.utils.ops import non_max_suppression

    # NMS converts boxes in place; each side gets its own copy.
    kept = non_max_suppression(
        torch.from_numpy(np.nan_to_num(outputs.copy())), conf_thres=CONF_THRESHOLD, iou_thres=NMS_IOU_THRESHOLD, max_det=MAX_DETECTIONS
    )
    return [boxes.cpu().numpy() for boxes in kept]


@dataclass(frozen=True)
class DetectionMatching:
    reference: int
    candidate: int
    matched: int
    unexplained: int  # unmatched detections that no NMS threshold flip explains

    @property
    def passed(self) -> bool:
        return self.unexplained == 0


def match_detections(reference: list[np.ndarray], candidate: list[np.ndarray]) -> DetectionMatching:
    """Matches each image's detections (rows of x1, y1, x2, y2, score, class) across the runtimes."""
    totals = [0, 0, 0, 0]
    for wanted, found in zip(reference, candidate):
        matched, unmatched_wanted, unmatched_found = _match_image(wanted, found)
        unexplained = sum(not _at_a_threshold(row, wanted) for row in unmatched_wanted) + sum(
            not _at_a_threshold(row, found) for row in unmatched_found
        )
        for i, count in enumerate((len(wanted), len(found), matched, unexplained)):
            totals[i] += count
    return DetectionMatching(*totals)


def _at_a_threshold(detection: np.ndarray, same_side: np.ndarray) -> bool:
    """Whether a rounding-sized difference could have dropped `detection` on the other side."""
    if detection[4] < CONF_THRESHOLD + SCORE_MARGIN:
        return True
    stronger = same_side[(same_side[:, 5] == detection[5]) & (same_side[:, 4] > detection[4])]
    return bool(stronger.size) and bool((_iou(detection[:4], stronger[:, :4]) >= NMS_IOU_THRESHOLD - IOU_MARGIN).any())


def _match_image(wanted: np.ndarray, found: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Greedy, best score first: each wanted detection takes the unused found detection of its class
    with the highest IoU, if that IoU reaches MATCH_IOU. Returns the count and the leftovers."""
    used = np.zeros(len(found), dtype=bool)
    unmatched = []
    for index in np.argsort(-wanted[:, 4], kind="stable"):
        detection = wanted[index]
        candidates = np.flatnonzero(~used & (found[:, 5] == detection[5]))
        overlaps = _iou(detection[:4], found[candidates, :4]) if candidates.size else np.zeros(0)
        if overlaps.size and overlaps.max() >= MATCH_IOU:
            used[candidates[int(overlaps.argmax())]] = True
        else:
            unmatched.append(index)
    return int(used.sum()), wanted[unmatched].reshape(-1, 6), found[~used].reshape(-1, 6)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:], boxes[:, 2:])
    intersection = np.clip(bottom_right - top_left, 0, None).prod(axis=1)
    union = _area(box) + _area(boxes) - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)
