"""Run untrusted code in a separate process, with limits and as much isolation as this machine allows.

:func:`run` starts ``argv`` in a fresh process and waits for it, at most ``limits.wall_seconds``. Each layer of
isolation is either on or reported off with the reason (:attr:`SandboxResult.isolation`), never silently
skipped:

==============  =====================================================================================================
``limits``      ``RLIMIT_CPU`` (CPU seconds), ``RLIMIT_AS`` (memory), ``RLIMIT_FSIZE`` (bytes per file written),
                ``RLIMIT_NOFILE`` and no core dumps; always on
``wall time``   the whole process tree is killed at ``wall_seconds``; always on
``output``      stdout and stderr are kept up to ``output_bytes`` each; past that the tree is killed
``environment`` only ``PATH``, ``LANG`` and a thread count (``OMP_NUM_THREADS``, where the grader sets one) pass,
                ``HOME`` and ``TMPDIR`` are a new empty folder; always on
``user``        as root: the code runs as the unprivileged ``uid`` (``setpriv``), with ``RLIMIT_NPROC`` on the
                processes of that user (a limit per user: it would count the grader's own under a shared uid)
                and root-only files out of reach
``network``     a new network namespace without interfaces (``unshare --net``): no connection leaves the process
``processes``   a new PID namespace: when the code ends, every process it started ends with it
``filesystem``  a new mount namespace in which ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are new, empty and the run's
                own (``tmpfs`` of ``file_bytes``), each ``hidden`` folder is covered by an empty read-only ``tmpfs`` (a
                file by an empty read-only file), and
                each ``shared`` folder (the course cache) is bound read-only into the new ``HOME``
==============  =====================================================================================================

The namespaces come from util-linux's ``unshare`` (as root, or as any user where unprivileged user namespaces
are allowed); :func:`isolation_available` probes once which layers this machine grants.

Example:
    >>> import sys
    >>> result = run([sys.executable, "-c", "print(6 * 7)"], Limits(wall_seconds=30))
    >>> result.status, result.stdout
    ('ok', '42\\n')
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import resource
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

#: The uid untrusted code runs as when the grader is root (``nobody``).
NOBODY = 65534
STATUSES = ("ok", "error", "timeout", "resource limit", "died")
PR_SET_PDEATHSIG = 1  # prctl(2)
#: The world-writable folders each run gets new and empty copies of (where the filesystem layer is on).
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
#: The environment variable that caps the threads of torch (OpenMP) in a run; :func:`threads_per_run` sets it.
THREADS = "OMP_NUM_THREADS"


@dataclass(frozen=True)
class Limits:
    """What one sandboxed process may use. ``processes`` counts every process of the sandbox's user, and applies
    only where the code runs as a user of its own (the ``user`` layer)."""

    wall_seconds: float = 300.0
    cpu_seconds: int = 300
    memory_bytes: int = 4 * 2**30
    file_bytes: int = 256 * 2**20
    open_files: int = 256
    processes: int = 64
    output_bytes: int = 2**20

    def __post_init__(self) -> None:
        for name in ("wall_seconds", "cpu_seconds", "memory_bytes", "file_bytes", "open_files", "processes",
                     "output_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name}: expected a positive number, got {value!r}")


@dataclass
class SandboxResult:
    """How a sandboxed process ended.

    ``status``: ``"ok"`` (exit code 0), ``"error"`` (another exit code), ``"timeout"`` (killed at the wall-time
    limit, or when ``watch`` said so), ``"resource limit"`` (CPU time, memory, file size or output over its limit) or ``"died"`` (killed by
    a signal it did not get from us: a segfault, ``SIGKILL`` of itself). ``reason`` says which, in words.
    """

    status: str
    reason: str
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    isolation: dict[str, str] = field(default_factory=dict)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@functools.lru_cache(maxsize=None)
def isolation_available() -> dict[str, str]:
    """Which optional layers (``user``, ``network``, ``processes``, ``filesystem``) this machine grants: ``"on"``
    or ``"off: <why>"``. Probed once by starting ``unshare`` with every namespace."""
    root = os.geteuid() == 0
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    if unshare is None:
        off = "off: util-linux's unshare is not installed"
        return {"user": "on" if root and setpriv else "off: not root", "network": off, "processes": off,
                "filesystem": off}
    probe = [unshare, *_namespace_flags(root), "true"]
    try:
        granted = subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
        why = "" if granted else subprocess.run(probe, capture_output=True, text=True, timeout=30).stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as error:
        granted, why = False, str(error)
    namespaces = "on" if granted else f"off: unshare failed ({why or 'no namespaces for this user'})"
    if not root:
        user = "off: not root, the code runs as the grader's own user"
    elif setpriv is None:
        user = "off: util-linux's setpriv is not installed"
    else:
        user = "on" if granted else "off: needs the mount namespace to hand the folders over"
    return {"user": user, "network": namespaces, "processes": namespaces, "filesystem": namespaces}


def _namespace_flags(root: bool) -> list[str]:
    user = [] if root else ["--user", "--map-root-user"]
    return [*user, "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]


def _set_limits(limits: Limits, own_user: bool) -> None:
    """In the child, before ``exec``: a session of its own, death with the grader (so that a grader killed with
    ``kill -9`` leaves no sandbox behind) and the resource limits (the process count only when the code runs as a
    user of its own)."""
    os.setsid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    for which, value in ((resource.RLIMIT_CPU, (int(limits.cpu_seconds), int(limits.cpu_seconds) + 1)),
                         (resource.RLIMIT_AS, (limits.memory_bytes,) * 2),
                         (resource.RLIMIT_FSIZE, (limits.file_bytes,) * 2),
                         (resource.RLIMIT_NOFILE, (limits.open_files,) * 2),
                         (resource.RLIMIT_CORE, (0, 0))):
        resource.setrlimit(which, value)
    if own_user:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes,) * 2)


def _wrapped(argv: Sequence[str], hidden: Sequence[Path], shared: dict[Path, Path], home: Path, uid: int,
             layers: dict[str, str], keep: list[Path], scratch_bytes: int) -> list[str]:
    """``argv`` inside the namespaces: cover the hidden paths with empty tmpfs, bind each shared folder read-only
    at its place in ``home``, give the run scratch folders of its own (keeping ``keep``), then drop to ``uid``."""
    if layers["filesystem"] != "on":
        return list(argv)
    root = os.geteuid() == 0
    steps = ["mount --make-rprivate /"]
    steps += [f"mount -t tmpfs -o ro,size=4k,mode=0555 hidden {shlex.quote(str(p))}" for p in hidden if p.is_dir()]
    # a file is covered by an empty read-only file (not /dev/null: a read-only mount still lets a device be written)
    steps += [f"mount --bind -o ro {shlex.quote(str(_cover(home)))} {shlex.quote(str(p))}" for p in hidden
              if p.exists() and not p.is_dir()]
    for source, target in shared.items():
        source_, target_ = shlex.quote(str(source)), shlex.quote(str(target))
        steps += [f"mkdir -p {target_}", f"mount --bind {source_} {target_}", f"mount -o remount,bind,ro {target_}"]
    steps += _private_scratch(keep, scratch_bytes)
    command = " ".join(shlex.quote(a) for a in argv)
    if root and layers["user"] == "on":
        command = f"setpriv --reuid={uid} --regid={uid} --clear-groups --inh-caps=-all {command}"
    # not exec: the shell (PID 1 of the new namespace) reports a signal as exit code 128 + its number
    script = " && ".join(steps) + f" && cd {shlex.quote(str(home))} && {{ {command}; }}; exit $?"
    return [shutil.which("unshare"), *_namespace_flags(root), "sh", "-c", script]


def _cover(home: Path) -> Path:
    """The empty read-only file beside ``home`` that covers each hidden file of the run."""
    return home.with_name(home.name + ".empty")


def _private_scratch(keep: list[Path], size: int) -> list[str]:
    """Shell steps that replace each of :data:`SCRATCH` with a new tmpfs of ``size`` bytes, its own to this run (so
    nothing the code leaves there outlives it or reaches another run), with the ``keep`` folders inside it bound
    back. The new tmpfs hides their paths, so each is opened first and bound from its descriptor."""
    steps, descriptor = [], 3
    for scratch in (Path(p).resolve() for p in SCRATCH if Path(p).is_dir()):
        inside = [p for p in keep if p.is_relative_to(scratch) and p != scratch]
        inside = [p for p in inside if not any(p != q and p.is_relative_to(q) for q in inside)]  # outermost only
        opened = list(enumerate(inside, start=descriptor))
        descriptor += len(opened)
        steps += [f"exec {n}<{shlex.quote(str(p))}" for n, p in opened]
        steps.append(f"mount -t tmpfs -o size={size},mode=1777 scratch {shlex.quote(str(scratch))}")
        for n, path in opened:
            steps += [f"mkdir -p {shlex.quote(str(path))}",
                      f"mount --no-canonicalize --rbind /proc/self/fd/{n} {shlex.quote(str(path))}", f"exec {n}<&-"]
    if descriptor > 10:  # the shell opens descriptors 3 to 9 only
        raise ValueError(f"keep: expected at most 7 folders in {', '.join(SCRATCH)}, got {descriptor - 3}")
    return steps


def _reader(stream, cap: int, chunks: list[bytes], over: threading.Event) -> None:
    """Read ``stream`` to its end, keeping the first ``cap`` bytes; set ``over`` when more came."""
    kept = 0
    for chunk in iter(lambda: stream.read(65536), b""):
        if kept < cap:
            chunks.append(chunk[: cap - kept])
        kept += len(chunk)
        if kept > cap:
            over.set()


def _kill_tree(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(argv: Sequence[str], limits: Limits = Limits(), *, hidden: Sequence[str | Path] = (),
        readable: Sequence[str | Path] = (), shared: Mapping[str, str | Path] = {}, keep: Sequence[str | Path] = (),
        uid: int = NOBODY, stdin: bytes = b"", watch: Callable[[], str | None] | None = None) -> SandboxResult:
    """Run ``argv`` sandboxed (module docstring) and return how it ended; never raises for what the code does.

    ``hidden``: folders the code must not see (covered where the filesystem layer is on). ``readable``: folders
    or files the code needs that ``uid`` may not be allowed to read otherwise (e.g. its inputs); they are made
    readable to all. ``shared``: environment variable -> folder the code may read but not change (the course
    cache, ``{"TLCOURSE_CACHE": ...}``): the folder is made readable to all and bound read-only at
    ``HOME/.shared/<variable>``, which the variable names; without the filesystem layer the variable names the
    folder itself, writable (the report says the layer is off). ``stdin``: what the process reads on its standard
    input, then end of file. ``keep``: folders the code needs that may lie in a scratch folder (``/tmp``): the
    run gets scratch folders of its own, with ``keep``, ``HOME``, ``readable``, the program's environment and the
    folders of the files in ``argv`` bound in. The working directory is the new, empty ``HOME``, removed afterwards.
    ``watch``: called about every 20 ms while the process runs; a reason it returns stops the run as a
    ``"timeout"`` with that reason (the stages of a grading run have budgets of their own: :mod:`autograder.remote`).
    """
    if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
        raise TypeError(f"argv: expected a non-empty list of str, got {argv!r}")
    if not isinstance(limits, Limits):
        raise TypeError(f"limits: expected a Limits, got {type(limits).__name__}")
    for variable, folder in shared.items():
        if not (isinstance(variable, str) and variable.isidentifier() and Path(folder).is_dir()):
            raise ValueError(f"shared: expected environment variable names -> existing folders, got "
                             f"{variable!r} -> {str(folder)!r}")
    layers = {"limits": "on", "wall time": "on", "output": "on", "environment": "on", **isolation_available()}
    home = Path(tempfile.mkdtemp(prefix="sandbox-"))
    cover = _cover(home)
    cover.touch(mode=0o444)
    try:
        for path in [*map(Path, readable), *map(Path, shared.values())]:
            _make_readable(path)
        layers.update(layers_for(argv, uid, readable))
        if os.geteuid() == 0 and layers["user"] == "on":
            os.chown(home, uid, uid)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(home),
               "TMPDIR": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
        if os.environ.get(THREADS, "").isdigit():  # runs side by side share the cores instead of fighting for them
            env[THREADS] = os.environ[THREADS]
        bound = layers["filesystem"] == "on"
        mounts = {Path(folder).resolve(): home / ".shared" / variable for variable, folder in shared.items()}
        env.update({variable: str(target if bound else source)
                    for variable, (source, target) in zip(shared, mounts.items())})
        program = Path(shutil.which(argv[0]) or argv[0])
        venv = [program.parent.parent] if (program.parent.parent / "pyvenv.cfg").exists() else []
        needed = [home, *map(Path, readable), *map(Path, keep), program.parent, *venv,
                  *(Path(a) if Path(a).is_dir() else Path(a).parent for a in argv[1:] if Path(a).exists())]
        command = _wrapped(argv, [Path(p).resolve() for p in hidden], mounts if bound else {}, home, uid, layers,
                           [p.resolve() for p in needed], limits.file_bytes)
        return _supervise(command, limits, env, home, layers, stdin, watch)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        cover.unlink(missing_ok=True)


def layers_for(argv: Sequence[str], uid: int = NOBODY, readable: Sequence[str | Path] = ()) -> dict[str, str]:
    """The optional layers a run of ``argv`` as ``uid`` gets: :func:`isolation_available`, with the user layer
    off where ``uid`` may not use the program or its files (a folder on their way closed to other users, as in a
    clone made inside a private folder): the code then runs as the grader's own user, without a process-count
    limit."""
    layers = dict(isolation_available())
    blocked = _blocked(uid, argv, readable) if layers["user"] == "on" else None
    if blocked is not None:
        layers["user"] = f"off: uid {uid} may not use {blocked} (a folder on its way is closed to other users)"
    return layers


def _blocked(uid: int, argv: Sequence[str], readable: Sequence[str | Path]) -> str | None:
    """What of the run ``uid`` may not use, asked as that user, or None: the program (``program --version`` must
    succeed, since some filesystems let ``execve`` through where ``access(2)`` says no), then, with ``test -r``, the
    files named in ``argv``, the ``readable`` paths and a virtual environment's ``pyvenv.cfg``."""
    program = shutil.which(argv[0])
    if program is None:
        return argv[0]
    as_uid = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    if subprocess.run([*as_uid, program, "--version"], capture_output=True, timeout=30).returncode != 0:
        return program
    venv = Path(program).parent.parent / "pyvenv.cfg"
    paths = [a for a in argv[1:] if Path(a).exists()] + [str(p) for p in readable] + ([str(venv)] if venv.exists()
                                                                                         else [])
    for path in paths:
        if subprocess.run([*as_uid, "test", "-r", path], capture_output=True, timeout=30).returncode != 0:
            return path
    return None


