"""`Language`: what qd needs to know to evolve programs written in one programming language.

A language names its file extensions, its comment syntax (EVOLVE-BLOCK markers are comments),
how prompts call it and tag its code fences, the cheap syntax check run before an evaluation,
the toolchain the sandbox must show, and lexer-based versions of the code utilities (comment
stripping for duplicate detection, numeric literals for `perturb_literals`, branch counts for
the `complexity` measure). Python overrides the utilities with its syntax tree
(`qd.languages.python`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from qd.languages.check import SyntaxCheck
from qd.languages.lexer import Syntax, normalised, without_comments
from qd.languages.literals import NumericLiteral, find_text_literals, number_pattern
from qd.languages.toolchain import Toolchain
from qd.sandbox import SandboxLimits

#: Branch points of C-like languages: keywords and short-circuit / conditional operators.
C_BRANCHES = r"\b(?:if|for|while|case|catch)\b|&&|\|\||\?"


@dataclass(frozen=True)
class Language:
    """One programming language of evolved programs (registered by `name`).

    Attributes:
        name: Registry name, used as `problem.language` ("c", "rust").
        title: Name shown in prompts ("C", "Rust").
        extensions: File extensions, the first one used for candidate files (".c").
        fence: Info string of code fences in prompts ("c").
        fence_tags: Info strings accepted in answers, lower case ("c", "h").
        syntax: Comment and string delimiters.
        comment: Token that starts EVOLVE-BLOCK marker lines ("//").
        comment_end: Token that ends them, for block-comment-only languages (" *)").
        check: Syntax-check command run in the sandbox, "{file}" standing for the candidate;
            empty: no check before evaluation.
        toolchain: What the evaluator and the check need installed; None: nothing.
        branches: Regex of branch points counted by the `complexity` measure.
        exponents: Exponent letters of float literals ("eEdD" for Fortran).
        directives: C preprocessor lines exist (their numbers are never perturbed).
        case_insensitive_branches: Match `branches` ignoring case (Fortran).
        sandbox: The run's sandbox limits, set by `in_sandbox` (the syntax check uses them).
    """

    name: str
    title: str
    extensions: tuple[str, ...]
    fence: str
    fence_tags: tuple[str, ...]
    syntax: Syntax
    comment: str
    comment_end: str = ""
    check: tuple[str, ...] = ()
    toolchain: Toolchain | None = None
    branches: str = C_BRANCHES
    exponents: str = "eE"
    directives: bool = False
    case_insensitive_branches: bool = False
    sandbox: str | None = field(default=None, compare=False, repr=False)

    # --- markers and files -------------------------------------------------------------------

    @property
    def start_marker(self) -> str:
        """The line that opens an evolvable block, e.g. `// EVOLVE-BLOCK-START`."""
        return f"{self.comment} EVOLVE-BLOCK-START{self.comment_end}"

    @property
    def end_marker(self) -> str:
        """The line that closes an evolvable block, e.g. `// EVOLVE-BLOCK-END`."""
        return f"{self.comment} EVOLVE-BLOCK-END{self.comment_end}"

    @property
    def marker_tokens(self) -> tuple[str, ...]:
        """Comment openers accepted before EVOLVE-BLOCK-START/END in this language."""
        return tuple(dict.fromkeys([self.comment, *(o for o, _ in self.syntax.block_comments)]))

    @property
    def candidate_name(self) -> str:
        """File name of a candidate program handed to the evaluator ("candidate.c")."""
        return "candidate" + self.extensions[0]

    # --- checks ------------------------------------------------------------------------------

    def in_sandbox(self, limits: SandboxLimits) -> Language:
        """A copy whose syntax check runs under a run's sandbox limits."""
        return replace(self, sandbox=limits.model_dump_json())

    def syntax_problem(self, source: str) -> str | None:
        """Why `source` does not compile (the compiler's first errors), or None.

        Runs `check` in the sandbox (the limits of `in_sandbox`, else the defaults); a
        language without a check accepts everything.

        Raises:
            ToolchainError: The language's toolchain is not installed.
        """
        if not self.check:
            return None
        return _syntax_check(self, self.sandbox or SandboxLimits().model_dump_json())(source)

    # --- code utilities ----------------------------------------------------------------------

    def normalise(self, code: str) -> str:
        """Canonical text: comments dropped, whitespace runs collapsed."""
        return normalised(code, self.syntax)

    def same_program(self, a: str, b: str) -> bool:
        """Tell whether `a` and `b` differ only in comments and layout."""
        return self.normalise(a) == self.normalise(b)

    def complexity(self, code: str) -> float:
        """1 + branch points (keywords such as `if`, `for`, `case`; `&&`, `||`, `?`)."""
        flags = re.IGNORECASE if self.case_insensitive_branches else 0
        text = without_comments(code, self.syntax, blank_strings=True)
        return float(1 + len(re.findall(self.branches, text, flags)))

    def literals(self, source: str, spans: Sequence[tuple[int, int]],
                 include_ints: bool = True) -> list[NumericLiteral]:
        """Numeric literals in code lines inside `spans` ((first, last) 1-based lines), in
        file order; never in comments or strings, array indices or `#include`-like lines.
        """
        return find_text_literals(source, self.syntax, number_pattern(self.exponents), spans,
                                  include_ints, self.directives)

    @property
    def supports_statements(self) -> bool:
        """Whether block code can be cut into named statements (Python's syntax tree)."""
        return False


@functools.lru_cache(maxsize=32)
def _syntax_check(language: Language, limits_json: str) -> SyntaxCheck:
    """The shared `SyntaxCheck` of `language` under limits given as JSON (one per run)."""
    return SyntaxCheck(language.title, language.check, language.candidate_name,
                       language.toolchain, SandboxLimits.model_validate_json(limits_json))
