"""The check of the exported ONNX model (docker/trainer/onnx_check.py), with the real things.

Real ultralytics 8.3.40 builds and exports the model, real PyTorch runs it, and a real ONNX
Runtime 1.20.1 runs the export: the Python package where it is installed, else the command in
YOLO_TRAIN_ONNX_RUNNER (default here: docker/tests/onnxruntime_node_runner.js with the npm package
onnxruntime-node, which CI has). Nothing is downloaded: the images come from synthetic.py and the
models are built from ultralytics' own yolov8n.yaml.

Run from the repository root (Debian's CPU PyTorch is /usr/bin/python3):
  PYTHONPATH=<ultralytics 8.3.40> /usr/bin/python3 -m unittest discover -s docker/tests/real -p 'test_onnx_check.py' -v
test/docker/onnxCheck.test.ts runs it the same way under jest.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np

HERE = Path(__file__).resolve().parent
DOCKER = HERE.parents[1]
REPOSITORY = DOCKER.parent
NODE_RUNNER = DOCKER / "tests" / "onnxruntime_node_runner.js"
sys.path[:0] = [str(HERE), str(DOCKER)]

from synthetic import CLASS_NAMES, write_dataset  # noqa: E402
from trainer import onnx_check  # noqa: E402
from trainer.onnx_check import check_export, onnxslim_available, validation_images, watching_onnxslim  # noqa: E402

IMGSZ = 64
OPSET = 17
# 4 box rows + 3 class rows; 8x8 + 4x4 + 2x2 anchors at imgsz 64.
OUTPUT_SHAPE = [1, 7, 84]


def lively_checkpoint(path: Path, seed: int, calibration_images: list[Path]) -> Path:
    """An untrained yolov8n for the dataset's 3 classes whose outputs depend on the image, like a
    trained model's, saved as ultralytics saves weights (see synthetic.write_starting_checkpoint).

    Straight from its yaml, yolov8n's activations shrink layer by layer to about 1e-7 (its batch
    norms hold their initial statistics), so every image gives the same output and two seeds give
    practically the same model. Re-estimating the batch-norm statistics on the images (no training)
    brings the activations back to scale; the check's images must be among them, or their deepest
    features can blow up and saturate the scores at exactly 1.0. Then the head's last convolutions
    are scaled to give logits of spread 1, and a class bias of -3 instead of about -10 leaves a few
    detections per image above conf 0.25, with scores spread out rather than tied.
    """
    import torch
    from ultralytics import __version__
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(seed)
    model = DetectionModel("yolov8n.yaml", nc=len(CLASS_NAMES), verbose=False)
    batch = torch.from_numpy(np.concatenate([onnx_check.letterboxed(image, IMGSZ) for image in calibration_images]))
    for norm in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        norm.reset_running_stats()
        norm.momentum = None  # a plain average over what it sees
    with torch.no_grad():
        model.train()
        model(batch)
        model.eval()
        detect = model.model[-1]
        for last in [branch[-1] for branch in (*detect.cv2, *detect.cv3)]:
            last.weight.mul_(1.0 / _output_spread(model, last, batch))
        for branch in detect.cv3:  # class scores
            branch[-1].bias.fill_(-3.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": {}, "epoch": -1, "version": __version__}, path)
    return path


def _output_spread(model, layer, batch) -> float:  # noqa: ANN001 - torch modules and tensors
    """The standard deviation of `layer`'s output, less its bias, over `batch`."""
    seen = []
    handle = layer.register_forward_hook(lambda _module, _inputs, output: seen.append(output - layer.bias.view(1, -1, 1, 1)))
    try:
        model(batch)
    finally:
        handle.remove()
    return float(seen[0].std())


def with_absolute_path(data_yaml: Path) -> Path:
    """The data.yaml as the trainer hands it on (docs/node-runtime.md): `path:` made absolute."""
    text = data_yaml.read_text(encoding="utf-8").replace("path: .\n", f"path: {data_yaml.parent}\n", 1)
    data_yaml.write_text(text, encoding="utf-8")
    return data_yaml