def _make_readable(path: Path) -> None:
    for p in [path, *(path.rglob("*") if path.is_dir() else ())]:
        mode, wanted = p.stat().st_mode, 0o555 if p.is_dir() else 0o444
        if mode & wanted != wanted:
            p.chmod(mode | wanted)


def _feed(stream, data: bytes) -> None:
    """Write ``data`` to the process's standard input and close it (a process that stops reading ends the write)."""
    try:
        stream.write(data)
        stream.close()
    except (BrokenPipeError, OSError):
        pass


def _supervise(command: list[str], limits: Limits, env: dict[str, str], home: Path,
               layers: dict[str, str], stdin: bytes, watch: Callable[[], str | None] | None) -> SandboxResult:
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, cwd=home,
                               preexec_fn=functools.partial(_set_limits, limits, layers["user"] == "on"))
    out, err, over = [], [], threading.Event()
    threads = [threading.Thread(target=_reader, args=(s, limits.output_bytes, chunks, over), daemon=True)
               for s, chunks in ((process.stdout, out), (process.stderr, err))]
    threads.append(threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True))
    for thread in threads:
        thread.start()
    stopped = ""  # why the run was stopped for taking too long
    while process.poll() is None:
        if over.is_set():
            break
        if time.perf_counter() - start > limits.wall_seconds:
            stopped = f"it ran longer than the limit of {limits.wall_seconds:g} s and was stopped"
            break
        stopped = (watch() if watch is not None else None) or ""
        if stopped:
            break
        time.sleep(0.02)
    _kill_tree(process)
    process.wait()
    for thread in threads:
        thread.join(timeout=5)
    seconds = time.perf_counter() - start
    stdout, stderr = (b"".join(c).decode("utf-8", "replace") for c in (out, err))
    status, reason = ("timeout", stopped) if stopped else _verdict(process.returncode, over.is_set(), stderr, limits)
    return SandboxResult(status, reason, process.returncode, stdout, stderr, seconds, layers)


