"""The GPU check (issue 8): real training through docker/train.py at a realistic size, measured.

Run it through docker/tests/gpu-check.sh, which picks the Python and puts ultralytics on the
import path; `--help` lists the options. What it does, as the node does it (docs/node-runtime.md):

1. writes a synthetic dataset (docker/tests/real/synthetic.py, in parallel shards) and, in a
   second process, an untrained starting checkpoint from ultralytics' model yaml, while that
   process also reports the versions and the GPUs torch sees;
2. samples `nvidia-smi` every 0.5 s to a file (when there is one);
3. starts `python docker/train.py` in its own process group with the trainer environment, waits
   for progress.jsonl's epoch-1 line, lets epoch 2 run a moment, then SIGTERMs the group (SIGKILL
   after a grace period, as the agent does);
4. resumes with YOLO_TRAIN_RESUME=<workdir>/phase-0/weights/last.pt and YOLO_TRAIN_RESUME_PHASE=0
   to the end (training, evaluation, ONNX export);
5. checks progress.jsonl (exactly one line per epoch 1..N), result.json and the ONNX file, and
   writes a JSON summary: timings per step, images/s per epoch, GPU utilisation (median, p10,
   p90) and peak memory, the interruption, the ONNX check, and `passed`.

Everything has to end within --time-limit seconds (420 by default: the issue's 7 minutes); a run
that hits it is stopped and the summary says so. Only the standard library is imported here: the
trainer and the checkpoint writer run in their own processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import math
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TRAIN_PY = ROOT / "docker" / "train.py"
REAL_DIR = HERE / "real"

SCHEMA = "yolo-train/gpu-check@1"
RUN_ID = "gpu-check"
MODEL_URI = "s3://yolo-train-gpu-check/models/start.pt"
# The realistic size, and a CPU preset that proves the same path in seconds.
FULL = {"images": 2000, "val_images": 200, "imgsz": 640, "batch": 64, "epochs": 3, "workers": None, "device": None}
TINY = {"images": 24, "val_images": 8, "imgsz": 64, "batch": 8, "epochs": 3, "workers": 2, "device": "cpu"}
IMAGES_PER_SHARD = 100  # dataset shards: fixed by the image count, so every machine writes the same files
GRACE_SECONDS = 10.0  # SIGTERM → SIGKILL, the agent's default YOLO_TRAIN_STOP_GRACE_MS
RESERVE_SECONDS = GRACE_SECONDS + 8.0  # what stopping and writing the summary may take after the deadline
POLL_SECONDS = 0.05
# Checks that must have run and passed (plus "gpu utilisation" on a GPU); "onnx vs pytorch" may be
# not applicable (a trainer without result.json onnxExport), never failed.
REQUIRED_CHECKS = ("dataset", "starting checkpoint", "interruption", "resumed run", "resume continued", "progress.jsonl", "onnx file", "images/s")
SAMPLE_MS = 500
ONNX_RUNNER_ENV = "YOLO_TRAIN_ONNX_RUNNER"
NODE_RUNNER = HERE / "onnxruntime_node_runner.js"
VENDOR_NODE_MODULES = ROOT / ".vendor" / "node_modules"
GPU_QUERY = "timestamp,index,utilization.gpu,memory.used"
MODULES = (
    "torch", "torchvision", "ultralytics", "thop", "numpy", "cv2", "PIL", "yaml", "matplotlib", "pandas",
    "scipy", "seaborn", "psutil", "requests", "tqdm", "cpuinfo", "onnx", "onnxslim", "onnxruntime",
)
# Distribution names where they differ from the module's (for the version; Debian's or pip's).
DISTRIBUTIONS = {
    "cv2": ("opencv-python", "opencv-python-headless", "opencv"),
    "PIL": ("pillow", "Pillow"),
    "yaml": ("PyYAML", "pyyaml"),
    "cpuinfo": ("py-cpuinfo",),
    "thop": ("ultralytics-thop", "thop"),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
}
OFFLINE_ENV = {
    # Nothing is downloaded: ultralytics' weights and fonts are not needed, and a GPU test machine
    # may have no network at all. A download attempt fails at once instead of hanging.
    "YOLO_OFFLINE": "true",
    "YOLO_AUTOINSTALL": "false",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "no_proxy": "127.0.0.1,localhost",
    "NO_PROXY": "127.0.0.1,localhost",
}


class Stopped(Exception):
    """SIGTERM or SIGINT reached the check itself (e.g. the wrapper's backstop timeout)."""


class Deadline:
    def __init__(self, limit: float, started: float) -> None:
        self.limit = limit
        self.started = started  # time.time() of the wrapper's start
        self.hit = False

    def left(self) -> float:
        return self.started + self.limit - RESERVE_SECONDS - time.time()

    def passed(self) -> bool:
        if self.left() <= 0:
            self.hit = True
        return self.hit


# ---------------------------------------------------------------------------------------------
# Helper process: versions, modules, GPUs as torch sees them, and the starting checkpoint.


def module_versions() -> Dict[str, Optional[str]]:
    """Which of ultralytics' dependencies (and the ONNX tools) this Python has, found without importing them."""
    import importlib.util

    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8
        metadata = None  # type: ignore[assignment]
    found: Dict[str, Optional[str]] = {}
    for name in MODULES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            found[name] = None
            continue
        version = None
        for dist in DISTRIBUTIONS.get(name, (name,)):
            try:
                version = metadata.version(dist) if metadata else None
            except Exception:  # noqa: BLE001 - PackageNotFoundError, or a vendored copy without metadata
                version = None
            if version:
                break
        found[name] = version or "present"
    return found


def prepare_main(argv: List[str]) -> int:
    """`gpu_check.py _prepare CHECKPOINT MODEL_CONFIG`: prints one JSON object on its last line."""
    checkpoint, config = Path(argv[0]), argv[1]
    report: Dict[str, Any] = {"python": platform.python_version(), "modules": module_versions()}
    try:
        import torch

        cuda = torch.cuda.is_available()
        report["modules"]["torch"] = torch.__version__
        report["torch"] = {
            "version": torch.__version__,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if cuda else None,
            "cudaAvailable": cuda,
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        }
    except Exception as error:  # noqa: BLE001
        report["torch"] = {"error": f"{type(error).__name__}: {error}"}
    started = time.monotonic()
    try:
        import ultralytics

        report["modules"]["ultralytics"] = ultralytics.__version__
        sys.path.insert(0, str(REAL_DIR))
        from synthetic import write_starting_checkpoint

        write_starting_checkpoint(checkpoint, config=config)
        report["checkpoint"] = {"path": str(checkpoint), "bytes": checkpoint.stat().st_size, "config": config}
    except Exception:  # noqa: BLE001
        report["checkpoint"] = {"error": traceback.format_exc(limit=3)[-1500:]}
    report["checkpointSeconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(report), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# Dataset: docker/tests/real/synthetic.py in shards, merged into one dataset.


def _write_shard(job: tuple) -> int:
    root, train, val, size, seed = job
    sys.path.insert(0, str(REAL_DIR))
    from synthetic import write_dataset

    write_dataset(Path(root), train=train, val=val, size=size, seed=seed)
    return train + val


def split(total: int, parts: int) -> List[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def write_dataset_sharded(root: Path, train: int, val: int, size: int) -> Dict[str, Any]:
    """The synthetic dataset (train/val images, labels, data.yaml with `path: .`) under root.

    Shard k is synthetic.write_dataset(seed=k) of about IMAGES_PER_SHARD images; shards are
    written in parallel and their files moved into one dataset with a `s<k>-` prefix.
    """
    shards = max(1, math.ceil(train / IMAGES_PER_SHARD))
    jobs = [(str(root / "shards" / f"{k:03d}"), t, v, size, k) for k, (t, v) in enumerate(zip(split(train, shards), split(val, shards)))]
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    if workers == 1:
        for job in jobs:
            _write_shard(job)
    else:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            pool.map(_write_shard, jobs)
    for folder in ("images/train", "images/val", "labels/train", "labels/val"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for k, job in enumerate(jobs):
        shard = Path(job[0])
        for folder in ("images/train", "images/val", "labels/train", "labels/val"):
            for file in (shard / folder).iterdir():
                os.replace(file, root / folder / f"s{k:03d}-{file.name}")
        if k == 0:
            os.replace(shard / "data.yaml", root / "data.yaml")
    shutil.rmtree(root / "shards")
    counts = {split_: len(list((root / "images" / split_).iterdir())) for split_ in ("train", "val")}
    return {"trainImages": counts["train"], "valImages": counts["val"], "imgsz": size, "shards": len(jobs), "processes": workers}


# ---------------------------------------------------------------------------------------------
# Processes: the trainer in its own group (as the agent starts it), nvidia-smi in the background.

RUNNING: List[subprocess.Popen] = []


def start_group(command: List[str], env: Dict[str, str], log: Path) -> subprocess.Popen:
    handle = open(log, "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(command, env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    process._log_handle = handle  # type: ignore[attr-defined]
    RUNNING.append(process)
    return process


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop_group(process: subprocess.Popen, grace: float = GRACE_SECONDS) -> Dict[str, Any]:
    """SIGTERM to the process group, SIGKILL after `grace`; returns once the group is gone (or 5 s more)."""
    stopped: Dict[str, Any] = {"signal": "SIGTERM", "killed": False}
    if process.poll() is None or group_alive(process.pid):
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        end = time.monotonic() + grace
        while time.monotonic() < end and (process.poll() is None or group_alive(process.pid)):
            time.sleep(POLL_SECONDS)
        if process.poll() is None or group_alive(process.pid):
            stopped["killed"] = True
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            end = time.monotonic() + 5
            while time.monotonic() < end and group_alive(process.pid):
                process.poll()
                time.sleep(POLL_SECONDS)
    process.wait()
    finish(process)
    return stopped


def finish(process: subprocess.Popen) -> None:
    handle = getattr(process, "_log_handle", None)
    if handle is not None and not handle.closed:
        handle.close()
    if process in RUNNING:
        RUNNING.remove(process)


def stop_everything() -> None:
    for process in list(RUNNING):
        try:
            if process.poll() is None or group_alive(process.pid):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        finish(process)


def run_command(command: List[str], timeout: float = 20) -> Optional[str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def gpu_inventory() -> Dict[str, Any]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {"nvidiaSmi": False, "reason": "no nvidia-smi on this machine", "count": 0, "names": [], "gpus": []}
    listing = run_command([smi, "-L"])
    details = run_command([smi, "--query-gpu=index,name,driver_version,memory.total,uuid", "--format=csv,noheader,nounits"])
    if listing is None:
        return {"nvidiaSmi": True, "reason": "nvidia-smi -L failed (no driver or no GPU)", "count": 0, "names": [], "gpus": []}
    gpus = []
    for line in (details or "").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 5:
            gpus.append({"index": _int(parts[0]), "name": parts[1], "driver": parts[2], "memoryTotalMiB": _int(parts[3]), "uuid": parts[4]})
    names = [line.strip() for line in listing.splitlines() if line.strip()]
    return {"nvidiaSmi": True, "reason": None, "count": len(names), "names": names, "gpus": gpus}


def physical_gpus(indices: List[int], inventory: Dict[str, Any], visible: Optional[str]) -> tuple:
    """nvidia-smi's indices of the GPUs the trainer calls `indices` (CUDA_VISIBLE_DEVICES renumbers them from 0)."""
    if visible is None or not visible.strip():
        return indices, None
    entries = [v.strip() for v in visible.split(",") if v.strip()]
    by_uuid = {str(g.get("uuid")): g.get("index") for g in inventory.get("gpus", [])}
    mapped = []
    for i in indices:
        entry = entries[i] if i < len(entries) else None
        if entry is not None and entry.isdigit():
            mapped.append(int(entry))
        elif entry is not None and entry in by_uuid and by_uuid[entry] is not None:
            mapped.append(by_uuid[entry])
        else:
            return None, f"CUDA_VISIBLE_DEVICES={visible} does not say which GPU device {i} is: samples of every GPU are used"
    return mapped, f"CUDA_VISIBLE_DEVICES={visible}: devices {indices} are nvidia-smi's GPUs {mapped}"


def _int(text: str) -> Optional[int]:
    try:
        return int(float(text))
    except ValueError:
        return None


def _float(text: str) -> Optional[float]:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------------------------
# progress.jsonl, as the agent reads it: complete lines only.


class Progress:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: List[Dict[str, Any]] = []  # parsed lines in order, with "_seenAt" (time.time()) and "_process"

    def poll(self, process_name: str) -> List[Dict[str, Any]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        complete = raw[: raw.rfind(b"\n") + 1].decode("utf-8", "replace").splitlines()
        new = []
        for text in complete[len(self.lines):]:
            try:
                line = json.loads(text)
                if not isinstance(line, dict):
                    line = {"_invalid": text[:200]}
            except ValueError:
                line = {"_invalid": text[:200]}
            line["_seenAt"] = time.time()
            line["_process"] = process_name
            self.lines.append(line)
            new.append(line)
        return new

    def epochs(self) -> List[Dict[str, Any]]:
        return [line for line in self.lines if line.get("type") == "epoch"]


# ---------------------------------------------------------------------------------------------
# Statistics over the nvidia-smi samples.


def read_samples(path: Path, devices: Optional[List[int]]) -> Dict[str, Any]:
    """Samples of the GPUs the run uses: (time.time(), index, utilisation %, memory MiB)."""
    samples, unparsed = [], 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            unparsed += 1
            continue
        try:
            at = dt.datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()  # local time, like time.time()
        except ValueError:
            unparsed += 1
            continue
        index, utilisation, memory = _int(parts[1]), _float(parts[2]), _float(parts[3])
        if index is None or (devices is not None and index not in devices):
            continue
        samples.append({"at": at, "index": index, "utilisation": utilisation, "memory": memory})
    return {"samples": samples, "unparsed": unparsed}


def percentile(values: List[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 1)


def utilisation_stats(samples: List[Dict[str, Any]], windows: List[tuple]) -> Dict[str, Any]:
    inside = [s["utilisation"] for s in samples if s["utilisation"] is not None and any(a <= s["at"] <= b for a, b in windows)]
    return {
        "median": percentile(inside, 0.5),
        "p10": percentile(inside, 0.1),
        "p90": percentile(inside, 0.9),
        "samples": len(inside),
        "seconds": round(sum(max(0.0, b - a) for a, b in windows), 1),
    }


# ---------------------------------------------------------------------------------------------
# The check.


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="docker/tests/gpu-check.sh",
        description="Real training through docker/train.py (fresh run, SIGTERM in epoch 2, resume, evaluation, ONNX export), measured; writes a JSON summary.",
    )
    parser.add_argument("--tiny", action="store_true", help="CPU preset: 24+8 images at 64 px, batch 8, 3 epochs, device cpu, 2 workers")
    parser.add_argument("--images", type=int, help="training images (default 2000; --tiny 24)")
    parser.add_argument("--val-images", type=int, help="validation images (default 200; --tiny 8)")
    parser.add_argument("--imgsz", type=int, help="image size, px (default 640; --tiny 64)")
    parser.add_argument("--batch", type=int, help="batch size (default 64; --tiny 8)")
    parser.add_argument("--epochs", type=int, help="epochs, at least 3 (default 3)")
    parser.add_argument("--model-config", default="yolov8n.yaml", help="ultralytics model yaml of the untrained starting checkpoint (default yolov8n.yaml)")
    parser.add_argument("--device", help="YOLO_TRAIN_DEVICE: cpu, or GPU indices like 0 or 0,1 (default 0 when nvidia-smi lists a GPU, else cpu; --tiny cpu)")
    parser.add_argument("--workers", type=int, help="data loader workers per process (default ultralytics' 8; --tiny 2)")
    parser.add_argument("--interrupt-delay", type=float, help="seconds between the epoch-1 line and SIGTERM (default a quarter of epoch 1's training time, at most 5)")
    parser.add_argument(
        "--onnx-runner",
        help="YOLO_TRAIN_ONNX_RUNNER for the trainer's ONNX check when Python has no onnxruntime (default: $YOLO_TRAIN_ONNX_RUNNER, "
        "else `node docker/tests/onnxruntime_node_runner.js` where node finds onnxruntime-node; `none` for no runner)",
    )
    parser.add_argument("--time-limit", type=float, default=420.0, help="hard limit for the whole check, seconds (default 420)")
    parser.add_argument("--out", help="summary JSON (default $OUT/gpu-check.json when OUT is set, else ./gpu-check.json)")
    parser.add_argument("--logs", help="folder for the trainer logs, samples, progress.jsonl and result.json (default <summary>.logs next to the summary)")
    parser.add_argument("--workdir", help="scratch folder for the dataset and the run (default a new temporary folder, deleted at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    preset = TINY if args.tiny else FULL
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.device is None:
        args.device = "0" if shutil.which("nvidia-smi") and run_command(["nvidia-smi", "-L"]) else "cpu"
    if args.epochs < 3:
        parser.error("--epochs must be at least 3: the check interrupts epoch 2 and resumes to the last")
    for name in ("images", "val_images", "imgsz", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.out is None:
        args.out = str(Path(os.environ["OUT"]) / "gpu-check.json") if os.environ.get("OUT") else "gpu-check.json"
    return args


def device_indices(device: str) -> Optional[List[int]]:
    if device.strip() == "cpu":
        return None
    return [int(p) for p in device.split(",") if p.strip().isdigit()]


def run_spec(args: argparse.Namespace, mount: Path) -> Dict[str, Any]:
    """A run spec as runspec/schema.ts describes it (same shape as docker/tests/test_train.py's)."""
    hyperparameters: Dict[str, Any] = {"plots": False}  # plots want a font download: nothing is downloaded here
    if args.workers is not None:
        hyperparameters["workers"] = args.workers
    indices = device_indices(args.device)
    return {
        "schemaVersion": 1,
        "runId": RUN_ID,
        "project": "yolo-train",
        "stack": "gpu-check",
        "region": "us-east-1",
        "autoScalingGroupName": f"yolo-train-gpu-check-{RUN_ID}",
        "model": MODEL_URI,
        "data": {"kind": "mounted", "yamlPath": str(mount / "data.yaml")},
        "train": {"epochs": args.epochs, "imgsz": args.imgsz, "batch": args.batch, "gpus": max(1, len(indices or [])), "hyperparameters": hyperparameters},
        "artifacts": {"bucket": "yolo-train-gpu-check-artifacts", "prefix": f"runs/{RUN_ID}/"},
        "ota": {"bucket": "yolo-train-gpu-check-ota", "prefix": "models/gpu-check/", "modelName": "gpu-check", "channel": "candidate", "signingKeyId": "alias/ota"},
        "limits": {"maxRuntimeHours": 1, "idleMinutes": 15, "idleGpuPercent": 5, "maxAttempts": 3},
        "tracking": {"kind": "off"},
        "pricing": {"capacity": "spot", "usdPerHour": 0.0},
    }


def trainer_env(base: Dict[str, str], paths: Dict[str, Path], device: str, runner: Optional[str], resume: Optional[Path] = None) -> Dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("YOLO_TRAIN_")}
    env.update(OFFLINE_ENV)
    if runner:
        env[ONNX_RUNNER_ENV] = runner
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "YOLO_CONFIG_DIR": str(paths["config"]),
            "YOLO_TRAIN_RUN_SPEC": str(paths["spec"]),
            "YOLO_TRAIN_SCRATCH": str(paths["scratch"]),
            "YOLO_TRAIN_WORKDIR": str(paths["workdir"]),
            "YOLO_TRAIN_MODEL": str(paths["checkpoint"]),
            "YOLO_TRAIN_DATA_MOUNT": str(paths["mount"]),
            "YOLO_TRAIN_DEVICE": device,
        }
    )
    if resume is not None:
        env["YOLO_TRAIN_RESUME"] = str(resume)
        env["YOLO_TRAIN_RESUME_PHASE"] = "0"
    return env


def onnx_runtime(args: argparse.Namespace, modules: Dict[str, Any]) -> Dict[str, Any]:
    """What the trainer's ONNX check will run the export with (docker/trainer/onnx_check.py find_runtime)."""
    if modules.get("onnxruntime"):
        return {"runtime": f"python onnxruntime {modules['onnxruntime']}", "runner": None}
    chosen = args.onnx_runner if args.onnx_runner is not None else os.environ.get(ONNX_RUNNER_ENV)
    if chosen is not None:
        chosen = chosen.strip()
        if chosen in ("", "none"):
            return {"runtime": None, "runner": None, "note": "no onnxruntime in Python and no runner: the trainer's ONNX check fails"}
        return {"runtime": f"runner: {chosen}", "runner": chosen}
    node = shutil.which("node")
    if node is None:
        return {"runtime": None, "runner": None, "note": "no onnxruntime in Python and no node for docker/tests/onnxruntime_node_runner.js: the trainer's ONNX check fails"}
    env = dict(os.environ)
    if VENDOR_NODE_MODULES.is_dir():
        env["NODE_PATH"] = os.pathsep.join(p for p in (str(VENDOR_NODE_MODULES), env.get("NODE_PATH", "")) if p)
    try:
        found = subprocess.run([node, "-e", "require.resolve('onnxruntime-node')"], cwd=str(HERE), env=env, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        found = None
    if found is None or found.returncode != 0:
        return {"runtime": None, "runner": None, "note": "no onnxruntime in Python, and node finds no onnxruntime-node (npm ci, or .vendor/node_modules): the trainer's ONNX check fails"}
    if VENDOR_NODE_MODULES.is_dir():
        os.environ["NODE_PATH"] = env["NODE_PATH"]  # the trainer's runner inherits it
    runner = f"{shlex.quote(node)} {shlex.quote(str(NODE_RUNNER))}"
    return {"runtime": f"onnxruntime-node through {NODE_RUNNER.name}", "runner": runner}


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log, for the summary (tqdm redraws with carriage returns: the last state of each)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    cleaned = [line.rsplit("\r", 1)[-1].rstrip() for line in text.splitlines()]
    return "\n".join([line[-400:] for line in cleaned if line.strip()][-lines:])


class Check:
    """Builds the summary step by step; `checks` are {name, ok (true/false/null = not applicable), detail}."""

    def __init__(self, args: argparse.Namespace, started: float) -> None:
        self.args = args
        self.started = started
        self.deadline = Deadline(args.time_limit, started)
        self.onnx_runner: Optional[str] = None
        self.summary: Dict[str, Any] = {
            "schema": SCHEMA,
            "passed": False,
            "failures": [],
            "timedOut": False,
            "timeLimitSeconds": args.time_limit,
            "startedAt": iso(started),
            "config": {
                "preset": "tiny" if args.tiny else "full",
                "images": args.images,
                "valImages": args.val_images,
                "imgsz": args.imgsz,
                "batch": args.batch,
                "epochs": args.epochs,
                "modelConfig": args.model_config,
                "device": args.device,
                "workers": args.workers,
            },
            "steps": {},
            "checks": [],
        }

    def check(self, name: str, ok: Optional[bool], detail: str) -> Optional[bool]:
        self.summary["checks"].append({"name": name, "ok": ok, "detail": detail})
        if ok is False:
            self.summary["failures"].append(f"{name}: {detail}")
        return ok

    def step(self, name: str, since: float) -> None:
        self.summary["steps"][name] = round(time.time() - since, 2)


def iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def main(argv: List[str]) -> int:
    if argv[:1] == ["_prepare"]:
        return prepare_main(argv[1:])
    started = float(os.environ.get("GPU_CHECK_STARTED") or time.time())
    args = parse_args(argv)
    check = Check(args, started)
    summary = check.summary
    out = Path(args.out).resolve()
    logs = Path(args.logs).resolve() if args.logs else out.with_name(out.stem + ".logs")
    if args.workdir:
        scratch_root = Path(args.workdir).resolve()
        scratch_root.mkdir(parents=True, exist_ok=True)
        if any(scratch_root.iterdir()):
            print(f"gpu-check: --workdir {scratch_root} is not empty", file=sys.stderr)
            return 2
    else:
        scratch_root = Path(tempfile.mkdtemp(prefix="yolo-train-gpu-check-"))
    summary["logs"] = str(logs)

    def stop(signum: int, _frame: Any) -> None:
        raise Stopped(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        logs.mkdir(parents=True, exist_ok=True)
        for old in logs.iterdir():
            if old.is_file():
                old.unlink()
        run_check(check, scratch_root, logs)
    except Stopped as error:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        check.check("finished", False, f"the check itself got {error} and stopped")
    except Exception:  # noqa: BLE001 - the summary says what broke
        check.check("finished", False, "internal error: " + traceback.format_exc(limit=4)[-1500:])
    finally:
        stop_everything()
        summary["timedOut"] = check.deadline.hit
        for window in summary.get("windows", {}).values():
            for key, value in window.items():
                window[key] = iso(value) if isinstance(value, float) else value
        if check.deadline.hit:
            check.check("time limit", False, f"ran out of time: stopped {RESERVE_SECONDS:.0f} s before the {args.time_limit:.0f} s limit")
        check.step("total", started)
        summary["finishedAt"] = iso(time.time())
        results = {c["name"]: c["ok"] for c in summary["checks"]}
        required = REQUIRED_CHECKS + (("gpu utilisation",) if device_indices(args.device) is not None else ())
        missing = [name for name in required if name not in results]
        if missing:
            summary["notRun"] = missing
        summary["passed"] = not summary["failures"] and not missing and all(results[name] for name in required)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, out)
        if not args.keep and not args.workdir:
            shutil.rmtree(scratch_root, ignore_errors=True)
        report(summary, out)
    return 0 if summary["passed"] else 1


def run_check(check: Check, scratch_root: Path, logs: Path) -> None:
    args, summary = check.args, check.summary
    mount = scratch_root / "data"
    paths = {
        "mount": mount,
        "checkpoint": scratch_root / "model" / "start.pt",
        "config": scratch_root / "ultralytics-config",
        "scratch": scratch_root / "scratch",
        "workdir": scratch_root / "scratch" / "runs" / RUN_ID,
        "spec": scratch_root / "run-spec.json",
    }
    inventory = gpu_inventory()
    summary["host"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(), **inventory}

    # 1. Dataset here, checkpoint and versions in a second process at the same time.
    since = time.time()
    prepare_env = {**os.environ, **OFFLINE_ENV, "YOLO_CONFIG_DIR": str(paths["config"])}
    prepare_log = logs / "prepare.log"
    with open(prepare_log, "wb") as handle:
        prepare = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "_prepare", str(paths["checkpoint"]), args.model_config],
            env=prepare_env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=handle, start_new_session=True,
        )
        RUNNING.append(prepare)
        dataset = write_dataset_sharded(mount, args.images, args.val_images, args.imgsz)
        check.step("dataset", since)
        dataset["seconds"] = summary["steps"]["dataset"]
        dataset["imagesPerSecond"] = round((args.images + args.val_images) / max(dataset["seconds"], 1e-6), 1)
        summary["dataset"] = dataset
        check.check("dataset", dataset["trainImages"] == args.images and dataset["valImages"] == args.val_images, f"{dataset['trainImages']} training and {dataset['valImages']} validation images at {args.imgsz} px in {dataset['seconds']} s")
        try:
            stdout, _ = prepare.communicate(timeout=max(1.0, check.deadline.left()))
        except subprocess.TimeoutExpired:
            check.deadline.hit = True
            return
        finally:
            if prepare in RUNNING:
                RUNNING.remove(prepare)
    check.step("prepare", since)
    prepared: Dict[str, Any] = {}
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        try:
            prepared = json.loads(line)
            break
        except ValueError:
            continue
    torch_info = prepared.get("torch", {})
    summary["versions"] = {
        "python": prepared.get("python"),
        "torch": torch_info.get("version"),
        "cuda": torch_info.get("cuda"),
        "cudnn": torch_info.get("cudnn"),
        "cudaAvailable": torch_info.get("cudaAvailable"),
        "torchDevices": torch_info.get("devices"),
        "ultralytics": (prepared.get("modules") or {}).get("ultralytics"),
        "onnx": (prepared.get("modules") or {}).get("onnx"),
    }
    summary["modules"] = prepared.get("modules")
    checkpoint = prepared.get("checkpoint") or {"error": "the prepare process printed no report:\n" + tail(prepare_log)}
    if not check.check("starting checkpoint", "error" not in checkpoint, checkpoint.get("error") or f"{args.model_config} → {checkpoint['bytes']} bytes"):
        return
    indices = device_indices(args.device)
    if indices is not None and not check.check("cuda", bool(torch_info.get("cudaAvailable")), f"torch {torch_info.get('version')} sees {len(torch_info.get('devices') or [])} GPU(s): {torch_info.get('devices')}"):
        return
    runtime = onnx_runtime(args, summary.get("modules") or {})
    check.onnx_runner = runtime.get("runner")
    summary["onnxRuntime"] = runtime
    if check.deadline.passed():
        return

    paths["spec"].write_text(json.dumps(run_spec(args, mount), indent=2), encoding="utf-8")
    shutil.copy(paths["spec"], logs / "run-spec.json")
    progress = Progress(paths["workdir"] / "progress.jsonl")

    # 2. GPU samples.
    samples_file = logs / "gpu-samples.csv"
    sampler = None
    if inventory["count"] > 0:
        # stdbuf: a line per sample reaches the file at once, and none is lost in a buffer when it is stopped.
        line_buffered = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
        sampler = start_group([*line_buffered, "nvidia-smi", f"--query-gpu={GPU_QUERY}", "--format=csv,noheader,nounits", f"-lms{SAMPLE_MS}"], dict(os.environ), samples_file)

    try:
        interruption = fresh_run(check, paths, progress, logs)
        if interruption is not None and interruption.get("ok"):
            resume_run(check, paths, progress, logs, interruption)
    finally:
        if sampler is not None:
            stop_group(sampler, grace=2)
        (logs / "progress.jsonl").write_bytes(progress.path.read_bytes() if progress.path.exists() else b"")
        if (paths["workdir"] / "result.json").exists():
            shutil.copy(paths["workdir"] / "result.json", logs / "result.json")
        measure(check, progress, samples_file, inventory, indices)


def fresh_run(check: Check, paths: Dict[str, Path], progress: Progress, logs: Path) -> Optional[Dict[str, Any]]:
    """Trains from the starting checkpoint and SIGTERMs the group in epoch 2."""
    args, summary = check.args, check.summary
    since = time.time()
    log = logs / "fresh.log"
    trainer = start_group([sys.executable, str(TRAIN_PY)], trainer_env(dict(os.environ), paths, args.device, check.onnx_runner), log)
    summary["windows"] = {"fresh": {"start": since}}
    sigterm_at = None
    sent: Optional[float] = None
    stopped: Dict[str, Any] = {"killed": False}
    lines_at_sigterm = 0
    while True:
        progress.poll("fresh")
        epochs = progress.epochs()
        if trainer.poll() is not None:
            break
        if check.deadline.passed():
            stop_group(trainer)
            check.step("freshRun", since)
            check.check("fresh run", False, f"still running at the deadline after {len(epochs)} epoch line(s)")
            return None
        if epochs and sigterm_at is None:
            first = epochs[0]
            delay = args.interrupt_delay
            if delay is None:
                ips = first.get("imagesPerSecond")
                delay = min(5.0, 0.25 * args.images / ips) if isinstance(ips, (int, float)) and ips > 0 else 0.5
            sigterm_at = first["_seenAt"] + delay
        if sigterm_at is not None and time.time() >= sigterm_at:
            lines_at_sigterm = len(progress.epochs())
            sent = time.time()
            stopped = stop_group(trainer)
            break
        time.sleep(POLL_SECONDS)
    exit_code = trainer.wait()
    finish(trainer)
    progress.poll("fresh")
    check.step("freshRun", since)
    summary["windows"]["fresh"]["end"] = time.time()
    epochs = progress.epochs()
    if sent is None:
        check.check("interruption", False, f"the fresh run ended (exit {exit_code}) after {len(epochs)} epoch line(s), before the SIGTERM:\n{tail(log)}")
        return None
    summary["windows"]["fresh"]["sigterm"] = sent
    after = len(epochs) - lines_at_sigterm
    last_pt = paths["workdir"] / "phase-0" / "weights" / "last.pt"
    interruption = {
        "signal": "SIGTERM",
        "sentAfterSeconds": round(sent - since, 2),
        "delayAfterEpochLineSeconds": round(sent - epochs[0]["_seenAt"], 2) if epochs else None,
        "epochAtSigterm": lines_at_sigterm + 1,
        "linesBeforeSigterm": lines_at_sigterm,
        "linesAfterSigterm": after,
        "trainerExit": exit_code,
        "killedAfterGrace": stopped["killed"],
        "checkpointBytes": last_pt.stat().st_size if last_pt.exists() else None,
    }
    summary["interruption"] = interruption
    ok = 1 <= lines_at_sigterm < args.epochs and after == 0 and exit_code != 0 and last_pt.exists()
    interruption["ok"] = ok
    check.check(
        "interruption",
        ok,
        f"SIGTERM to the trainer's group in epoch {lines_at_sigterm + 1} of {args.epochs}, {interruption['delayAfterEpochLineSeconds']} s after the epoch-1 line; "
        f"exit {exit_code}{', SIGKILL after the grace period' if stopped['killed'] else ''}; {after} line(s) written after it; last.pt {'present' if last_pt.exists() else 'missing'}",
    )
    return interruption


def resume_run(check: Check, paths: Dict[str, Path], progress: Progress, logs: Path, interruption: Dict[str, Any]) -> None:
    args, summary = check.args, check.summary
    since = time.time()
    log = logs / "resume.log"
    checkpoint = paths["workdir"] / "phase-0" / "weights" / "last.pt"
    trainer = start_group([sys.executable, str(TRAIN_PY)], trainer_env(dict(os.environ), paths, args.device, check.onnx_runner, resume=checkpoint), log)
    summary["windows"]["resume"] = {"start": since}
    while trainer.poll() is None:
        progress.poll("resume")
        if check.deadline.passed():
            stop_group(trainer)
            check.step("resumeRun", since)
            check.check("resumed run", False, f"still running at the deadline, with {len(progress.epochs())} epoch line(s)")
            return
        time.sleep(POLL_SECONDS)
    exit_code = trainer.wait()
    finish(trainer)
    progress.poll("resume")
    check.step("resumeRun", since)
    summary["windows"]["resume"]["end"] = time.time()
    resumed = [line for line in progress.epochs() if line["_process"] == "resume"]
    interruption["resumedFromEpoch"] = resumed[0].get("epoch") if resumed else None
    interruption["resumedToEpoch"] = resumed[-1].get("epoch") if resumed else None
    result_path = paths["workdir"] / "result.json"
    result: Dict[str, Any] = {}
    if result_path.exists():
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except ValueError as error:
            result = {"_invalid": str(error)}
    if not check.check("resumed run", exit_code == 0 and result.get("status") == "completed", f"exit {exit_code}, result.json status {result.get('status')!r}" + ("" if exit_code == 0 else ":\n" + tail(log))):
        return
    interruption["resumedOk"] = interruption["resumedFromEpoch"] == interruption["epochAtSigterm"] and interruption["resumedToEpoch"] == args.epochs
    check.check(
        "resume continued",
        interruption["resumedOk"],
        f"the resumed trainer wrote epochs {interruption['resumedFromEpoch']}..{interruption['resumedToEpoch']} (expected {interruption['epochAtSigterm']}..{args.epochs})",
    )
    summary["result"] = {k: v for k, v in result.items() if k not in ("onnxExport",)}
    onnx = Path(str(result.get("onnx") or ""))
    if result.get("onnx") and not onnx.is_absolute():
        onnx = paths["workdir"] / onnx
    onnx_bytes = onnx.stat().st_size if result.get("onnx") and onnx.is_file() else None
    summary["onnx"] = {"file": str(onnx) if result.get("onnx") else None, "bytes": onnx_bytes, "export": result.get("onnxExport")}
    check.check("onnx file", bool(onnx_bytes), f"{onnx.name}: {onnx_bytes} bytes" if onnx_bytes else f"result.json names {result.get('onnx')!r}, which is not a file")
    verdict = onnx_verdict(result.get("onnxExport"))
    check.check("onnx vs pytorch", verdict[0], verdict[1])


def onnx_verdict(export: Any) -> tuple:
    """The trainer's ONNX-vs-PyTorch comparison: result.json's `onnxExport.check` (docker/trainer/onnx_check.py)."""
    if export is None:
        return None, "result.json has no onnxExport: this trainer does not compare the ONNX model with PyTorch (recorded as not checked)"
    check = export.get("check") if isinstance(export, dict) else None
    if isinstance(check, dict) and isinstance(check.get("passed"), bool):
        if not check["passed"]:
            return False, f"{check.get('reason') or 'no reason given'} ({json.dumps(check)[:400]})"
        return True, (
            f"{check.get('runtime')} {check.get('runtimeVersion')} on {check.get('images')} image(s): max abs diff {check.get('maxAbsDiff')} "
            f"(tolerance {check.get('tolerance')}), detections {json.dumps(check.get('detections'))}"
        )
    if isinstance(export, dict):
        for key in ("passed", "ok", "matches", "match", "equal"):
            if isinstance(export.get(key), bool):
                return export[key], f"onnxExport.{key} = {export[key]}: {json.dumps(export)[:500]}"
        status = export.get("status")
        if isinstance(status, str):
            good = status.lower() in ("ok", "passed", "pass", "match", "matched", "matches", "equal")
            return good, f"onnxExport.status = {status!r}: {json.dumps(export)[:500]}"
    return None, f"onnxExport has no pass/fail field this check knows: {json.dumps(export)[:500]}"


def measure(check: Check, progress: Progress, samples_file: Path, inventory: Dict[str, Any], indices: Optional[List[int]]) -> None:
    args, summary = check.args, check.summary
    epochs = progress.epochs()
    if not epochs and "interruption" not in summary:
        return

    # progress.jsonl: exactly one line per epoch 1..N of phase 0, nothing else.
    counts: Dict[int, int] = {}
    others = 0
    for line in progress.lines:
        if line.get("type") == "epoch" and line.get("phase") == 0 and line.get("epochs") == args.epochs and isinstance(line.get("epoch"), int):
            counts[line["epoch"]] = counts.get(line["epoch"], 0) + 1
        else:
            others += 1
    summary["progress"] = {"lines": len(progress.lines), "linesPerEpoch": {str(k): v for k, v in sorted(counts.items())}, "otherLines": others}
    if "resume" in summary.get("windows", {}):
        wrong = [f"epoch {e} has {counts.get(e, 0)} lines" for e in range(1, args.epochs + 1) if counts.get(e, 0) != 1]
        wrong += [f"epoch {e} is not an epoch of the run" for e in counts if not 1 <= e <= args.epochs]
        if others:
            wrong.append(f"{others} line(s) are not phase-0 epoch lines of {args.epochs} epochs")
        summary["progress"]["ok"] = not wrong
        check.check("progress.jsonl", not wrong, f"one line per epoch 1..{args.epochs}" if not wrong else "; ".join(wrong) + f" (expected exactly one line per epoch 1..{args.epochs})")

    # images/s per epoch, as the trainer measured it (training batches only).
    per_epoch = []
    seen_process = set()
    for line in epochs:
        first = line["_process"] not in seen_process
        seen_process.add(line["_process"])
        per_epoch.append({"epoch": line.get("epoch"), "process": line["_process"], "imagesPerSecond": line.get("imagesPerSecond"), "firstOfProcess": first, "seenAt": iso(line["_seenAt"])})
    rates = [e["imagesPerSecond"] for e in per_epoch if isinstance(e["imagesPerSecond"], (int, float))]
    steady = [e["imagesPerSecond"] for e in per_epoch if isinstance(e["imagesPerSecond"], (int, float)) and not e["firstOfProcess"]]
    summary["epochs"] = per_epoch
    summary["imagesPerSecond"] = {
        "median": percentile(rates, 0.5),
        "max": max(rates) if rates else None,
        "steadyMedian": percentile(steady, 0.5),
        "note": "training set size over the seconds of an epoch's training batches (progress.jsonl imagesPerSecond); steady = not the first epoch a trainer process trains (start-up, cudnn autotuning)",
    }
    check.check("images/s", bool(rates) and len(rates) == len(epochs) and all(r > 0 for r in rates), f"per epoch: {[e['imagesPerSecond'] for e in per_epoch]}")

    # GPU utilisation: steady windows are from one epoch line to the next line (or the SIGTERM) of
    # the same trainer process: an epoch's training batches and its validation, no start-up.
    windows = summary.get("windows", {})
    steady_windows, whole_windows = [], []
    for name in ("fresh", "resume"):
        w = windows.get(name)
        if not w:
            continue
        lines = [line["_seenAt"] for line in epochs if line["_process"] == name]
        end = w.get("sigterm") or (lines[-1] if lines else w.get("end"))
        if lines and end and end > lines[0]:
            steady_windows.append((lines[0], end))
        whole_windows.append((w["start"], end or w.get("end") or time.time()))
    gpu: Dict[str, Any] = {"median": None, "p10": None, "p90": None, "samples": 0, "reason": None}
    summary["gpuMemoryPeakMiB"] = None
    if indices is None:
        gpu["reason"] = "device cpu: no GPU trains" + ("" if inventory["count"] else f" ({inventory['reason']})")
    elif not inventory["count"]:
        gpu["reason"] = inventory["reason"]
    else:
        physical, mapping = physical_gpus(indices, inventory, os.environ.get("CUDA_VISIBLE_DEVICES"))
        read = read_samples(samples_file, physical)
        samples = read["samples"]
        gpu.update(utilisation_stats(samples, steady_windows))
        gpu["window"] = "from each trainer process's first epoch line to its last line (or the SIGTERM): epochs' training and validation, without start-up, final evaluation and export"
        gpu["wholeRuns"] = utilisation_stats(samples, whole_windows)
        gpu["wholeRuns"]["window"] = "from each trainer start to its last epoch line (or the SIGTERM)"
        gpu["allSamples"] = len(samples)
        gpu["unparsedLines"] = read["unparsed"]
        gpu["sampleIntervalMs"] = SAMPLE_MS
        gpu["devices"] = indices
        gpu["nvidiaSmiIndices"] = physical
        if mapping:
            gpu["deviceMapping"] = mapping
        memory = [s["memory"] for s in samples if s["memory"] is not None]
        summary["gpuMemoryPeakMiB"] = max(memory) if memory else None
        if not gpu["samples"]:
            gpu["reason"] = f"no nvidia-smi samples inside the training windows ({len(samples)} samples in all, {read['unparsed']} unparsed lines)"
        check.check("gpu utilisation", gpu["samples"] > 0, f"median {gpu['median']} % (p10 {gpu['p10']}, p90 {gpu['p90']}) over {gpu['samples']} samples; peak memory {summary['gpuMemoryPeakMiB']} MiB")
    summary["gpuUtilisation"] = gpu


def report(summary: Dict[str, Any], out: Path) -> None:
    print(f"gpu-check: {'PASSED' if summary['passed'] else 'FAILED'} in {summary['steps'].get('total')} s; summary {out}", flush=True)
    for item in summary["checks"]:
        mark = {True: "ok  ", False: "FAIL", None: "n/a "}[item["ok"]]
        print(f"  {mark} {item['name']}: {item['detail'].splitlines()[0] if item['detail'] else ''}", flush=True)
    for failure in summary["failures"]:
        if "\n" in failure:
            print(failure, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
