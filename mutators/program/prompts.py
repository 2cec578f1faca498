"""Prompt rendering: the jinja2 templates in `mutators/prompts/` and the views they receive."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from qd.languages import PYTHON, Language
from qd.program.types import Program

PROMPT_DIR = Path(__file__).resolve().parent.parent / "prompts"
MAX_FEEDBACK_CHARS = 2000
_FENCE_LINE = re.compile(r"^[ \t]*```[\w+.-]*[ \t]*$")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """Return the jinja2 environment over `PROMPT_DIR` (strict: a missing value is an error)."""
    return Environment(
        loader=FileSystemLoader(str(PROMPT_DIR)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def format_number(value: float | int | None) -> str:
    """Format a number for a prompt: integers as they are, floats to 6 significant digits."""
    if value is None:
        return "not evaluated"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{float(value):.6g}"


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + f"\n[... {len(text) - limit} more characters not shown]"


def program_view(record: Program) -> dict[str, Any]:
    """Return what templates show of a program: code, score, metrics and feedback as text."""
    metrics = {str(k): format_number(v) if isinstance(v, int | float) else str(v)
               for k, v in record.metrics.items()}
    return {
        "id": str(record.id),
        "code": record.code.rstrip("\n"),
        "score": format_number(record.score),
        "metrics": metrics,
        "feedback": _shorten(record.feedback, MAX_FEEDBACK_CHARS),
    }


def language_view(language: Language) -> dict[str, str]:
    """What templates show of the programs' language: its name, fence tag and marker lines."""
    return {"name": language.title, "fence": language.fence, "start": language.start_marker,
            "end": language.end_marker}


def render(name: str, **values: Any) -> str:
    """Render template `name` (e.g. "diff.j2") with `values`; blank runs outside code squeezed.

    Raises:
        jinja2.TemplateNotFound: No such file in `PROMPT_DIR`.
        jinja2.UndefinedError: The template uses a value that was not given.
    """
    text = environment().get_template(name).render(**values)
    return squeeze_prose(text).strip() + "\n"


def squeeze_prose(text: str) -> str:
    """Collapse runs of blank lines to one, except inside ``` code fences (code stays exact)."""
    out: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if _FENCE_LINE.match(line):
            in_code = not in_code
        elif not in_code and not line.strip() and out and not out[-1].strip():
            continue
        out.append(line if in_code or line.strip() else "")
    return "\n".join(out)


def render_raw(name: str, **values: Any) -> str:
    """Render template `name` exactly, for completion prompts whose last characters matter."""
    return environment().get_template(name).render(**values)


def chat_messages(template: str, system: str = "system.j2", language: Language = PYTHON,
                  **values: Any) -> tuple[Mapping[str, str], ...]:
    """Render a system message and a user message from templates; both get `lang`, the
    `language_view` of the programs' language.
    """
    lang = language_view(language)
    return (
        {"role": "system", "content": render(system, lang=lang)},
        {"role": "user", "content": render(template, lang=lang, **values)},
    )


def views(records: Sequence[Program], limit: int) -> list[dict[str, Any]]:
    """Return the views of the first `limit` records."""
    return [program_view(record) for record in records[:limit]]
