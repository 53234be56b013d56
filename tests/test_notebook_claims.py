"""Claims come from data: the prose of a notebook types no measured number.

Every number of the forms a measured result takes (a decimal such as 2.01 or 0.60, a percentage,
a comma-grouped count such as 16,000, a ratio such as 3x) written in a Markdown cell of a notebook
source must be one of the kinds listed in ALLOWED below, each with its reason: quoted from a paper, a definition, a setting, a section or
an identifier. A measured result (an error rate, a perplexity, a ratio, a time) belongs in a code
cell that reads it from the run or from ``data/*.json``. A new number in the prose fails this test
until it is either read from data or added here with its reason; an entry that no longer occurs
fails too, so the list cannot go stale.
"""
import re

import pytest

from fwcourse.course.build_notebooks import repo_root
from fwcourse.course.notebooks import NOTEBOOKS

ALLOWED = {
    "01": {"0.05": "the paper's criterion, quoted", "0.25": "the task's definition (stop probability)"},
    "02": {"4.1": "a section of Schlag et al. (2021)"},
    "03": {"0%": "the task's floor", "50%": "a round bound in the text, well under the plateau",
           "62%": "the plateau of K = 4, derived in the text", "38%": "1 - the plateau, derived in the text",
           "60%": "the paper's IRNN and LSTM numbers at R = 20, quoted (rounded)",
           "16,000": "the default scale's setting (config)", "120,000": "the Table 1 protocol's setting",
           "arXiv:1610.06258": "a reference", "arXiv:1504.00941": "a reference", "arXiv:1607.06450": "a reference"},
    "04": {"7.4280": "the seed project's README, quoted", "2.4175": "quoted", "7.32514": "quoted", "0.5997": "quoted",
           "7.3006": "quoted", "2.8562": "quoted", "0.60": "the seed project's loss, quoted",
           "10%": "the corpus's near-duplicate threshold (a setting)", "arXiv:1610.06258": "a reference"},
    "05": {"3.2.2": "a section of Vaswani et al. (2017)", "10%": "the near-duplicate threshold (a setting)"},
    "06": {"3x": "Krause et al.'s words, quoted", "0.01": "the FWL step size's initial value (a setting)",
           "600,000": "the default scale's training words (config), as the committed runs used",
           "arXiv:1904.08378": "a reference"},
}
_NUMBER = re.compile(r"[^\s(]*\d[\d,]*\.\d+\s*%?|\b\d+(?:,\d{3})+\b|\b\d+%|\b\d+x\b")


def prose_numbers(stem: str) -> list[str]:
    """The numbers of the Markdown cells of ``notebooks/src/STEM.py``, maths and inline code left out."""
    text = (repo_root() / "notebooks" / "src" / f"{stem}.py").read_text(encoding="utf-8")
    found = []
    for block in re.split(r"^# %%", text, flags=re.MULTILINE)[1:]:
        header, _, body = block.partition("\n")
        if "[markdown]" not in header:
            continue
        body = re.sub(r"^# ?", "", body, flags=re.MULTILINE)
        body = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`", " ", body, flags=re.DOTALL)
        found += [m.group().strip().rstrip(".,;:") for m in _NUMBER.finditer(body)]
    return found


@pytest.mark.parametrize("number, stem", [(n, s) for n, s, _ in NOTEBOOKS])
def test_prose_types_no_measured_number(number, stem):
    found = prose_numbers(stem)
    allowed = ALLOWED.get(number, {})
    typed = sorted({n for n in found if n not in allowed})
    assert not typed, (f"notebook {number} types these numbers in its prose: {typed}. Read a measured number "
                       "from the run or from data/*.json in a code cell; a quoted or defined one goes in ALLOWED.")
    stale = sorted(set(allowed) - set(found))
    assert not stale, f"ALLOWED lists numbers notebook {number} no longer has: {stale}"


def test_a_typed_result_is_caught():
    assert "2.01%" in _NUMBER.findall("fast weights reach 2.01% test error") and \
        "154.3" in [n.strip() for n in _NUMBER.findall("FWL 154.3 perplexity")]
