"""Programming languages of evolved programs: a registry by name (`problem.language`), each
with its comment syntax, prompt name and fences, syntax check and toolchain (docs/languages.md).
"""

from qd.languages.builtin import detect_language, language_named, language_registry, register
from qd.languages.language import Language
from qd.languages.lexer import Syntax
from qd.languages.literals import NumericLiteral, format_literal
from qd.languages.python import PYTHON
from qd.languages.toolchain import Toolchain, ToolchainError

__all__ = [
    "PYTHON",
    "Language",
    "NumericLiteral",
    "Syntax",
    "Toolchain",
    "ToolchainError",
    "detect_language",
    "format_literal",
    "language_named",
    "language_registry",
    "register",
]