def wide_copy(image: Path, target: Path) -> Path:
    """A 64x40 crop, so one image goes through letterboxing with padding, not just a resize."""
    from PIL import Image

    with Image.open(image) as whole:
        whole.crop((0, 12, 64, 52)).save(target, quality=95)
    return target


class Fixtures:
    root: Path
    data_yaml: Path
    images: list[Path]
    weights: Path
    other_weights: Path
    onnx: Path
    simplified_during_export: bool


fixtures = Fixtures()


def setUpModule() -> None:
    use_node_runner_where_no_python_runtime()
    fixtures.root = Path(tempfile.mkdtemp(prefix="yolo-train-onnx-check-"))
    fixtures.data_yaml = with_absolute_path(write_dataset(fixtures.root / "dataset", train=16, val=8))
    all_images = sorted((fixtures.root / "dataset" / "images").rglob("*.jpg"))
    wide = wide_copy(all_images[0], fixtures.root / "wide.jpg")
    fixtures.images = validation_images(fixtures.data_yaml, 3) + [wide]
    fixtures.weights = lively_checkpoint(fixtures.root / "weights" / "best.pt", 0, all_images + [wide])
    fixtures.other_weights = lively_checkpoint(fixtures.root / "other" / "best.pt", 1, all_images + [wide])

    from ultralytics import YOLO

    with watching_onnxslim() as watch:
        exported = YOLO(str(fixtures.weights)).export(
            format="onnx", imgsz=IMGSZ, opset=OPSET, simplify=True, dynamic=False, batch=1, device="cpu"
        )
    fixtures.onnx = Path(str(exported))
    fixtures.simplified_during_export = watch.simplified


def tearDownModule() -> None:
    shutil.rmtree(fixtures.root, ignore_errors=True)


def use_node_runner_where_no_python_runtime() -> None:
    """Without the Python onnxruntime and without a runner chosen outside, the npm one if installed."""
    if onnx_check.find_runtime() is not None:
        return
    if shutil.which("node") and (REPOSITORY / "node_modules" / "onnxruntime-node").is_dir():
        os.environ[onnx_check.RUNNER_ENV] = f"node {shlex.quote(str(NODE_RUNNER))}"


def require_a_runtime(test: unittest.TestCase) -> None:
    if onnx_check.find_runtime() is not None:
        return
    reason = f"no ONNX Runtime here: install onnxruntime==1.20.1 for Python, or run `npm ci` for {NODE_RUNNER.name}"
    if os.environ.get("CI") == "true":
        test.fail(reason)
    test.skipTest(reason)


def check(**overrides: object) -> dict:
    arguments: dict = {
        "weights": fixtures.weights,
        "onnx": fixtures.onnx,
        "images": fixtures.images,
        "imgsz": IMGSZ,
        "device": "cpu",
        "opset": OPSET,
        "simplified": fixtures.simplified_during_export,
    }
    arguments.update(overrides)
    record = check_export(**arguments)
    # The record goes into result.json as strict JSON.
    json.dumps(record, allow_nan=False)
    return record


_honest: list[dict] = []


def honest_check() -> dict:
    """check() of the honest export, run once for the tests that read it."""
    if not _honest:
        _honest.append(check())
    return _honest[0]


def without_python_onnxruntime():  # noqa: ANN201 - a patch context
    """`import onnxruntime` fails inside, as where the package is not installed."""
    return mock.patch.dict(sys.modules, {"onnxruntime": None})


