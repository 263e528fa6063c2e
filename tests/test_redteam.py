"""Red team: hostile and broken submissions against the hardened grader (:mod:`autograder.hardened`).

Each case starts from the instructor's answers in the released notebook of 04_pretraining_clm (07_peft where a case
needs its exercise), changes what a student could change, and states the exact score and per-test status a fair,
hardened grader gives it, and a word of the reason. Together they show that:

* a wrong answer never passes: not by lying objects, patched comparison helpers, builtins or references, edited
  test cells, hidden tracebacks, forged result files or a borrowed reference;
* a right answer is never lost to what is harmless (IPython hooks that cannot run, redirected or noisy streams,
  ``sys.exit`` in a cell, renamed or old-format files, extra or duplicated cells);
* what ends the process (exits, signals, segfaults, hangs, bombs, floods) costs the unfinished exercises only, with
  the status that says why, and never stops the grader;
* the student's code sees nothing it must not (solutions, the gradebook, other students, the network), changes
  nothing outside its run (gradebook, other submissions, the course cache, files for the next student), leaves no
  process behind, and gets the same grade whenever and in whatever order it is graded.

Every expectation is the fair one, checked against what the grader gives. Every test notebook is graded at most
once per session (``graded``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import nbformat
import pytest

import autograder.hardened as hardened
from autograder.course import REPO
from autograder.examples import BUGS, _answer_cells, _solved
from autograder.hardened import grade_submission
from autograder.remote import Budgets, isolation
from autograder.sandbox import Limits
from tlcourse.data import world_bpe, world_corpus
from tlcourse.data.cache import cache_dir

CLM = "04_pretraining_clm"
PEFT = "07_peft"
POINTS = {CLM: {"test_causal_mask": 2.0, "test_shift_for_clm": 3.0, "test_clm_loss": 5.0, "test_pack_blocks": 5.0},
          PEFT: {"test_adapter_forward": 3.0, "test_adapter_parameter_count": 2.0, "test_lora_forward": 3.0,
                 "test_merge_lora": 2.0, "test_bitfit_parameters": 2.0, "test_prompt_inputs": 3.0}}
# The correct 04 notebook needs ~6 s of CPU and ~0.4 GiB (12 s and 1.2 GiB for 07).
LIMITS = Limits(wall_seconds=60, cpu_seconds=60, memory_bytes=2 * 2**30, file_bytes=32 * 2**20)
# The process-count limit holds only where the student's code runs as a user of its own (the sandbox's user
# layer); without it (not root, or a clone inside a folder closed to other users) a fork bomb runs until the wall
# clock stops it, and the grade report says the layer is off.
OWN_USER = isolation()["user"]
pytestmark = pytest.mark.grading

NEEDS_OWN_USER = pytest.mark.skipif(OWN_USER != "on", reason=f"needs the sandbox's user layer, which is {OWN_USER}")
HANG = Limits(wall_seconds=30, cpu_seconds=60, memory_bytes=2 * 2**30)   # a process that sleeps: the wall clock
SPIN = Limits(wall_seconds=90, cpu_seconds=15, memory_bytes=2 * 2**30)   # a process that spins: CPU time
# The attacks on the process's limits run without time budgets, which would stop a hanging call first
# (tests/test_remote.py tests the budgets).
UNBUDGETED = Budgets(cell_seconds=math.inf, call_seconds=math.inf)
SLOW = Limits(wall_seconds=180, cpu_seconds=180, memory_bytes=3 * 2**30)  # 07's setup cells time a training step
WRONG_MASK = BUGS["02_attention"]["causal_mask"]      # top-left triangle: wrong whenever Tk > Tq
WRONG_SHIFT = BUGS[CLM]["shift_for_clm"]              # inputs and targets swapped
@dataclass
class World:
    """What exists outside the student's run: the grader's folders (hidden from it), a host listener, a course
    cache file, and a marker naming every file or process a case tries to leave behind."""

    root: Path
    gradebook: Path
    other_student: Path
    cache_file: Path
    listener: socket.socket
    marker: str

    @property
    def hidden(self) -> list[Path]:
        return [self.gradebook.parent, self.root / "submitted"]

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]


def _public_folders(prefix: str) -> tuple[Path, str]:
    """A fresh folder outside pytest's (0700) tmp dirs and outside /tmp (each run has a /tmp of its own), open to
    the sandbox's user, and a unique marker."""
    (REPO / "work").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=REPO / "work"))
    root.chmod(0o755)
    return root, f"{root.name}-left"


def _plant(root: Path) -> tuple[Path, Path]:
    """A fake gradebook and another student's submission under ``root``, readable and writable by anyone: only the
    grader's hiding keeps them from the student's code."""
    gradebook = root / "grader" / "gradebook.db"
    other = root / "submitted" / "ada" / CLM / f"{CLM}.ipynb"
    for path, text in ((gradebook, "ada,04_pretraining_clm,15\n"), (other, "{\"cells\": []}\n")):
        path.parent.mkdir(parents=True)
        path.write_text(text)
        path.chmod(0o666)
        for folder in path.parents:
            if folder == root:
                break
            folder.chmod(0o777)
    return gradebook, other


def _leftovers(marker: str) -> list[Path]:
    """Files or folders named with ``marker`` in the places any user may write on this machine."""
    return [p for folder in ("/tmp", "/var/tmp", "/dev/shm") if Path(folder).is_dir()
            for p in Path(folder).glob(f"{marker}*")]


