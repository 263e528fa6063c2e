"""A small example class, made from the current notebooks so that it never drifts from them.

For an assignment, ``make_class`` writes nbgrader's submitted layout, ``<out>/<student>/<assignment>/*.ipynb``:

====== ===================================================================================================
ada    complete and correct: every answer cell holds the instructor's solution
ben    correct except for a few plausible bugs (``BUGS``); exercises that build on a buggy one fail too
cy     the release notebook, untouched
dee    a typo makes the first answer cell raise, so its function is never defined
eve    an answer cell ends the kernel process (``os._exit``): the batch must go on
fay    a file that is not a notebook at all (the upload was cut off)
====== ===================================================================================================

``make_class(..., hanging=True)`` adds three submissions that never end, as real classes have them:

====== ===================================================================================================
hal    the first exercise's function loops forever
hank   a leftover ``while True: pass`` at the top of the first answer cell
sal    the last exercise's function sleeps for ``10**6`` seconds
====== ===================================================================================================
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Callable

import nbformat

from autograder.course import LECTURES, SOLUTIONS, check_assignment

# Wrong answers for ben: assignment -> answer cell (its nbgrader grade_id, the function name) -> cell source.
BUGS: dict[str, dict[str, str]] = {
    "01_tokenization": {
        "merge_pair": '''\
def merge_pair(symbols: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    # Bug: merges overlapping occurrences, so ('a', 'a', 'a') becomes ('aa', 'aa').
    merged = []
    for i, symbol in enumerate(symbols):
        if i + 1 < len(symbols) and (symbol, symbols[i + 1]) == pair:
            merged.append(symbol + symbols[i + 1])
        elif not (i > 0 and (symbols[i - 1], symbol) == pair):
            merged.append(symbol)
    return tuple(merged)
''',
        "wordpiece_tokenize": '''\
def wordpiece_tokenize(word, vocab, *, unk_token="[UNK]", max_input_chars_per_word=100):
    # Bug: an unmatched position becomes [UNK] on its own instead of turning the whole word into [UNK].
    if len(word) > max_input_chars_per_word:
        return [unk_token]
    tokens, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                tokens.append(piece)
                break
            end -= 1
        if end == start:
            tokens.append(unk_token)
            end = start + 1
        start = end
    return tokens
''',
    },
    "02_attention": {
        "causal_mask": '''\
def causal_mask(Tq: int, Tk: int | None = None) -> torch.Tensor:
    # Bug: the triangle starts at the top-left corner, so new queries after cached keys miss their own keys.
    Tk = Tq if Tk is None else Tk
    return torch.ones(Tq, Tk, dtype=torch.bool).tril()
''',
        "merge_heads": '''\
def merge_heads(x: torch.Tensor) -> torch.Tensor:
    # Bug: reshapes without moving the head axis back, which interleaves the heads' time steps.
    B, H, T, hs = x.shape
    return x.reshape(B, T, H * hs)
''',
        "sinusoidal_positions": '''\
def sinusoidal_positions(n_positions: int, d_model: int) -> torch.Tensor:
    # Bug: the exponent uses the pair index i instead of 2i, so the frequencies fall off too slowly.
    t = torch.arange(n_positions, dtype=torch.float32)[:, None]
    i = torch.arange(d_model // 2, dtype=torch.float32)
    angles = t / 10000.0 ** (i / d_model)
    pe = torch.empty(n_positions, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe
''',
    },
    "03_pretraining_mlm": {
        "mask_tokens": '''\
def mask_tokens(input_ids, *, mask_token_id, vocab_size, special_token_ids, mlm_probability=0.15, generator=None):
    # Bug: 10 % of the tokens left after [MASK], not half of them, become random: 2 % of the selected instead of 10 %.
    shape = input_ids.shape
    probability = torch.full(shape, float(mlm_probability))
    probability[torch.isin(input_ids, torch.tensor(list(special_token_ids)))] = 0.0
    selected = torch.bernoulli(probability, generator=generator).bool()
    labels = torch.where(selected, input_ids, -100)
    masked = input_ids.clone()
    to_mask = torch.bernoulli(torch.full(shape, 0.8), generator=generator).bool() & selected
    masked[to_mask] = mask_token_id
    to_random = torch.bernoulli(torch.full(shape, 0.1), generator=generator).bool() & selected & ~to_mask
    random_ids = torch.randint(vocab_size, shape, generator=generator)
    masked[to_random] = random_ids[to_random]
    return masked, labels
''',
        "mlm_loss": '''\
def mlm_loss(logits, labels):
    # Bug: divides the masked positions' loss by every position, so the loss shrinks with the unmasked ones.
    total = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100, reduction="sum")
    return total / labels.numel()
''',
        "make_nsp_pairs": '''\
def make_nsp_pairs(documents, rng):
    # Bug: the "random" sentence may come from A's own document, even be its real successor.
    pairs = []
    for d, document in enumerate(documents):
        for i in range(len(document) - 1):
            if rng.random() < 0.5:
                pairs.append((document[i], document[i + 1], 0))
            else:
                other = documents[rng.randrange(len(documents))]
                pairs.append((document[i], other[rng.randrange(len(other))], 1))
    return pairs
''',
    },
    "04_pretraining_clm": {
        "shift_for_clm": '''\
def shift_for_clm(input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Bug: swaps inputs and targets, so the model reads the future and is asked for the past.
    return input_ids[:, 1:], input_ids[:, :-1]
''',
        "pack_blocks": '''\
def pack_blocks(token_id_lists, block_size, *, eos_token_id):
    # Bug: joins the documents without an EOS between them, so the model cannot tell where one ends.
    stream = [token for ids in token_id_lists for token in ids]
    n_blocks = len(stream) // block_size
    return torch.tensor(stream[: n_blocks * block_size], dtype=torch.long).reshape(n_blocks, block_size)
''',
    },
    "05_decoding": {
        "top_k_filter": '''\
def top_k_filter(logits, k, min_tokens_to_keep=1):
    # Bug: keeps exactly the k indices topk returns, so tokens tied with the k-th value are dropped.
    k = min(max(k, min_tokens_to_keep), logits.shape[-1])
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, logits.topk(k, dim=-1).indices, True)
    return logits.masked_fill(~keep, float("-inf"))
''',
        "top_p_filter": '''\
def top_p_filter(logits, p, min_tokens_to_keep=1):
    # Bug: keeps the tokens whose cumulative probability stays within p, so the token that crosses p is dropped.
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative > p
    remove_sorted[..., :min_tokens_to_keep] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
''',
        "length_normalised": '''\
def length_normalised(sum_logprobs, generated_length, length_penalty):
    # Bug: multiplies the length by the penalty instead of raising it to that power.
    return sum_logprobs / (generated_length * length_penalty)
''',
    },
    "06_finetuning": {
        "align_labels": '''\
def align_labels(word_ids, word_labels):
    # Bug: labels every sub-word of a word, so a word split in three counts three times in the loss.
    return [-100 if word_id is None else word_labels[word_id] for word_id in word_ids]
''',
        "pair_input": '''\
def pair_input(a_ids, b_ids, *, cls_id, sep_id, max_length):
    # Bug: cuts only the first sentence ("only_first"), so a long hypothesis is never shortened.
    if b_ids is None:
        a_ids = a_ids[: max_length - 2]
        return [cls_id, *a_ids, sep_id], [0] * (len(a_ids) + 2)
    a_ids = a_ids[: max(0, max_length - 3 - len(b_ids))]
    return [cls_id, *a_ids, sep_id, *b_ids, sep_id], [0] * (len(a_ids) + 2) + [1] * (len(b_ids) + 1)
''',
        "freeze_except": '''\
def freeze_except(model, trainable_prefixes):
    # Bug: only ever freezes; a parameter frozen before stays frozen even when its prefix is listed.
    total = 0
    for name, parameter in model.named_parameters():
        if name.startswith(tuple(trainable_prefixes)):
            total += parameter.numel() if parameter.requires_grad else 0
        else:
            parameter.requires_grad = False
    return total
''',
    },
    "07_peft": {
        "lora_forward": '''\
def lora_forward(x, weight, bias, lora_A, lora_B, scaling):
    # Bug: leaves out the scaling alpha / r, so the update is r / alpha times too large or too small.
    y = x @ weight.T + (0 if bias is None else bias)
    return y + (x @ lora_A.T) @ lora_B.T
''',
        "bitfit_parameters": '''\
def bitfit_parameters(names):
    # Bug: forgets the classifier: transformers' new head keeps its random weight.
    return [name for name in names if "bias" in name or "head" in name.split(".")]
''',
        "prompt_inputs": '''\
def prompt_inputs(input_embeds, prompt, attention_mask):
    # Bug: puts the prompt after the words instead of before them (the mask is right).
    B, T, H = input_embeds.shape
    if attention_mask is None:
        attention_mask = torch.ones(B, T, dtype=torch.long)
    prompts = prompt.unsqueeze(0).expand(B, -1, -1)
    ones = torch.ones(B, prompt.shape[0], dtype=attention_mask.dtype)
    return torch.cat([input_embeds, prompts], dim=1), torch.cat([ones, attention_mask], dim=1)
''',
    },
}


def _answer_cells(notebook: nbformat.NotebookNode) -> dict[str, int]:
    """grade_id -> index of each autograded answer cell (nbgrader: ``solution`` and not ``grade``)."""
    cells = {}
    for index, cell in enumerate(notebook.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade"):
            cells[meta["grade_id"]] = index
    return cells


def _without_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines()
                     if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)


def _solved(assignment: str, name: str) -> nbformat.NotebookNode:
    """The release notebook ``name`` with every answer cell filled in with the instructor's solution."""
    student = nbformat.read(LECTURES / assignment / name, as_version=4)
    solution = nbformat.read(SOLUTIONS / assignment / name, as_version=4)
    solved = _answer_cells(solution)
    for grade_id, index in _answer_cells(student).items():
        student.cells[index].source = _without_markers(solution.cells[solved[grade_id]].source)
    return student