def _verdict(code: int, flooded: bool, stderr: str, limits: Limits) -> tuple[str, str]:
    if flooded:
        return "resource limit", f"it wrote more than {limits.output_bytes:,} bytes of output and was stopped"
    if code == 0:
        return "ok", ""
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if code < 0 or code > 128:  # a signal: -n from Popen, 128 + n from the namespace's shell
        number = -code if code < 0 else code - 128
        if number == signal.SIGXCPU:
            return "resource limit", f"it used more than {limits.cpu_seconds} s of CPU time"
        if number == signal.SIGXFSZ:
            return "resource limit", f"it wrote a file larger than {limits.file_bytes:,} bytes"
        return "died", f"the process was killed by {_signal_name(number)}"
    if "File too large" in last:  # Python ignores SIGXFSZ: the write fails with EFBIG
        return "resource limit", f"it wrote a file larger than {limits.file_bytes:,} bytes"
    if last.startswith("MemoryError") or "Cannot allocate memory" in last:
        return "resource limit", f"it needed more than {limits.memory_bytes / 2**20:,.0f} MiB of memory"
    return "error", f"it exited with code {code}" + (f": {last[:300]}" if last else "")


@contextlib.contextmanager
def threads_per_run(runs: int) -> Iterator[None]:
    """While ``runs`` sandboxes run side by side, give each an equal share of the cores (:data:`THREADS`, for the
    processes started meanwhile), unless the grader's environment already sets it: torch's default of one thread
    per core in every run makes them spin against each other.

    Example:
        >>> saved = os.environ.pop(THREADS, None)
        >>> with threads_per_run(2 * (os.cpu_count() or 1)):
        ...     os.environ[THREADS]
        '1'
        >>> THREADS in os.environ
        False
        >>> os.environ.update({THREADS: saved} if saved is not None else {})
    """
    if THREADS in os.environ:
        yield
        return
    os.environ[THREADS] = str(max(1, (os.cpu_count() or 1) // max(1, runs)))
    try:
        yield
    finally:
        del os.environ[THREADS]