def _remove(paths) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def world():
    world_corpus(), world_bpe(1024)  # the course cache, prepared as the grader does: 04's setup cells load them
    root, marker = _public_folders("redteam-")
    gradebook, other = _plant(root)
    cache_file = cache_dir() / f"{marker}-cached.txt"
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text("trained weights\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    yield World(root, gradebook, other, cache_file, listener, marker)
    listener.close()
    _remove([root, cache_file, *_leftovers(marker)])


# --- building submissions --------------------------------------------------------------------------------------

Build = Callable[[nbformat.NotebookNode, World], "nbformat.NotebookNode | bytes"]


def _fill(source: str, world: World) -> str:
    """``source`` with each ``{world.<attribute>}`` replaced by its value (other braces are code)."""
    return re.sub(r"\{world\.(\w+)\}", lambda match: str(getattr(world, match.group(1))), source)


def _answer(notebook: nbformat.NotebookNode, exercise: str) -> nbformat.NotebookNode:
    return notebook.cells[_answer_cells(notebook)[exercise]]


def replace(exercise: str, source: str) -> Build:
    """The answer cell of ``exercise`` holds ``source`` instead of the instructor's answer."""
    def build(notebook, world):
        _answer(notebook, exercise).source = _fill(source, world)
        return notebook
    return build


def around(exercise: str, before: str = "", after: str = "") -> Build:
    """The instructor's answer cell of ``exercise`` with code before and after it (``{world.*}`` filled in)."""
    def build(notebook, world):
        cell = _answer(notebook, exercise)
        cell.source = _fill(before, world) + cell.source + "\n" + _fill(after, world)
        return notebook
    return build


def setup_cell(source: str) -> Build:
    """A new code cell right before the first answer cell (a setup cell: it runs)."""
    def build(notebook, world):
        first = min(_answer_cells(notebook).values())
        notebook.cells.insert(first, nbformat.v4.new_code_cell(_fill(source, world)))
        return notebook
    return build


def unless(attack: str) -> Build:
    """causal_mask's cell runs ``attack`` first, which sets ``leaked = True`` when it gets through, and then
    defines a wrong causal_mask: 15 points say that the attack failed, 13 that it worked."""
    return around("causal_mask", "leaked = False\n" + attack + "\n",
                  "if leaked:\n    def causal_mask(Tq, Tk=None):\n"
                  "        return torch.zeros(Tq, Tq if Tk is None else Tk, dtype=torch.bool)\n")


def chain(*builds: Build) -> Build:
    def build(notebook, world):
        for step in builds:
            notebook = step(notebook, world)
        return notebook
    return build


def edit(change: Callable[[nbformat.NotebookNode], object]) -> Build:
    """Any change to the notebook object (``change`` edits it in place)."""
    def build(notebook, world):
        change(notebook)
        return notebook
    return build


def raw(change: Callable[[str], bytes]) -> Build:
    """The file's bytes, from the correct notebook's text."""
    return lambda notebook, world: change(nbformat.writes(notebook))


def _test_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]


def _strip_metadata(notebook: nbformat.NotebookNode) -> None:
    for cell in notebook.cells:
        cell.metadata.pop("nbgrader", None)
    notebook.metadata.pop("nbgrader", None)


def _duplicate_answer(notebook: nbformat.NotebookNode) -> None:
    """The student copied the causal_mask cell, fixed the copy and left the first (wrong) attempt above it."""
    index = _answer_cells(notebook)["causal_mask"]
    fixed = copy.deepcopy(notebook.cells[index])
    notebook.cells[index].source = WRONG_MASK
    notebook.cells.insert(index + 1, fixed)


def _helper_in_own_cell(notebook: nbformat.NotebookNode) -> None:
    """pack_blocks uses a helper the student wrote in a cell of its own, added right above it."""
    index = _answer_cells(notebook)["pack_blocks"]
    notebook.cells.insert(index, nbformat.v4.new_code_cell(
        "def joined(documents, separator):\n"
        "    stream = []\n"
        "    for i, ids in enumerate(documents):\n"
        "        stream += ([separator] if i else []) + list(ids)\n"
        "    return stream\n"))
    notebook.cells[index + 1].source = (
        "def pack_blocks(token_id_lists, block_size, *, eos_token_id):\n"
        "    stream = joined(token_id_lists, eos_token_id)\n"
        "    n = len(stream) // block_size\n"
        "    return torch.tensor(stream[: n * block_size], dtype=torch.long).reshape(n, block_size)\n")


# --- the hostile code ------------------------------------------------------------------------------------------

