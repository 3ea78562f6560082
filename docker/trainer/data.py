"""The `data` argument for ultralytics.

A built-in dataset is passed by its yaml name; ultralytics downloads it into its datasets_dir.
A mounted dataset is the data.yaml on the read-only mount. ultralytics resolves a relative
`path:` in that yaml against its own datasets_dir, not against the yaml's folder, so a yaml
written as `path: .` or `path: widgets` would point outside the mount. Such a yaml is copied to
`<workdir>/data.yaml` with `path:` made absolute (relative to the yaml's folder); the copy's
location does not depend on the node, so a resumed run finds it again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .spec import InputError

DEFAULT_MOUNT = "/data"
REWRITTEN_NAME = "data.yaml"


def data_argument(data: dict[str, Any], workdir: Path, mount: str = DEFAULT_MOUNT) -> str:
    if data["kind"] == "builtin":
        return data["yaml"]
    return mounted_yaml(data["yamlPath"], workdir, mount)


def mounted_yaml(yaml_path: str, workdir: Path, mount: str = DEFAULT_MOUNT) -> str:
    import yaml  # PyYAML: an ultralytics dependency, so it is in the image

    mount_dir = os.path.normpath(mount)
    source = os.path.normpath(yaml_path)
    if mount_dir != DEFAULT_MOUNT and _inside(source, DEFAULT_MOUNT):
        # The spec names the node's mount (/data/...); here the mount is elsewhere (a test's folder).
        source = os.path.normpath(os.path.join(mount_dir, os.path.relpath(source, DEFAULT_MOUNT)))
    if not _inside(source, mount_dir):
        raise InputError(f"data yaml {yaml_path} is not under the dataset mount {mount_dir}")
    try:
        with open(source, encoding="utf-8") as handle:
            content = yaml.safe_load(handle)
    except FileNotFoundError as error:
        raise InputError(f"data yaml {yaml_path} does not exist on the dataset mount {mount_dir}") from error
    except (OSError, yaml.YAMLError) as error:
        raise InputError(f"data yaml {yaml_path} is not readable YAML: {error}") from error
    if not isinstance(content, dict):
        raise InputError(f"data yaml {yaml_path} must be a mapping with train, val and names")

    root = content.get("path")
    if root in (None, ""):
        return source  # ultralytics uses the yaml's own folder, which is on the mount
    if not isinstance(root, str):
        raise InputError(f"data yaml {yaml_path}: path must be a string, not {root!r}")
    absolute = os.path.normpath(root if os.path.isabs(root) else os.path.join(os.path.dirname(source), root))
    if not _inside(absolute, mount_dir):
        raise InputError(
            f"data yaml {yaml_path}: path {root!r} resolves to {absolute}, outside the dataset mount {mount_dir}; "
            "write it relative to the yaml's folder (e.g. path: .)"
        )
    if os.path.isabs(root):
        return source

    copy = workdir / REWRITTEN_NAME
    workdir.mkdir(parents=True, exist_ok=True)
    rewritten = {**content, "path": absolute}
    tmp = copy.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(rewritten, sort_keys=False), encoding="utf-8")
    os.replace(tmp, copy)
    return str(copy)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")
