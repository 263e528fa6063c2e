"""Every number a notebook's text states comes from that notebook: it appears in the notebook's code or stored
outputs, or it is a quoted fact listed below with its source.

The text may round: "about 2.5" is matched by an output of 2.47, "about 1,000" by 1,024 (a number matches when an
output, rounded to the text's significant digits, equals it). Citation years, section and exercise numbers, code
spans and formulas are not claims and are left out.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from autograder.course import SOLUTIONS, assignments

#: Numbers the text quotes from outside the notebook, by assignment: number -> where it comes from.
QUOTED = {
    "01_tokenization": {
        "255": "GPT-2's byte-to-character map: bytes that are not printable keep their order, shifted past 255",
    },
    "02_attention": {
        "124 M": "GPT-2 small's parameter count, 124 M (Radford et al., 2019)",
    },
    "06_finetuning": {
        "91": "all-MiniLM-L6-v2's model.safetensors: 22.7 M float32 parameters",
        "440": "BERT-base: 110 M parameters (Devlin et al., 2019) in float32",
        "110 M": "BERT-base's parameter count (Devlin et al., 2019)",
        "14": "a 7-billion-parameter model at 2 bytes per parameter",
    },
    "07_peft": {
        "91": "all-MiniLM-L6-v2's model.safetensors: 22.7 M float32 parameters",
        "440": "BERT-base: 110 M parameters (Devlin et al., 2019) in float32",
        "14": "a 7-billion-parameter model at 2 bytes per parameter",
        "84": "a 7-billion-parameter model's gradient and two AdamW moments, 3 x 4 bytes per parameter",
        "147,456": "the values of a 384 x 384 matrix",
    },
}

NUMBER = re.compile(r"(?<![\w.$\\^_{-])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?!\w)")
MILLIONS = re.compile(r"(?<![\w.$\\^_{-])(\d+(?:\.\d+)?)\s?M\b")  # "0.5 M-parameter", "124 M"
NOT_CLAIMS = [
    re.compile(r"```.*?```", re.S),  # code blocks
    re.compile(r"`[^`]*`"),  # code spans
    re.compile(r"\$\$.*?\$\$", re.S),  # formulas
    re.compile(r"\$[^$]*\$"),
    re.compile(r"^#+ .*$", re.M),  # headings
    re.compile(r"(?:et al\.|[A-Z][\w-]+),?\s+\(?(?:19|20)\d{2}\b"),  # citations: "Hu et al. (2021)", "(Ben Zaken et al., 2022)"
    re.compile(r"\b(?:[Nn]otebooks?|[Ee]xercises?|[Ss]ections?)\s+\d+(?:(?:,|\s+and|\s+to|\s+or)\s+\d+)*"),
    re.compile(r"\(\d+(?: points?)?\)"),  # points, list references "(1)"
]


def claims(markdown: str) -> list[str]:
    """The numbers a markdown cell states.

    Example:
        >>> claims("Hu et al. (2021) train `r = 8`: about 0.3 % ($BA$) of 22.7 M, 1,024 tokens (Exercise 2, 3 points)")
        ['22.7 M', '0.3', '1,024']
    """
    for pattern in NOT_CLAIMS:
        markdown = pattern.sub(" ", markdown)
    millions = [f"{m} M" for m in MILLIONS.findall(markdown)]
    return millions + NUMBER.findall(MILLIONS.sub(" ", markdown))


def stated_by(number: str, notebook_numbers: set[float], notebook_text: str) -> bool:
    """Whether ``number`` appears in the notebook's code and outputs, literally or as the rounding of one of them.

    Example:
        >>> stated_by("2.5", {2.47}, ""), stated_by("1,000", {1024.0}, ""), stated_by("2.5", {2.44}, "")
        (True, True, False)
        >>> stated_by("0.5 M", {544256.0}, "")
        True
    """
    if number.endswith(" M"):
        significant = len(number[:-2].replace(".", "").lstrip("0"))
        return any(float(number[:-2]) in (_round(candidate, significant), _round(candidate / 1e6, significant))
                   for candidate in notebook_numbers)  # printed as 0.57 (M) or as 544,256
    plain = number.replace(",", "")
    for form, text in ((number, notebook_text), (plain, notebook_text.replace("_", ""))):  # 1,024 / 1024 / 1_024
        if re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", text):
            return True
    digits = plain.replace(".", "").lstrip("0")
    if "." not in plain:
        digits = digits.rstrip("0")  # "1,000" has one significant digit
    return any(_round(candidate, max(len(digits), 1)) == float(plain) for candidate in notebook_numbers)


def _round(value: float, significant: int) -> float:
    return float(f"{value:.{significant}g}") if value else 0.0


def _notebook_text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.parametrize("assignment", assignments())
def test_every_number_in_the_text_comes_from_the_notebook(assignment):
    quoted = QUOTED.get(assignment, {})
    unexplained = []
    for path in sorted((SOLUTIONS / assignment).glob("*.ipynb")):
        notebook = nbformat.read(path, 4)
        text = _notebook_text(notebook)
        numbers = {float(n.replace(",", "")) for n in NUMBER.findall(text)}
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "markdown":
                continue
            unexplained += [f"cell {index}: {n}" for n in claims(cell.source)
                            if n not in quoted and not stated_by(n, numbers, text)]
    assert not unexplained, (f"{assignment}: numbers in the text that no code or output of the notebook shows (print "
                             f"and assert them, or add a quoted fact with its source to QUOTED): {unexplained}")


def test_quoted_facts_are_still_quoted():
    for assignment, quoted in QUOTED.items():
        said = {n for path in (SOLUTIONS / assignment).glob("*.ipynb")
                for cell in nbformat.read(path, 4).cells if cell.cell_type == "markdown" for n in claims(cell.source)}
        assert set(quoted) <= said, f"{assignment}: QUOTED lists numbers its text no longer states: {set(quoted) - said}"