class HonestExportTest(unittest.TestCase):
    def setUp(self) -> None:
        require_a_runtime(self)

    def test_passes_and_records_what_an_edge_box_needs_to_run_it(self) -> None:
        record = honest_check()
        self.assertEqual(record["check"].get("reason"), None)
        self.assertEqual(
            {key: record[key] for key in ("opset", "inputShape", "outputShape", "nms")},
            {"opset": OPSET, "inputShape": [1, 3, IMGSZ, IMGSZ], "outputShape": OUTPUT_SHAPE, "nms": False},
        )
        result = record["check"]
        self.assertIs(result["passed"], True)
        self.assertEqual((result["runtime"], result["runtimeVersion"]), ("onnxruntime", "1.20.1"))
        self.assertEqual(result["images"], len(fixtures.images))
        self.assertLessEqual(result["maxAbsDiff"], result["tolerance"])
        # fp32 against fp32: far inside the tolerance, not just under it.
        self.assertLess(result["maxAbsDiff"], result["tolerance"] / 10)

    def test_finds_the_same_detections_in_both_runtimes(self) -> None:
        detections = honest_check()["check"]["detections"]
        self.assertGreaterEqual(detections["pytorch"], 8, "the fixture model must detect things, or the comparison proves nothing")
        self.assertEqual(detections, {"pytorch": detections["pytorch"], "onnx": detections["pytorch"], "matched": detections["pytorch"]})

    def test_says_whether_onnxslim_simplified_the_graph(self) -> None:
        # onnxslim is not installed everywhere (the training image pins it; CI lacks it): the record
        # follows what the export did, whichever it was.
        self.assertEqual(fixtures.simplified_during_export, onnxslim_available())
        self.assertIs(honest_check()["simplified"], fixtures.simplified_during_export)
        # Not told, it asks whether onnxslim imports (a failed check records it all the same).
        self.assertIs(check(simplified=None, opset=12)["simplified"], onnxslim_available())


class MismatchTest(unittest.TestCase):
    def setUp(self) -> None:
        require_a_runtime(self)

    def test_an_export_of_other_weights_fails_naming_the_difference(self) -> None:
        result = check(weights=fixtures.other_weights)["check"]
        self.assertIs(result["passed"], False)
        self.assertRegex(result["reason"], r"^the (class scores|box coordinates) in ONNX Runtime's output differ from PyTorch's by up to [\d.e+-]+ \(tolerance [\d.e+-]+\)$")
        self.assertGreater(result["maxAbsDiff"], result["tolerance"])
        self.assertEqual(result["images"], len(fixtures.images))

    def test_an_export_at_another_input_size_fails_before_running_it(self) -> None:
        result = check(imgsz=96)["check"]
        self.assertIs(result["passed"], False)
        self.assertEqual(result["reason"], "the ONNX model's input is [1, 3, 64, 64], but the model was trained and evaluated at [1, 3, 96, 96]")

    def test_an_export_at_another_opset_fails(self) -> None:
        result = check(opset=12)["check"]
        self.assertEqual((result["passed"], result["reason"]), (False, "the ONNX model has opset 17, but the export asked for opset 12"))

    def test_a_file_that_is_not_an_onnx_model_fails(self) -> None:
        broken = fixtures.root / "broken.onnx"
        broken.write_bytes(fixtures.onnx.read_bytes()[:1000])
        record = check(onnx=broken)
        self.assertIs(record["check"]["passed"], False)
        self.assertTrue(record["check"]["reason"].startswith(f"the ONNX file {broken} cannot be read: "), record["check"]["reason"])
        self.assertEqual((record["opset"], record["inputShape"]), (None, None))

    def test_no_readable_image_fails_rather_than_passing_on_nothing(self) -> None:
        not_an_image = fixtures.root / "notes.jpg"
        not_an_image.write_text("not a picture", encoding="utf-8")
        result = check(images=[not_an_image])["check"]
        self.assertEqual((result["passed"], result["images"]), (False, 0))
        self.assertEqual(result["reason"], "none of the 1 validation images could be read, so nothing was compared")
        self.assertEqual(check(images=[])["check"]["reason"], "no validation images were found to compare the models on")


