"""Offline syntax highlighting for reports: pygments HTML with CSS classes, CSS embedded once."""

from __future__ import annotations

from functools import lru_cache

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, PythonLexer, get_lexer_by_name
from pygments.util import ClassNotFound

from qd.languages import language_registry

#: CSS class of every highlighted block; `highlight_css` styles exactly these blocks.
CSS_CLASS = "hl"
STYLE = "friendly"


@lru_cache(maxsize=1)
def _formatter() -> HtmlFormatter:
    return HtmlFormatter(cssclass=CSS_CLASS, style=STYLE, nowrap=False)


def highlight_python(code: str) -> str:
    """Python source as an HTML `<div class="hl"><pre>…</pre></div>` (escaped, class-styled)."""
    return highlight(code, PythonLexer(), _formatter())


def highlight_code(code: str, language: str = "python") -> str:
    """Source in the registered `language` (its fence tag names the pygments lexer; plain
    text when pygments has none) as highlighted HTML.
    """
    if language == "python" or language not in language_registry:
        return highlight_python(code)
    try:
        lexer = get_lexer_by_name(language_registry.get(language).fence)
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return highlight(code, lexer, _formatter())


def highlight_diff(diff: str) -> str:
    """A unified diff as highlighted HTML."""
    return highlight(diff, DiffLexer(), _formatter())


def highlight_css() -> str:
    """The CSS rules for highlighted blocks, only those scoped to `.hl` (pygments also emits
    global `pre` and line-number rules, which would restyle the rest of the report).
    """
    rules = _formatter().get_style_defs(f".{CSS_CLASS}").splitlines()
    return "\n".join(r for r in rules if r.startswith(f".{CSS_CLASS}"))
