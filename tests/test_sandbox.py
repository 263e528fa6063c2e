"""The grader's sandbox against hostile and broken code: every run ends, with the status and reason the code
earned, and nothing it does reaches the grader, the network, hidden folders or outlives it.

A layer this machine does not grant (``isolation_available``) skips its test with the reason instead of passing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.sandbox import Limits, isolation_available, layers_for, run

SMALL = Limits(wall_seconds=10, cpu_seconds=3, memory_bytes=512 * 2**20, file_bytes=8 * 2**20, processes=16,
               output_bytes=50_000)


def _python(code: str, limits: Limits = SMALL, **options):
    return run([sys.executable, "-c", code], limits, **options)


def _needs(layer: str, result=None) -> None:
    state = (result.isolation if result is not None else isolation_available())[layer]
    if state != "on":
        pytest.skip(f"isolation layer {layer!r} is {state}")


def test_a_normal_program_runs_and_its_output_comes_back():
    result = _python("import sys; print('out'); print('err', file=sys.stderr)")
    assert (result.status, result.reason, result.returncode) == ("ok", "", 0)
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert set(result.isolation) == {"limits", "wall time", "output", "environment", "user", "network",
                                     "processes", "filesystem"}


@pytest.mark.parametrize("code, status, reason", [
    ("import time; time.sleep(60)", "timeout", "it ran longer than the limit of 2 s and was stopped"),
    ("input()", "error", "EOFError"),                                          # no terminal to block on
    ("while True: pass", "resource limit", "it used more than 1 s of CPU time"),
    ("x = bytearray(2 * 1024**3)", "resource limit", "it needed more than 512 MiB of memory"),
    ("open('big', 'wb').write(b'x' * 2**24)", "resource limit", "it wrote a file larger than 8,388,608 bytes"),
    ("import sys\nwhile True: sys.stdout.write('x' * 4096)", "resource limit",
     "it wrote more than 50,000 bytes of output and was stopped"),
    ("import os; os._exit(3)", "error", "it exited with code 3"),
    ("raise SystemExit(0)", "ok", ""),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "died", "the process was killed by SIGKILL"),
    ("import ctypes; ctypes.string_at(0)", "died", "the process was killed by SIGSEGV"),
])
def test_each_way_of_ending_gets_its_status_and_reason(code, status, reason):
    start = time.perf_counter()
    result = _python(code, Limits(**{**SMALL.__dict__, "wall_seconds": 2, "cpu_seconds": 1}))
    assert (result.status, reason in result.reason) == (status, True), (result.reason, result.stderr[-300:])
    assert time.perf_counter() - start < 8


def test_the_environment_is_scrubbed_and_home_is_new_and_empty(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "s3cret")
    result = _python("import os; print(sorted(os.environ)); print(os.listdir(os.environ['HOME']), os.getcwd())")
    names, listing = result.stdout.splitlines()
    assert "GRADER_SECRET" not in names and "s3cret" not in result.stdout
    assert listing.startswith("[] ") and listing.split()[-1].split("/")[-1].startswith("sandbox-")


def test_code_runs_as_an_unprivileged_user_and_forks_are_bounded():
    result = _python("import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
                     "            import time; time.sleep(3); os._exit(0)\n        n += 1\n"
                     "except OSError:\n    print(os.getuid(), n)")
    _needs("user", result)
    uid, forks = map(int, result.stdout.split())
    assert uid != 0 and forks < SMALL.processes


def test_no_network():
    _needs("network")
    result = _python("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=3)\n"
                     "except OSError as error:\n    print(error.errno)\nprint(socket.if_nameindex())")
    errno, interfaces = result.stdout.splitlines()
    assert errno == "101" and interfaces == "[(1, 'lo')]"  # ENETUNREACH; only a loopback, and it is down


def test_hidden_folders_are_empty_and_read_only():
    _needs("filesystem")
    root = Path(tempfile.mkdtemp())  # under /tmp, which the sandbox's user may traverse (pytest's tmp_path: no)
    try:
        secret = root / "solutions"
        secret.mkdir()
        (secret / "answers.txt").write_text("hidden tests")
        result = _python(f"import os; print(os.listdir({str(secret)!r}))\nopen({str(secret / 'x')!r}, 'w')",
                         hidden=[secret], readable=[root])
        assert result.stdout == "[]\n" and "Read-only file system" in result.stderr
        assert (secret / "answers.txt").read_text() == "hidden tests" and not (secret / "x").exists()
    finally:
        shutil.rmtree(root)


def test_a_shared_folder_is_read_only_and_named_by_its_variable(tmp_path):
    _needs("filesystem")
    cache = tmp_path / "cache"  # inside a 0700 folder: the bind mount reaches it all the same
    (cache / "trained").mkdir(parents=True)
    (cache / "trained" / "model.txt").write_text("weights")
    result = _python("import os, pathlib\n"
                     "cache = pathlib.Path(os.environ['TLCOURSE_CACHE'])\n"
                     "print(cache.parent.parent == pathlib.Path.home(), (cache / 'trained' / 'model.txt').read_text())\n"
                     "(cache / 'trained' / 'model.txt').write_text('changed')", shared={"TLCOURSE_CACHE": cache})
    assert result.stdout == "True weights\n" and "Read-only file system" in result.stderr
    assert (cache / "trained" / "model.txt").read_text() == "weights"


def test_scratch_folders_are_the_runs_own_and_empty():
    _needs("filesystem")
    outside = Path(tempfile.mkdtemp()) / "left-by-someone-else"
    outside.write_text("a note")
    try:
        code = (f"import os\nprint(os.path.exists({str(outside)!r}))\n"
                "for folder in ('/tmp', '/var/tmp', '/dev/shm'):\n"
                "    open(os.path.join(folder, 'sandbox-leftover'), 'w').write('x')\n")
        result = _python(code)
        assert (result.status, result.stdout) == ("ok", "False\n")
        assert not any(Path(folder, "sandbox-leftover").exists() for folder in ("/tmp", "/var/tmp", "/dev/shm"))
    finally:
        shutil.rmtree(outside.parent)


def test_no_process_outlives_the_run():
    _needs("processes")
    result = _python("import subprocess; subprocess.Popen(['sleep', '4321'], start_new_session=True); print('bye')")
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", "sleep 4321"], capture_output=True, text=True).stdout
    assert result.status == "ok" and left == ""


def test_bad_arguments_get_clear_errors():
    with pytest.raises(TypeError, match="argv: expected a non-empty list of str, got 'python -c 1'"):
        run("python -c 1")
    with pytest.raises(ValueError, match="wall_seconds: expected a positive number, got 0"):
        Limits(wall_seconds=0)


def test_what_the_sandbox_user_may_not_use_turns_the_user_layer_off_and_says_why():
    root = Path(tempfile.mkdtemp())  # mode 0700: only its owner may enter
    try:
        (root / "tool").write_text("#!/bin/sh\necho ran\n")
        (root / "tool").chmod(0o700)  # its owner's only
        (root / "script.py").write_text("print('script ran')\n")
        result = run([str(root / "tool")], SMALL)
        assert result.stdout == "ran\n"
        script = _python_file(root / "script.py")
        assert script.stdout == "script ran\n"
        if isolation_available()["user"] == "on":
            assert result.isolation["user"] == (f"off: uid 65534 may not use {root / 'tool'} (a folder on its way "
                                                "is closed to other users)")
            assert script.isolation["user"].startswith("off: uid 65534 may not use ")
        # what the grade report shows is what the runs got
        assert layers_for([str(root / "tool")])["user"] == result.isolation["user"]
        assert layers_for([sys.executable, str(root / "script.py")])["user"] == script.isolation["user"]
    finally:
        shutil.rmtree(root)


def _python_file(path: Path):
    return run([sys.executable, str(path)], SMALL)


def test_without_namespaces_the_limits_still_hold_and_the_report_says_what_is_off(monkeypatch):
    import autograder.sandbox as sandbox

    off = "off: unshare failed (a machine without namespaces)"
    monkeypatch.setattr(sandbox, "isolation_available",
                        lambda: {"user": "off: not root", "network": off, "processes": off, "filesystem": off})
    result = _python("print('still runs')")
    assert (result.status, result.stdout) == ("ok", "still runs\n")
    assert result.isolation["network"] == off and result.isolation["limits"] == "on"
    assert _python("x = bytearray(2 * 1024**3)").status == "resource limit"
    assert _python("import time; time.sleep(60)", Limits(**{**SMALL.__dict__, "wall_seconds": 1})).status == "timeout"