class MissingRuntimeTest(unittest.TestCase):
    def test_without_any_onnx_runtime_the_check_fails_and_says_what_to_install(self) -> None:
        with without_python_onnxruntime(), mock.patch.dict(os.environ, {onnx_check.RUNNER_ENV: ""}):
            result = check()["check"]
        self.assertEqual(
            result,
            {
                "passed": False,
                "runtime": "onnxruntime",
                "runtimeVersion": None,
                "images": 0,
                "maxAbsDiff": None,
                "tolerance": None,
                "detections": None,
                "reason": "no ONNX runtime to check the export with (install onnxruntime==1.20.1)",
            },
        )

    def test_a_runner_command_that_fails_fails_the_check_with_its_message(self) -> None:
        failing = f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(\"cannot load libonnxruntime.so.1\")'"
        with without_python_onnxruntime(), mock.patch.dict(os.environ, {onnx_check.RUNNER_ENV: failing}):
            result = check()["check"]
        self.assertIs(result["passed"], False)
        self.assertIn("could not run the ONNX model: ", result["reason"])
        self.assertIn("failed (cannot load libonnxruntime.so.1)", result["reason"])


def detections(*rows: tuple[float, float, float, float, float, int]) -> np.ndarray:
    return np.array(rows, dtype=np.float32).reshape(-1, 6)


class DetectionMatchingTest(unittest.TestCase):
    """match_detections on hand-written NMS results (x1, y1, x2, y2, score, class)."""

    def test_the_same_boxes_moved_by_rounding_match(self) -> None:
        pytorch = detections((10, 10, 50, 50, 0.9, 0), (60, 10, 90, 40, 0.6, 2))
        onnx = detections((60.01, 10, 90, 40, 0.6000001, 2), (10, 10, 50.02, 50, 0.8999999, 0))
        self.assertEqual(onnx_check.match_detections([pytorch], [onnx]), onnx_check.DetectionMatching(2, 2, 2, 0))

    def test_a_box_of_another_class_or_elsewhere_does_not_match(self) -> None:
        pytorch = detections((10, 10, 50, 50, 0.9, 0), (60, 10, 90, 40, 0.6, 2))
        onnx = detections((10, 10, 50, 50, 0.9, 1), (64, 14, 94, 44, 0.6, 2))
        matching = onnx_check.match_detections([pytorch], [onnx])
        self.assertEqual((matching.matched, matching.passed), (0, False))

    def test_a_detection_at_the_score_threshold_may_be_missing_on_the_other_side(self) -> None:
        pytorch = detections((10, 10, 50, 50, 0.9, 0), (60, 10, 90, 40, 0.2501, 2))
        onnx = detections((10, 10, 50, 50, 0.9, 0))
        self.assertEqual(onnx_check.match_detections([pytorch], [onnx]), onnx_check.DetectionMatching(2, 1, 1, 0))
        clearly_above = detections((10, 10, 50, 50, 0.9, 0), (60, 10, 90, 40, 0.4, 2))
        self.assertFalse(onnx_check.match_detections([clearly_above], [onnx]).passed)

    def test_a_detection_that_nms_just_kept_may_be_suppressed_on_the_other_side(self) -> None:
        # (0,0,100,100) and (0,0,100,69.5) overlap with IoU 0.695: kept at NMS IoU 0.7, and suppressed
        # where rounding moved the IoU over it. An overlap far from 0.7 explains nothing.
        strong = (0, 0, 100, 100, 0.9, 0)
        onnx = detections(strong)
        self.assertTrue(onnx_check.match_detections([detections(strong, (0, 0, 100, 69.5, 0.8, 0))], [onnx]).passed)
        self.assertFalse(onnx_check.match_detections([detections(strong, (0, 0, 100, 40, 0.8, 0))], [onnx]).passed)


class ValidationImagesTest(unittest.TestCase):
    def test_picks_images_spread_over_the_val_split_in_a_stable_order(self) -> None:
        val = sorted((fixtures.root / "dataset" / "images" / "val").glob("*.jpg"))
        picked = validation_images(fixtures.data_yaml, 4)
        self.assertEqual(picked, [val[0], val[2], val[4], val[6]])
        self.assertEqual(validation_images(fixtures.data_yaml, 20), val)

    def test_finds_a_builtin_dataset_by_name_and_downloads_nothing(self) -> None:
        # coco8.yaml ships with ultralytics; its images are only there once training downloaded them.
        from ultralytics.utils import DATASETS_DIR

        images = validation_images("coco8.yaml")
        expected = sorted((DATASETS_DIR / "coco8" / "images" / "val").glob("*.jpg"))[:4]
        self.assertEqual(images, expected)
        self.assertEqual(validation_images(fixtures.root / "no-such.yaml"), [])


if __name__ == "__main__":
    unittest.main()
