"""Shipped artifacts: what the course trained, stored in the package beside a fingerprint of what made it.

An artifact is a folder under :data:`SHIPPED` (``tlcourse/artifacts/files/NAME``) with the files its recipe
wrote (a model in Hugging Face's layout, a table of results) and :data:`FINGERPRINT_NAME`, which records:

- ``key``: everything that decided the artifact, as JSON: the recipe's fields, fingerprints of its training data
  and of the artifacts it was built on (:func:`fingerprint_of` hashes it into ``fingerprint``);
- ``files``: the SHA-256 of every file written, so an edited or truncated file is caught;
- ``built_with``: the torch version, CPU, CPU capability and thread count of the build (:func:`built_with`).

:func:`verified` is how the course loads one: it recomputes nothing itself but compares the key its caller
computed from today's recipe and data with the recorded one. A difference raises :class:`StaleArtifactError`,
which names the fields that changed and the command that rebuilds the artifact, so a changed recipe never gives
a silently stale model.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with building("toy", root=root) as folder:
    ...     _ = (folder / "weights.txt").write_text("1 2 3")
    ...     record = seal(folder, "toy", {"steps": 10})
    >>> record["fingerprint"] == fingerprint_of({"steps": 10}), sorted(record["files"])
    (True, ['weights.txt'])
    >>> verified("toy", {"steps": 10}, root=root).name
    'toy'
    >>> verified("toy", {"steps": 20}, root=root)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tlcourse.artifacts.shipped.StaleArtifactError: toy: ... (steps: 10 when built, 20 now); rebuild it with: ...
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

import torch

#: Where the shipped artifacts live: one folder per artifact.
SHIPPED = Path(__file__).resolve().parent / "files"
FINGERPRINT_NAME = "fingerprint.json"
BUILD_COMMAND = "python -m tlcourse.artifacts build"


class StaleArtifactError(RuntimeError):
    """A shipped artifact does not match the recipe or data that should have made it, or is missing."""


def fingerprint_of(key: dict[str, Any]) -> str:
    """A 16-hex-digit hash of ``key`` (JSON values; the order of dict keys does not matter).

    Example:
        >>> fingerprint_of({"a": 1, "b": [2, 3]}) == fingerprint_of({"b": [2, 3], "a": 1})
        True
    """
    if not isinstance(key, dict):
        raise TypeError(f"key: expected a dict of JSON values, got {type(key).__name__}")
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def file_digest(path: Path) -> str:
    """The SHA-256 of the file at ``path``, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_dir(name: str, *, root: Path = SHIPPED) -> Path:
    """The folder of the shipped artifact ``name`` (it may not exist)."""
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name: expected an artifact name such as 'world-bert', got {name!r}")
    return root / name


def _differences(built: Any, now: Any, where: str = "") -> list[str]:
    """Where two JSON values differ, as ``path: old when built, new now`` lines (dicts compared key by key)."""
    if isinstance(built, dict) and isinstance(now, dict):
        return [line for k in sorted(set(built) | set(now), key=str)
                for line in _differences(built.get(k, "absent"), now.get(k, "absent"), f"{where}.{k}" if where else k)]
    if built == now:
        return []
    return [f"{where or 'key'}: {json.dumps(built)[:80]} when built, {json.dumps(now)[:80]} now"]


def read_fingerprint(name: str, *, root: Path = SHIPPED) -> dict[str, Any]:
    """The fingerprint record of ``name``; :class:`StaleArtifactError` naming the build command if there is none."""
    path = artifact_dir(name, root=root) / FINGERPRINT_NAME
    if not path.is_file():
        raise StaleArtifactError(f"{name}: no shipped artifact at {path.parent}; build it with: {BUILD_COMMAND} {name}")
    return json.loads(path.read_text(encoding="utf-8"))


def verified(name: str, key: dict[str, Any], *, root: Path = SHIPPED) -> Path:
    """The folder of the shipped artifact ``name``, once checked: it was built from ``key`` (today's recipe and
    data, computed by the caller) and its files are the ones the build wrote. Otherwise :class:`StaleArtifactError`
    names what differs and the command that rebuilds it."""
    record = read_fingerprint(name, root=root)
    if record["fingerprint"] != fingerprint_of(key):
        changes = "; ".join(_differences(record["key"], json.loads(json.dumps(key)))[:4])
        raise StaleArtifactError(f"{name}: the shipped artifact was built from another recipe ({changes}); "
                                 f"rebuild it with: {BUILD_COMMAND} {name}")
    folder = artifact_dir(name, root=root)
    for file, digest in record["files"].items():
        if not (folder / file).is_file() or file_digest(folder / file) != digest:
            raise StaleArtifactError(f"{name}: {file} is missing or differs from the file the build wrote; "
                                     f"rebuild it with: {BUILD_COMMAND} {name}")
    return folder


@contextlib.contextmanager
def building(name: str, *, root: Path = SHIPPED) -> Iterator[Path]:
    """Yield an empty folder to write the artifact ``name`` into (then :func:`seal` it); on success it replaces
    the shipped folder, and the old one stays whole if the build fails."""
    final = artifact_dir(name, root=root)
    tmp = final.with_name(f".{name}.{uuid.uuid4().hex}.tmp")
    tmp.mkdir(parents=True)
    try:
        yield tmp
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def seal(folder: Path, name: str, key: dict[str, Any]) -> dict[str, Any]:
    """Write :data:`FINGERPRINT_NAME` into ``folder``: ``key`` and the digest of every file in it; returns it.
    Every file is made readable by all (the grader's sandbox runs student code as a user of its own)."""
    for path in folder.iterdir():
        path.chmod(0o644)
    files = {p.name: file_digest(p) for p in sorted(folder.iterdir()) if p.name != FINGERPRINT_NAME}
    record = {"name": name, "fingerprint": fingerprint_of(key), "key": key, "files": files,
              "built_with": built_with()}
    (folder / FINGERPRINT_NAME).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return record


def built_with() -> dict[str, Any]:
    """What decides floating-point results besides the recipe: torch's version, the CPU (its math libraries pick
    kernels by vendor and model, not only by instruction set), the kernels torch picks and its thread count. Two
    builds that agree here give the same weights."""
    return {"torch": torch.__version__, "cpu": _cpu_name(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads()}


def _cpu_name() -> str:
    """The CPU's vendor and model as the operating system names it (``/proc/cpuinfo`` on Linux)."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in lines if ":" in line)  # the last core's; all cores match
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    return " ".join(fields[k] for k in ("vendor_id", "model name") if fields.get(k)) or platform.machine()