def _with_answers(notebook: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(notebook)
    cells = _answer_cells(notebook)
    for grade_id, source in answers.items():
        notebook.cells[cells[grade_id]].source = source
    return notebook


def _first_answer_starting(notebook: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    """``code`` put at the top of the first answer cell."""
    notebook = copy.deepcopy(notebook)
    first = min(_answer_cells(notebook).values())
    notebook.cells[first].source = code + notebook.cells[first].source
    return notebook


def _exits_kernel(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(notebook)
    last = max(_answer_cells(notebook).values())
    notebook.cells[last].source += "\nimport os\nos._exit(1)  # ends the kernel process\n"
    return notebook


def _first_in_body(notebook: nbformat.NotebookNode, which: Callable[[list[int]], int],
                   statement: str) -> nbformat.NotebookNode:
    """``statement`` put first in the body of the function an answer cell defines (``which`` picks the cell among
    the answer cells' indices; for a class, its ``forward``)."""
    notebook = copy.deepcopy(notebook)
    answers = _answer_cells(notebook)
    index = which(list(answers.values()))
    name = next(g for g, i in answers.items() if i == index)
    cell = notebook.cells[index]
    node = next(n for n in ast.parse(cell.source).body if getattr(n, "name", None) == name)
    if isinstance(node, ast.ClassDef):
        node = next(n for n in node.body if getattr(n, "name", None) == "forward")
    first = node.body[0]
    lines = cell.source.splitlines()
    indent = " " * first.col_offset
    lines[first.lineno - 1:first.lineno - 1] = [indent + line for line in statement.splitlines()]
    cell.source = "\n".join(lines)
    return notebook


def make_class(assignment: str, out: Path, *, hanging: bool = False) -> dict[str, str]:
    """Write the example class's submissions of ``assignment`` under ``out`` (with ``hanging``, also those that
    never end: module docstring); return student -> description."""
    check_assignment(assignment)
    students: dict[str, tuple[str, Callable[[str], nbformat.NotebookNode | str]]] = {
        "ada": ("complete and correct", lambda nb: _solved(assignment, nb)),
        "ben": ("some functions wrong: " + ", ".join(BUGS.get(assignment, {})),
                lambda nb: _with_answers(_solved(assignment, nb), BUGS.get(assignment, {}))),
        "cy": ("the release notebook, untouched", lambda nb: nbformat.read(LECTURES / assignment / nb, 4)),
        "dee": ("the first answer cell raises", lambda nb: _first_answer_starting(
            _solved(assignment, nb), "from collections import Countr  # typo: Counter\n")),
        "eve": ("ends the kernel process", lambda nb: _exits_kernel(_solved(assignment, nb))),
        "fay": ("not a notebook (cut-off upload)", lambda nb: (LECTURES / assignment / nb).read_text()[:500]),
    }
    if hanging:
        students.update({
            "hal": ("the first function loops forever",
                    lambda nb: _first_in_body(_solved(assignment, nb), min, "while True:\n    pass")),
            "hank": ("an endless loop at the top of the first answer cell",
                     lambda nb: _first_answer_starting(_solved(assignment, nb),
                                                       "while True:  # left over from debugging\n    pass\n")),
            "sal": ("the last function sleeps for 10**6 s",
                    lambda nb: _first_in_body(_solved(assignment, nb), max, "import time\ntime.sleep(10**6)")),
        })
    names = sorted(p.name for p in (LECTURES / assignment).glob("*.ipynb"))
    for student, (_, make) in students.items():
        folder = out / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            made = make(name)
            if isinstance(made, str):
                (folder / name).write_text(made)
            else:
                nbformat.write(made, folder / name)
    return {student: description for student, (description, _) in students.items()}
