"""Completion prompts for base (non-chat) code models, FunSearch-style, and their continuations.

The prompt is the program's fixed code followed by earlier versions of the evolvable function,
renamed `<name>_v0`, `<name>_v1`, ... (lowest score first, best last), and ends with the header
of the next version `<name>_vN`: its signature and docstring, and in "cut" mode also the first
k lines of the parent's body. The model's continuation is cut where the function ends, parsed,
renamed back to `<name>` and put in place of the parent's function.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mutators.program.blocks import ProgramTemplate, TemplateError, is_marker
from mutators.program.checks import finish
from mutators.program.prompts import render_raw
from mutators.program.types import OperatorError, Proposal
from qd.program.types import Program

Strategy = Literal["versions", "cut"]
STOP_SEQUENCES = ("\ndef ", "\nasync def ", "\nclass ", "\nif __name__", "\n@",
                  "\n# EVOLVE-BLOCK-END")
_BLANK_RUNS = re.compile(r"\n{4,}")


@dataclass(frozen=True)
class EvolvableFunction:
    """A top-level function inside an EVOLVE-BLOCK, cut into the parts a prompt needs.

    Attributes:
        name: Its name.
        first_line: 1-based first line in the program (decorators included).
        last_line: 1-based last line in the program.
        signature: Decorator and `def` lines, up to the colon.
        docstring: Lines of its docstring ([] when it has none).
        body: Lines after the docstring.
        indent: Indentation of the body.
        cuts: Offsets into `body` where a statement starts (possible cut points, 0 excluded).
    """

    name: str
    first_line: int
    last_line: int
    signature: tuple[str, ...]
    docstring: tuple[str, ...]
    body: tuple[str, ...]
    indent: str
    cuts: tuple[int, ...]

    @property
    def body_first_line(self) -> int:
        """1-based program line of the first line of `body`."""
        return self.last_line - len(self.body) + 1

    def renamed_signature(self, name: str) -> list[str]:
        """The signature lines with the function called `name`."""
        return [_rename_def(line, self.name, name) for line in self.signature]

    def text(self, name: str | None = None, docstring: Sequence[str] | None = None,
             body: Sequence[str] | None = None) -> str:
        """Its source, optionally renamed, with another docstring or a shorter body."""
        signature = list(self.signature) if name is None else self.renamed_signature(name)
        doc = self.docstring if docstring is None else docstring
        rest = self.body if body is None else body
        return "\n".join([*signature, *doc, *rest]) + "\n"


def _rename_def(line: str, old: str, new: str) -> str:
    return re.sub(rf"^(\s*(?:async\s+)?def\s+){re.escape(old)}\b", rf"\g<1>{new}", line)


def _split(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> EvolvableFunction:
    """Cut `node`, parsed from a source whose lines are `lines`."""
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    first_body = node.body[0]
    value = getattr(first_body, "value", None)
    has_doc = (isinstance(first_body, ast.Expr) and isinstance(value, ast.Constant)
               and isinstance(value.value, str))
    doc_end = first_body.end_lineno if has_doc else first_body.lineno - 1
    after = node.body[1:] if has_doc else node.body
    stmt_lines = sorted({s.lineno for n in after for s in ast.walk(n) if isinstance(s, ast.stmt)})
    body_start = doc_end + 1
    line = lines[first_body.lineno - 1]
    return EvolvableFunction(
        name=node.name,
        first_line=start,
        last_line=node.end_lineno,
        signature=tuple(lines[start - 1 : first_body.lineno - 1]),
        docstring=tuple(lines[first_body.lineno - 1 : doc_end]) if has_doc else (),
        body=tuple(lines[body_start - 1 : node.end_lineno]),
        indent=line[: len(line) - len(line.lstrip())],
        cuts=tuple(n - body_start for n in stmt_lines if n > body_start),
    )


def find_function(source: str, name: str | None = None) -> EvolvableFunction:
    """Find the top-level function `name` (default: the first) defined in an EVOLVE-BLOCK.

    Raises:
        OperatorError: The program does not parse, has no markers, or defines no such function
            inside its blocks.
    """
    try:
        template = ProgramTemplate.parse(source)
        tree = ast.parse(source)
    except (TemplateError, SyntaxError) as err:
        raise OperatorError(f"cannot find the evolvable function: {err}") from None
    spans = [template.block_span(i) for i in range(len(template.block_texts))]
    lines = source.splitlines()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        inside = any(a <= node.lineno and node.end_lineno <= b for a, b in spans)
        if inside and name in (None, node.name):
            if node.body[0].lineno != node.lineno:
                return _split(node, lines)
            # The body starts on the `def` line: cut a clean copy, keep the original's place.
            clean = ast.unparse(node).splitlines()
            copy = _split(ast.parse("\n".join(clean)).body[0], clean)
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            return EvolvableFunction(copy.name, start, node.end_lineno, copy.signature,
                                     copy.docstring, copy.body, copy.indent, copy.cuts)
    wanted = f"function {name!r}" if name else "top-level function"
    raise OperatorError(f"no {wanted} is defined inside the program's EVOLVE-BLOCKs")


def skeleton(source: str, function: EvolvableFunction) -> str:
    """Return the program without `function`, its marker lines and `__main__` section."""
    lines = source.splitlines()
    drop = set(range(function.first_line - 1, function.last_line))
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
            drop.update(range(node.lineno - 1, node.end_lineno))
    kept = [line for i, line in enumerate(lines) if i not in drop and not is_marker(line)]
    return _BLANK_RUNS.sub("\n\n\n", "\n".join(kept)).strip("\n")


def _score_key(record: Program) -> float:
    return float("-inf") if record.score is None else float(record.score)


def version_sources(records: Sequence[Program], name: str,
                    limit: int) -> list[EvolvableFunction]:
    """Return the function of up to `limit` records: distinct, best kept, lowest score first.

    Records whose function cannot be found are skipped.
    """
    found: dict[str, tuple[float, EvolvableFunction]] = {}
    for record in records:
        try:
            function = find_function(record.code, name)
        except OperatorError:
            continue
        key = function.text()
        if key not in found or found[key][0] < _score_key(record):
            found[key] = (_score_key(record), function)
    ranked = sorted(found.values(), key=lambda item: item[0])[-limit:] if limit > 0 else []
    return [function for _, function in ranked]


def _improved_doc(function: EvolvableFunction, name: str, version: int) -> list[str]:
    if version == 0:
        return list(function.docstring)
    return [f'{function.indent}"""Improved version of `{name}_v{version - 1}`."""']


def build_prompt_text(parent: Program, others: Sequence[Program], task: str,
                      strategy: Strategy, max_versions: int, rng: np.random.Generator,
                      name: str | None = None) -> tuple[str, dict[str, Any]]:
    """Build the completion prompt for `parent` and the state `complete` needs.

    Args:
        parent: The program to vary.
        others: Other programs whose versions of the function may be shown.
        task: Problem description, written as comment lines at the top ("" for none).
        strategy: "versions" shows the parent among the versions (by score, best last; the
            parent last when it would not make the cut) and asks for the whole next one;
            "cut" shows only the other programs' versions and ends with the parent's
            signature, docstring and first k body lines, k drawn with `rng` at a statement
            boundary.
        max_versions: Most earlier versions shown.
        rng: Source of the cut point.
        name: Function to evolve; default the first top-level function in the blocks.

    Returns:
        The prompt text (ending with a newline) and its state.
    """
    target = find_function(parent.code, name)
    shown = [r for r in others if r.code != parent.code]
    if strategy == "versions":
        versions = version_sources([*shown, parent], target.name, max_versions)
        if target.text() not in [v.text() for v in versions]:
            versions = [*versions[1:], target] if versions else [target]
        cut = 0
    else:
        versions = version_sources(shown, target.name, max_versions - 1)
        cut = int(rng.choice(target.cuts)) if target.cuts else 0
    number = len(versions)
    texts = [v.text(f"{target.name}_v{i}", _improved_doc(v, target.name, i)).rstrip("\n")
             for i, v in enumerate(versions)]
    doc = _improved_doc(target, target.name, number)
    head_lines = target.renamed_signature(f"{target.name}_v{number}")
    tail = list(target.body[:cut])
    header = "\n".join([*head_lines, *doc, *tail]) + "\n"
    text = render_raw("completion.j2", task=task.strip(), skeleton=skeleton(parent.code, target),
                      versions=texts, header=header)
    state = {"function": target.name, "version": number, "cut": len(tail), "header": header,
             "signature_lines": len(head_lines), "doc_lines": len(doc)}
    return text, state


def _function_end(lines: list[str], start: int) -> int:
    """Index of the first line at or after `start` that ends the function (len(lines) if none)."""
    for index in range(start, len(lines)):
        line = lines[index]
        if is_marker(line) or (line.strip() and not line[0].isspace()):
            return index
    return len(lines)


def _versioned_calls(tree: ast.AST, name: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(name)}_v\d+$")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return sorted(n for n in names if pattern.match(n))


def _parse_problem(err: SyntaxError, name: str, total: int) -> str:
    where = f" at line {err.lineno} of {name}" if err.lineno else ""
    hint = " (the continuation stops mid-function)" if (err.lineno or 0) >= total else ""
    return f"the completed function does not parse: {err.msg}{where}{hint}"


def complete(parent: str, state: Mapping[str, Any], response: str,
             operator: str = "completion") -> Proposal:
    """Turn a model's continuation of a completion prompt into a child program.

    The function ends at the first non-indented line or EVOLVE-BLOCK marker of the
    continuation (whatever stop sequences the server honoured; the prompt's own header lines
    are trusted). It must parse on its own and
    must not call other versions (`<name>_v0`, ...); it gets its original name and the
    parent's docstring back and replaces the parent's function.

    Args:
        parent: The parent's source.
        state: `Prompt.state` from `build_prompt_text`.
        response: The text the model generated after the prompt.
        operator: Name recorded in the proposal.
    """
    name, version = state["function"], state["version"]
    if not response.strip():
        return Proposal.reject(operator, "the completion is empty")
    lines = (state["header"] + response).splitlines()
    lines = lines[: _function_end(lines, len(state["header"].splitlines()))]
    while lines and not lines[-1].strip():
        lines.pop()
    try:
        tree = ast.parse("\n".join(lines) + "\n")
    except SyntaxError as err:
        return Proposal.reject(operator, _parse_problem(err, f"{name}_v{version}", len(lines)))
    if len(lines) <= len(state["header"].splitlines()):
        return Proposal.reject(operator, f"the completion adds no line to {name}_v{version}")
    others = [n for n in _versioned_calls(tree, name) if n != f"{name}_v{version}"]
    if others:
        return Proposal.reject(
            operator, f"the new version uses {', '.join(others)}, which the program lacks")
    target = find_function(parent, name)
    head = [_rename_def(line, f"{name}_v{version}", name)
            for line in lines[: state["signature_lines"]]]
    rest = [re.sub(rf"\b{re.escape(name)}_v{version}\b", name, line)
            for line in lines[state["signature_lines"] + state["doc_lines"] :]]
    source_lines = parent.splitlines()
    source_lines[target.first_line - 1 : target.last_line] = [*head, *target.docstring, *rest]
    child = "\n".join(source_lines) + ("\n" if parent.endswith("\n") else "")
    cut = state["cut"]
    note = (f"continued {name} after {cut} lines of the parent's body" if cut
            else f"wrote a new version of {name}")
    return finish(operator, parent, child, note)