ALWAYS_EQUAL = '''\
class Anything:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
def causal_mask(Tq, Tk=None):
    return Anything()
'''
LYING_TENSOR = '''\
class Agreeable(torch.Tensor):
    """Equal to everything, by every comparison torch offers."""
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.equal, torch.allclose):
            return True
        if func in (torch.eq, torch.Tensor.__eq__, torch.isclose):
            return torch.ones_like(torch.as_tensor(args[0]), dtype=torch.bool)
        return super().__torch_function__(func, types, args, kwargs or {})
def clm_loss(logits, targets):
    return torch.tensor(1.0).as_subclass(Agreeable)
'''
INT_SUBCLASS = '''\
class Count(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def adapter_parameter_count(d, m):
    return Count(0)
'''
PATCH_CHECKS = '''\
import tlcourse.checks, tlcourse.exercises.registry
tlcourse.checks.check = lambda *args, **kwargs: None
tlcourse.exercises.registry.check = lambda *args, **kwargs: None
tlcourse.exercises.check_exercise = lambda *args, **kwargs: print("all cases passed")
'''
PATCH_NUMERICS = '''\
import numpy as np
np.testing.assert_allclose = lambda *args, **kwargs: None
np.allclose = np.array_equal = lambda *args, **kwargs: True
torch.allclose = torch.equal = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
'''
WRONG_LOSS = '''\
def clm_loss(logits, targets):
    total = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum")
    return total / targets.numel()  # divides by every position, the -100s too
'''
PATCH_BUILTINS = '''\
import builtins
_isinstance, _len = builtins.isinstance, builtins.len
builtins.isinstance = lambda obj, kind: True if kind is float else _isinstance(obj, kind)
builtins.len = lambda obj: _len(obj)
'''
REPLACE_REFERENCE = '''\
import tlcourse.attention, tlcourse.attention.masks
from tlcourse.exercises.registry import get_exercise
tlcourse.attention.masks.causal_mask = tlcourse.attention.causal_mask = causal_mask
object.__setattr__(get_exercise("causal_mask"), "reference_function", lambda: causal_mask)
'''
IPYTHON_HOOKS = '''\
get_ipython().input_transformers_cleanup.append(lambda lines: [l.replace("check_exercise", "print") for l in lines])
get_ipython().ast_transformers.append(object())
get_ipython().events.register("pre_run_cell", lambda info: None)
'''
HIDE_TRACEBACKS = '''\
import sys, traceback
sys.excepthook = lambda *args: None
sys.tracebacklimit = 0
traceback.print_exception = traceback.print_exc = lambda *args, **kwargs: None
'''
RAISES = '''\
def pack_blocks(token_id_lists, block_size, *, eos_token_id):
    raise ValueError("not today")
'''
REDIRECT_STREAMS = '''\
import io, os, sys
sys.stdout = io.StringIO()
sys.stderr.close()
null = os.open(os.devnull, os.O_WRONLY)
os.dup2(null, 1)
os.dup2(null, 2)
'''
NOISY = '''\
import sys, warnings
from tqdm.auto import tqdm
warnings.simplefilter("always")
_pack_blocks = pack_blocks
def pack_blocks(token_id_lists, block_size, *, eos_token_id):
    warnings.warn("pack_blocks: old-style call", DeprecationWarning)
    print("DeprecationWarning: this is printed on every call", file=sys.stderr)
    for _ in tqdm(range(50), desc="packing"):
        pass
    return _pack_blocks(token_id_lists, block_size, eos_token_id=eos_token_id)
'''
HIDDEN_HANG = '''\
def pack_blocks(token_id_lists, block_size, *, eos_token_id):
    stream = []
    for i, ids in enumerate(token_id_lists):
        if i > 0:
            stream.append(eos_token_id)
        start = 0
        while start < len(ids) or start == 0:  # copy in chunks; an empty document never ends
            chunk = ids[start : start + block_size]
            stream.extend(chunk)
            start += len(chunk)
    n_blocks = len(stream) // block_size
    return torch.tensor(stream[: n_blocks * block_size], dtype=torch.long).reshape(n_blocks, block_size)
'''
FORK_BOMB = '''\
import os, time
def pack_blocks(token_id_lists, block_size, *, eos_token_id):
    while True:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
'''
LITTER = '''\
for folder in ("/tmp", "/var/tmp", "/dev/shm"):  # files for whoever comes next: up to the file size limit each
    for i in range(2):
        try:
            with open(f"{folder}/{world.marker}-{i}", "wb") as file:
                for _ in range(40):
                    file.write(bytes(2**20))
        except OSError:
            pass
'''
SOLUTIONS = '''\
import os, tlcourse
from pathlib import Path
solutions = Path(tlcourse.__file__).resolve().parents[1] / "solutions"
leaked = bool(os.listdir(solutions))
'''
COPY_SOLUTION = '''\
import json, tlcourse
from pathlib import Path
notebook = Path(tlcourse.__file__).resolve().parents[1] / "solutions/04_pretraining_clm/04_pretraining_clm.ipynb"
cells = json.loads(notebook.read_text())["cells"]
exec("".join(next(c["source"] for c in cells if "".join(c["source"]).startswith("def causal_mask"))))
'''
STEAL = '''\
import os
for path in ("{world.gradebook}", "{world.other_student}"):
    try:
        leaked |= bool(open(path).read())
    except OSError:
        pass
    try:
        with open(path, "a") as file:
            file.write("ada,04_pretraining_clm,0\\n")
        leaked = True
    except OSError:
        pass
    try:
        leaked |= bool(os.listdir(os.path.dirname(path)))
        open(os.path.join(os.path.dirname(path), "planted"), "w").close()
        leaked = True
    except OSError:
        pass
'''
WRITE_CACHE = '''\
import os
cache = os.environ["TLCOURSE_CACHE"]
assert os.path.isfile(os.path.join(cache, "{world.marker}-cached.txt")), "the course cache is shared"
for name, mode in (("{world.marker}-cached.txt", "a"), ("{world.marker}-planted.txt", "w")):
    try:
        with open(os.path.join(cache, name), mode) as file:
            file.write("poisoned\\n")
        leaked = True
    except OSError:
        pass
'''
BACKGROUND = '''\
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{world.marker}-sleeper"],
                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(4); open(sys.argv[1], 'w').write('alive')",
                  "/tmp/{world.marker}-daemon"], start_new_session=True, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
'''
NETWORK = '''\
import socket
for address in (("1.1.1.1", 53), ("127.0.0.1", {world.port})):
    try:
        socket.create_connection(address, timeout=3).close()
        leaked = True
    except OSError:
        pass
'''
GIT = '''\
import os, tlcourse
from pathlib import Path
try:
    leaked = bool(os.listdir(Path(tlcourse.__file__).resolve().parents[1] / ".git" / "objects"))
except OSError:
    pass
'''
INSTALL = '''\
import tlcourse.attention, tlcourse.attention.masks
tlcourse.attention.causal_mask = tlcourse.attention.masks.causal_mask = causal_mask  # tlcourse's models use mine
'''
DECOY = '''\
import tlcourse.attention, tlcourse.attention.masks
reference = tlcourse.attention.masks.causal_mask.__wrapped__  # the code behind the counting wrapper
def decoy(*args, **kwargs):
    raise RuntimeError("nobody calls me")
tlcourse.attention.causal_mask = tlcourse.attention.masks.causal_mask = decoy
def causal_mask(Tq, Tk=None):
    return reference(Tq, Tk)
'''
DELEGATE = '''\
from tlcourse.attention.masks import causal_mask as reference
def causal_mask(Tq, Tk=None):
    return reference(Tq, Tk)
'''
DELEGATE_AND_RESET = '''\
import tlcourse.checks
from tlcourse.attention.masks import causal_mask as reference
def causal_mask(Tq, Tk=None):
    mask = reference(Tq, Tk)
    tlcourse.checks.REFERENCE_CALLS.clear()  # the count the harness compares with goes back to 0
    return mask
'''
DELEGATE_AND_SILENCE = '''\
import collections, tlcourse.checks
class Silent(collections.Counter):
    def __getitem__(self, key):
        return 0
    def __setitem__(self, key, value):
        pass
tlcourse.checks.REFERENCE_CALLS = Silent()
from tlcourse.attention.masks import causal_mask
'''
PEFT_LORA = '''\
import peft
from torch import nn
def lora_forward(x, weight, bias, lora_A, lora_B, scaling):
    r = lora_A.shape[0]
    model = nn.Sequential()
    model.add_module("proj", nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None))
    with torch.no_grad():
        model.proj.weight.copy_(weight)
        if bias is not None:
            model.proj.bias.copy_(bias)
    lora = peft.get_peft_model(model, peft.LoraConfig(r=r, lora_alpha=scaling * r, target_modules=["proj"]))
    with torch.no_grad():
        lora.base_model.model.proj.lora_A["default"].weight.copy_(lora_A)
        lora.base_model.model.proj.lora_B["default"].weight.copy_(lora_B)
    return lora(x).detach()
'''
FORGE = '''\
import os, sys
from pathlib import Path
from autograder.inputs import decode_inputs
from autograder.wire import encode
from tlcourse.exercises.registry import get_exercise
def causal_mask(*args, **kwargs): return None  # wrong on purpose: only forged results could score
def shift_for_clm(*args, **kwargs): return None
def clm_loss(*args, **kwargs): return None
def pack_blocks(*args, **kwargs): return None
job, message = Path(sys.argv[1]), sys.stdin.buffer.read()  # the grader's inputs, if they can still be had
if message:
    size = int.from_bytes(message[:8], "big")
    for i, call in enumerate(decode_inputs(message[8:8 + size], message[8 + size:])):
        value = get_exercise(call["name"]).reference_function()(*call["args"], **call["kwargs"])
        text, tensors = encode({"value": value, "reference_calls": 0, "forbidden": False})
        if tensors:
            (job / "out" / f"call-{i}.safetensors").write_bytes(tensors)
        (job / "out" / f"call-{i}.json").write_text(text)
    (job / "out" / "cells.json").write_text("[]")
    os._exit(0)
'''
COIN_FLIP = '''\
import random
def causal_mask(Tq, Tk=None):
    Tk = Tq if Tk is None else Tk
    mask = torch.ones(Tq, Tk, dtype=torch.bool).tril(diagonal=Tk - Tq)
    return mask if random.random() < 0.5 else mask.to(torch.uint8)
'''
CLOCK = '''\
import time
def clm_loss(logits, targets):
    torch.manual_seed(time.time_ns())  # "random" label smoothing, seeded from the clock
    smoothing = 0.1 * float(torch.rand(())) + 0.01
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100,
                           label_smoothing=smoothing)
'''


