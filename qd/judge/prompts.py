"""Judge prompts (jinja files in `qd/judge/templates/`) and robust parsing of the answers.

The prompts are completion-style few-shot texts that end in "Rating (0-10):" or
"Answer (yes/no):", so an instruction-tuned chat model and a small base model (the embedded
Gemma 3 270M) both continue them with the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from qd.judge.config import JudgeAxis

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)(?:\s*/\s*(100|10)\b)?")
_YES_NO = re.compile(r"\b(yes|no|true|false)\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, autoescape=False,
                       keep_trailing_newline=False)


def shorten_code(code: str, limit: int) -> str:
    """The code, cut to `limit` characters with a note when longer."""
    code = code.strip("\n")
    if len(code) <= limit:
        return code
    return code[:limit].rstrip() + f"\n# [... {len(code) - limit} more characters not shown]"


def rating_prompt(axis: JudgeAxis, code: str, task: str = "", limit: int = 3000) -> str:
    """The prompt asking for a 0-10 rating of `code` on `axis` (ends in "Rating (0-10):")."""
    text = _environment().get_template("rate.j2").render(
        axis=axis, code=shorten_code(code, limit), task=task.strip())
    return text.rstrip()


def novelty_prompt(code: str, neighbours: Sequence[str], task: str = "",
                   limit: int = 3000) -> str:
    """The prompt asking whether `code` is interestingly new next to `neighbours`."""
    per = max(200, limit // max(1, len(neighbours)))
    text = _environment().get_template("novel.j2").render(
        code=shorten_code(code, limit), neighbours=[shorten_code(n, per) for n in neighbours],
        task=task.strip())
    return text.rstrip()


def parse_rating(answer: str) -> float | None:
    """The first number of `answer` as a rating in [0, 10], or None when there is none.

    "7", " 7.5/10", "Rating: 8", "80/100" are understood; a number outside [0, 10] (that is not
    written as x/100) is not a rating.
    """
    match = _NUMBER.search(answer)
    if match is None:
        return None
    value = float(match.group(1))
    if match.group(2) == "100":
        value /= 10.0
    return value if 0.0 <= value <= 10.0 else None


def parse_yes_no(answer: str) -> bool | None:
    """True for yes, False for no (the first of yes/no/true/false in `answer`), else None."""
    match = _YES_NO.search(answer)
    if match is None:
        return None
    return match.group(1).lower() in ("yes", "true")