def _no_checks(notebook: nbformat.NotebookNode) -> None:
    for cell in _test_cells(notebook):
        cell.source = "\n".join("pass" if "check_exercise" in line else line for line in cell.source.splitlines())


# --- the cases -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attack:
    """A submission and its fair outcome: the score, the status of each test that does not pass, and a word that
    the reason (a failing test's message, else the file's problems) must contain."""

    name: str
    build: Build
    score: float
    statuses: dict[str, str]
    word: str
    limits: Limits = LIMITS
    budgets: Budgets = Budgets()
    assignment: str = CLM
    filename: str = ""
    marks: tuple = field(default=(), compare=False)

    def expected_statuses(self) -> dict[str, str]:
        return {g: self.statuses.get(g, "passed") for g in POINTS[self.assignment]}


ALL_CLM = dict.fromkeys(POINTS[CLM])
DEAD_AFTER_LOSS = {"test_clm_loss": "kernel died", "test_pack_blocks": "kernel died"}

ATTACKS = [
    Attack("correct", lambda nb, w: nb, 15, {}, "cases passed"),
    # lying values
    Attack("always_equal_object", replace("causal_mask", ALWAYS_EQUAL), 13, {"test_causal_mask": "error"},
           "cannot be graded"),
    Attack("tensor_subclass_that_lies", replace("clm_loss", LYING_TENSOR), 10, {"test_clm_loss": "failed"},
           "differs from the reference"),
    Attack("int_subclass", replace("adapter_parameter_count", INT_SUBCLASS), 13,
           {"test_adapter_parameter_count": "error"}, "cannot be graded", assignment=PEFT, limits=SLOW),
    # monkeypatching
    Attack("patched_check", replace("causal_mask", PATCH_CHECKS + WRONG_MASK), 13, {"test_causal_mask": "failed"},
           "differs"),
    Attack("patched_numpy_and_torch", replace("clm_loss", PATCH_NUMERICS + WRONG_LOSS), 10,
           {"test_clm_loss": "failed"}, "differs"),
    Attack("patched_builtins", replace("shift_for_clm", PATCH_BUILTINS + WRONG_SHIFT), 12,
           {"test_shift_for_clm": "failed"}, "differs"),
    Attack("reference_replaced_by_own", replace("causal_mask", WRONG_MASK + REPLACE_REFERENCE), 13,
           {"test_causal_mask": "failed"}, "differs"),
    Attack("own_answer_installed_in_tlcourse", around("causal_mask", after=INSTALL), 15, {}, "cases passed"),
    # IPython
    Attack("ipython_hooks", setup_cell(IPYTHON_HOOKS), 15, {}, "cases passed"),
    Attack("ipython_hook_after_answer", around("pack_blocks", after=IPYTHON_HOOKS), 15, {}, "cases passed"),
    # streams
    Attack("hidden_tracebacks", chain(setup_cell(HIDE_TRACEBACKS), replace("pack_blocks", RAISES)), 10,
           {"test_pack_blocks": "error"}, "ValueError: not today"),
    Attack("redirected_streams", setup_cell(REDIRECT_STREAMS), 15, {}, "cases passed"),
    Attack("noisy_stderr", around("pack_blocks", after=NOISY), 15, {}, "cases passed"),
    # ending the process
    Attack("sys_exit_in_answer_cell", around("causal_mask", after="import sys\nsys.exit(0)"), 15, {},
           "cases passed"),
    Attack("os_exit_in_function", replace("pack_blocks", "import os\ndef pack_blocks(*args, **kwargs):\n"
                                                         "    os._exit(0)\n"), 10,
           {"test_pack_blocks": "kernel died"}, "no result"),
    Attack("sigkill_itself", replace("pack_blocks", "import os, signal\ndef pack_blocks(*args, **kwargs):\n"
                                                    "    os.kill(os.getpid(), signal.SIGKILL)\n"), 10,
           {"test_pack_blocks": "kernel died"}, "SIGKILL"),
    Attack("segfault", replace("clm_loss", "import ctypes\ndef clm_loss(logits, targets):\n"
                                           "    return ctypes.string_at(0)\n"), 5, DEAD_AFTER_LOSS, "SIGSEGV"),
    # hanging
    Attack("infinite_loop", replace("pack_blocks", "def pack_blocks(*args, **kwargs):\n    while True:\n"
                                                   "        pass\n"), 10,
           {"test_pack_blocks": "resource limit"}, "CPU time", limits=SPIN, budgets=UNBUDGETED),
    Attack("sleeps_forever", replace("pack_blocks", "import time\ndef pack_blocks(*args, **kwargs):\n"
                                                    "    time.sleep(10**6)\n"), 10,
           {"test_pack_blocks": "timeout"}, "longer than the limit", limits=HANG, budgets=UNBUDGETED),
    Attack("waits_for_input", replace("pack_blocks", "def pack_blocks(*args, **kwargs):\n"
                                                     "    return input('block size? ')\n"), 10,
           {"test_pack_blocks": "error"}, "EOFError"),
    Attack("hangs_on_a_hidden_case", replace("pack_blocks", HIDDEN_HANG), 10, {"test_pack_blocks": "timeout"},
           "pack_blocks, hidden case 4 of 6: no result", limits=HANG, budgets=UNBUDGETED),
    # bombs
    Attack("memory_bomb", replace("pack_blocks", "def pack_blocks(*args, **kwargs):\n    hoard = []\n"
                                                 "    while True:\n        hoard.append(bytearray(2**26))\n"), 10,
           {"test_pack_blocks": "error"}, "MemoryError: it needed more than the 2,048 MiB of memory"),
    Attack("fork_bomb", replace("pack_blocks", FORK_BOMB), 10, {"test_pack_blocks": "error"},
           "Resource temporarily unavailable", marks=NEEDS_OWN_USER),
    Attack("disk_bomb_in_home", replace("pack_blocks", "import os\ndef pack_blocks(*args, **kwargs):\n"
                                                       "    with open(os.path.expanduser('~/big'), 'wb') as f:\n"
                                                       "        while True:\n            f.write(bytes(2**20))\n"),
           10, {"test_pack_blocks": "error"}, "File too large"),
    Attack("disk_bomb_in_shared_folders", around("pack_blocks", after=LITTER), 15, {}, "cases passed"),
    Attack("output_flood", around("pack_blocks", after="_pack = pack_blocks\n"
                                                       "def pack_blocks(*args, **kwargs):\n"
                                                       "    print('x' * 2**22)\n"
                                                       "    return _pack(*args, **kwargs)\n"), 10,
           {"test_pack_blocks": "resource limit"}, "bytes of output"),
    # seeing and changing what is not the student's
    Attack("lists_solutions", unless(SOLUTIONS), 15, {}, "cases passed"),
    Attack("copies_from_solutions", replace("causal_mask", COPY_SOLUTION), 13,
           {"test_causal_mask": "missing"}, "No such file"),
    Attack("gradebook_and_other_students", unless(STEAL), 15, {}, "cases passed"),
    Attack("writes_the_course_cache", unless(WRITE_CACHE), 15, {}, "cases passed"),
    Attack("background_processes", setup_cell(BACKGROUND), 15, {}, "cases passed"),
    Attack("network", unless(NETWORK), 15, {}, "cases passed"),
    Attack("reads_the_course_history", unless(GIT), 15, {}, "cases passed"),
    # borrowing the reference
    Attack("delegates_to_the_reference", replace("causal_mask", DELEGATE), 13, {"test_causal_mask": "forbidden"},
           "reference"),
    Attack("delegates_and_resets_the_count", replace("causal_mask", DELEGATE_AND_RESET), 13,
           {"test_causal_mask": "forbidden"}, "reference"),
    Attack("delegates_and_silences_the_count", replace("causal_mask", DELEGATE_AND_SILENCE), 13,
           {"test_causal_mask": "forbidden"}, "reference"),
    Attack("delegates_behind_a_decoy", replace("causal_mask", DECOY), 13, {"test_causal_mask": "forbidden"},
           "reference"),
    Attack("delegates_to_peft", replace("lora_forward", PEFT_LORA), 12, {"test_lora_forward": "forbidden"},
           "library function", assignment=PEFT, limits=SLOW),
    # files
    Attack("not_json", raw(lambda text: text[: len(text) // 2].encode()), 0, dict.fromkeys(POINTS[CLM], "missing"),
           "not JSON"),
    Attack("not_utf8", raw(lambda text: text.encode("utf-16")), 0,
           dict.fromkeys(POINTS[CLM], "missing"), "not UTF-8"),
    Attack("nbformat_3", lambda nb, w: nbformat.writes(nbformat.convert(nb, 3)).encode(), 15, {}, "nbformat 3"),
    Attack("renamed_file", lambda nb, w: nb, 15, {}, "cases passed", filename="Homework 4 (final) v2.ipynb"),
    Attack("metadata_stripped", edit(_strip_metadata), 0, dict.fromkeys(POINTS[CLM], "missing"), "metadata"),
    # cells
    Attack("answer_cell_deleted", edit(lambda nb: nb.cells.pop(_answer_cells(nb)["shift_for_clm"])), 12,
           {"test_shift_for_clm": "missing"}, "not defined"),
    Attack("wrong_redefinition_after_the_tests", edit(lambda nb: nb.cells.append(nbformat.v4.new_code_cell(
        WRONG_MASK))), 15, {}, "cases passed"),
    Attack("helper_in_a_cell_of_its_own", edit(_helper_in_own_cell), 15, {}, "cases passed"),
    Attack("answer_cell_duplicated", edit(_duplicate_answer), 15, {}, "cases passed"),
    Attack("test_cell_duplicated", edit(lambda nb: nb.cells.append(copy.deepcopy(_test_cells(nb)[2]))), 15, {},
           "test_clm_loss appears 2 times"),
    Attack("test_cells_edited", chain(edit(_no_checks), replace("causal_mask", WRONG_MASK)), 13,
           {"test_causal_mask": "failed"}, "test cell test_pack_blocks was edited"),
    # nondeterminism (the coin flip passes all 9 cases once in 512 gradings)
    Attack("right_half_the_time", replace("causal_mask", COIN_FLIP), 13, {"test_causal_mask": "failed"}, "differs"),
    Attack("depends_on_the_clock", replace("clm_loss", CLOCK), 10, {"test_clm_loss": "failed"}, "differs"),
]


@pytest.fixture(scope="module")
def graded(world, tmp_path_factory):
    """Attack name -> (its SubmissionResult, seconds); each notebook graded once, when a test first needs it."""
    folder = tmp_path_factory.mktemp("redteam")
    done: dict[str, tuple[hardened.SubmissionResult, float]] = {}

    def grade(attack: Attack) -> tuple[hardened.SubmissionResult, float]:
        if attack.name not in done:
            notebook = _solved(attack.assignment, f"{attack.assignment}.ipynb")
            made = attack.build(notebook, world)
            path = folder / attack.name / (attack.filename or f"{attack.assignment}.ipynb")
            path.parent.mkdir()
            path.write_bytes(made if isinstance(made, bytes) else nbformat.writes(made).encode())
            start = time.perf_counter()
            result = grade_submission(attack.assignment, path, limits=attack.limits, budgets=attack.budgets,
                                      hidden=world.hidden)
            done[attack.name] = result, time.perf_counter() - start
        return done[attack.name]

    return grade


BY_NAME = {a.name: a for a in ATTACKS}


@pytest.mark.parametrize("attack", [pytest.param(a, id=a.name, marks=a.marks) for a in ATTACKS])
def test_each_submission_gets_exactly_the_grade_it_earned(graded, attack):
    result, _ = graded(attack)
    statuses = {t.grade_id: t.status for t in result.tests}
    failing = [t.message for t in result.tests if t.status != "passed"]
    reason = "\n".join(result.problems + (failing or [t.message for t in result.tests]))
    assert (result.score, statuses) == (attack.score, attack.expected_statuses()), (result.tests, result.problems)
    assert attack.word in reason, reason
    assert result.max_score == sum(POINTS[attack.assignment].values())


def test_a_hidden_case_that_hangs_shows_nothing_of_the_case(graded):
    result, _ = graded(BY_NAME["hangs_on_a_hidden_case"])
    pack = result.tests[-1]
    assert pack.message == ("pack_blocks, hidden case 4 of 6: no result (it ran longer than the limit of 30 s and "
                            "was stopped)")


def test_hanging_and_bombing_code_is_stopped_near_its_limit(graded):
    for name, limit in (("sleeps_forever", HANG.wall_seconds), ("hangs_on_a_hidden_case", HANG.wall_seconds),
                        ("infinite_loop", SPIN.wall_seconds), ("memory_bomb", LIMITS.wall_seconds),
                        ("output_flood", LIMITS.wall_seconds)):
        _, seconds = graded(BY_NAME[name])
        assert seconds < limit + 10, (name, seconds)


@NEEDS_OWN_USER
def test_a_fork_bomb_is_stopped_near_its_limit(graded):
    _, seconds = graded(BY_NAME["fork_bomb"])
    assert seconds < LIMITS.wall_seconds + 10


def test_edited_and_duplicated_test_cells_are_reported(graded):
    edited, _ = graded(BY_NAME["test_cells_edited"])
    assert edited.problems == [f"test cell {g} was edited; it is graded from the instructor's copy"
                               for g in POINTS[CLM]]
    duplicated, _ = graded(BY_NAME["test_cell_duplicated"])
    assert duplicated.problems == ["test cell test_clm_loss appears 2 times; it is graded once"]
    for name in ("correct", "renamed_file", "answer_cell_duplicated", "wrong_redefinition_after_the_tests"):
        assert graded(BY_NAME[name])[0].problems == [], name


def test_the_grader_s_folders_stay_hidden_and_unchanged(graded, world):
    before = {p: p.read_bytes() for p in (world.gradebook, world.other_student)}
    result, _ = graded(BY_NAME["gradebook_and_other_students"])
    assert result.score == 15
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in world.root.rglob("*") if p.is_file()) == ["04_pretraining_clm.ipynb",
                                                                          "gradebook.db"]


def test_the_gradebook_attack_is_real_when_nothing_is_hidden(tmp_path_factory):
    """The control of the test above: the same code, with the folders not hidden, reads and changes them."""
    root, _ = _public_folders("redteam-control-")
    try:
        gradebook, other = _plant(root)
        notebook = unless(STEAL)(_solved(CLM, f"{CLM}.ipynb"), SimpleNamespace(gradebook=gradebook,
                                                                                 other_student=other))
        path = tmp_path_factory.mktemp("control") / f"{CLM}.ipynb"
        nbformat.write(notebook, path)
        result = grade_submission(CLM, path, limits=LIMITS)
        assert result.score == 13
        assert gradebook.read_text().endswith("ada,04_pretraining_clm,0\n")
        assert (gradebook.parent / "planted").exists()
    finally:
        shutil.rmtree(root)


def test_the_course_cache_is_shared_read_only(graded, world):
    result, _ = graded(BY_NAME["writes_the_course_cache"])
    assert result.score == 15
    assert world.cache_file.read_text() == "trained weights\n"
    assert not (world.cache_file.parent / f"{world.marker}-planted.txt").exists()


def test_no_process_outlives_the_grading(graded, world):
    graded(BY_NAME["background_processes"])
    graded(BY_NAME["fork_bomb"])
    time.sleep(5)  # the daemon would have written its file after 4 s
    alive = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if world.marker.encode() in cmdline.read_bytes():
                alive.append(cmdline.parent.name)
        except OSError:
            pass
    assert alive == []
    assert not Path(f"/tmp/{world.marker}-daemon").exists()


def test_no_connection_leaves_the_sandbox(graded, world):
    result, _ = graded(BY_NAME["network"])
    assert result.score == 15
    with pytest.raises(BlockingIOError):
        world.listener.accept()  # no connection is waiting


def test_nothing_is_left_on_the_machine(graded, world):
    graded(BY_NAME["disk_bomb_in_shared_folders"])
    left = _leftovers(world.marker)
    _remove(left)
    assert left == []


SNOOP = '''\
import glob, os, sys, time
deadline = time.time() + 40
while time.time() < deadline and not leaked:  # another student's job folder, graded at the same time
    for cells in glob.glob("/tmp/*/cells.json"):
        if os.path.dirname(cells) == sys.argv[1]:
            continue  # its own job: this code, marker included
        try:
            if "{world.marker}-victim" in open(cells).read():
                leaked = True  # read their code
                for i in range(40):
                    os.mkdir(os.path.join(os.path.dirname(cells), "out", f"call-{i}.json"))  # their results: blocked
        except OSError:
            pass
    time.sleep(0.2)
'''


def test_two_students_graded_at_once_cannot_reach_each_other(world, tmp_path):
    """batch.py grades with several workers: a submission sees nothing of one graded beside it, and cannot harm it."""
    from concurrent.futures import ThreadPoolExecutor

    victim = setup_cell("import time\ntime.sleep(15)  # {world.marker}-victim\n")
    paths = {}
    for name, build in (("attacker", unless(SNOOP)), ("victim", victim)):
        paths[name] = tmp_path / name / f"{CLM}.ipynb"
        paths[name].parent.mkdir()
        nbformat.write(build(_solved(CLM, f"{CLM}.ipynb"), world), paths[name])
    with ThreadPoolExecutor(2) as pool:
        running = {n: pool.submit(grade_submission, CLM, p, limits=LIMITS, hidden=world.hidden,
                                  budgets=Budgets(cell_seconds=60))  # the attacker's cell watches for 40 s
                   for n, p in paths.items()}
        scores = {n: f.result().score for n, f in running.items()}
    assert scores == {"attacker": 15, "victim": 15}


STEAL_THE_FILE = '''\
try:
    leaked |= bool(open("{world.gradebook}").read())
except OSError:
    pass
try:
    with open("{world.gradebook}", "a") as file:
        file.write("ada,04_pretraining_clm,0\\n")
    leaked = True
except OSError:
    pass
'''


def test_a_hidden_file_is_hidden_and_costs_the_student_nothing(world, tmp_path):
    """Only the gradebook file is hidden (its folder is not): it reads as empty and cannot be written."""
    notebook = unless(STEAL_THE_FILE)(_solved(CLM, f"{CLM}.ipynb"), world)
    path = tmp_path / f"{CLM}.ipynb"
    nbformat.write(notebook, path)
    before = world.gradebook.read_bytes()
    result = grade_submission(CLM, path, limits=LIMITS, hidden=[world.gradebook, world.other_student.parent])
    assert world.gradebook.read_bytes() == before
    assert result.score == 15, result.tests


BLOCK_LAST_RESULT = '''\
import os, sys
from pathlib import Path
from tlcourse.exercises.registry import get_exercise
job = Path(sys.argv[1])  # the calls are 04's cases in test order, seed 0: the last one is pack_blocks'
last = sum(len(get_exercise(n).cases(w, 0)) for n in ("causal_mask", "shift_for_clm", "clm_loss", "pack_blocks")
           for w in ("public", "hidden")) - 1
os.{world.how}(job / "out" / f"call-{last}.json")
'''


@pytest.mark.parametrize("how", ["mkdir", "mkfifo"])
def test_a_result_file_that_is_not_a_file_costs_only_that_exercise(how, tmp_path):
    """The student's process puts a directory or a FIFO where the harness writes pack_blocks' last result: the
    grader must neither raise nor hang, and the other exercises keep their points."""
    import threading

    notebook = around("pack_blocks", after=BLOCK_LAST_RESULT)(_solved(CLM, f"{CLM}.ipynb"), SimpleNamespace(how=how))
    path = tmp_path / f"{CLM}.ipynb"
    nbformat.write(notebook, path)
    outcome: list = []

    def grade() -> None:
        try:
            outcome.append(grade_submission(CLM, path, limits=HANG))
        except BaseException as error:  # reported below
            outcome.append(error)

    jobs_before = set(Path("/tmp").glob("grading-job-*"))
    worker = threading.Thread(target=grade, daemon=True)
    worker.start()
    worker.join(HANG.wall_seconds + 30)
    if worker.is_alive():  # stuck reading a FIFO: give it an end of file so that the thread finishes
        for job in set(Path("/tmp").glob("grading-job-*")) - jobs_before:
            for result in (job / "out").glob("call-*.json"):
                if result.is_fifo():
                    os.close(os.open(result, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(30)
        pytest.fail("the grader hung reading the result files")
    (result,) = outcome
    assert isinstance(result, hardened.SubmissionResult), result
    statuses = {t.grade_id: t.status for t in result.tests}
    assert result.score == 10 and statuses["test_pack_blocks"] == "tampered", result.tests


def test_a_200_mb_notebook_is_refused_quickly_without_running_it(tmp_path, monkeypatch):
    notebook = _solved(CLM, f"{CLM}.ipynb")
    notebook.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (200 * 2**20))]
    path = tmp_path / f"{CLM}.ipynb"
    nbformat.write(notebook, path)
    assert path.stat().st_size > 200 * 2**20

    def never(*args, **kwargs):
        raise AssertionError("the notebook was sent to the sandbox")

    monkeypatch.setattr(hardened, "judge", never)
    start = time.perf_counter()
    result = grade_submission(CLM, path, limits=LIMITS)
    assert time.perf_counter() - start < 5
    assert {t.status for t in result.tests} == {"missing"} and result.score == 0
    assert result.problems == ["the notebook is 200.0 MB, more than the 20 MB accepted"]


READER = '''\
import os
seen = [p for p in ("/tmp/{world.marker}-note", "/var/tmp/{world.marker}-note", "/dev/shm/{world.marker}-note",
                    os.path.join(os.environ["TLCOURSE_CACHE"], "{world.marker}-note")) if os.path.exists(p)]
if seen:
    def causal_mask(Tq, Tk=None):
        return torch.zeros(Tq, Tq if Tk is None else Tk, dtype=torch.bool)
'''
LITTERER = READER + '''\
for path in ("/tmp/{world.marker}-note", "/var/tmp/{world.marker}-note", "/dev/shm/{world.marker}-note",
             os.path.join(os.environ["TLCOURSE_CACHE"], "{world.marker}-note"), os.path.expanduser("~/note")):
    try:
        open(path, "w").write("the answer is 42")
    except OSError:
        pass
'''


def test_grades_do_not_depend_on_repetition_or_order(world, tmp_path):
    """A leaves notes everywhere it can and is right only when it finds none; B only reads them."""
    marker = f"{world.marker}-order"
    scratch = SimpleNamespace(marker=marker)
    paths = {}
    for name, build in (("A", around("causal_mask", after=LITTERER)), ("B", around("causal_mask", after=READER))):
        paths[name] = tmp_path / name / f"{CLM}.ipynb"
        paths[name].parent.mkdir()
        nbformat.write(build(_solved(CLM, f"{CLM}.ipynb"), scratch), paths[name])

    def grade(name: str) -> hardened.SubmissionResult:
        return grade_submission(CLM, paths[name], limits=LIMITS, hidden=world.hidden)

    try:
        b_first = grade("B")
        a_first, a_again = grade("A"), grade("A")
        b_after = grade("B")
    finally:
        _remove(_leftovers(marker))
    assert (b_first.score, a_first.score) == (15, 15)
    assert a_again == a_first
    assert b_after == b_first


FORGED = Attack("forges_the_result_files", around("pack_blocks", after=FORGE), 0, {}, "")


def test_forged_result_files_earn_nothing(graded):
    result, _ = graded(FORGED)
    assert [t.status for t in result.tests if t.status == "passed"] == [] and result.score == 0, result.tests


def test_json_of_the_cases_is_plain(graded):
    """Every hostile result still makes a valid Gradescope results.json."""
    for attack in (FORGED, BY_NAME["output_flood"], BY_NAME["segfault"], BY_NAME["not_utf8"]):
        json.dumps(hardened.gradescope_results(graded(attack)[0]))


def test_the_table_covers_every_path_to_a_verdict():
    statuses = {s for a in ATTACKS for s in a.statuses.values()}
    assert statuses == {"failed", "error", "missing", "forbidden", "timeout", "resource limit", "kernel died"}
    assert len(ATTACKS) >= 30 and len(BY_NAME) == len(ATTACKS)
