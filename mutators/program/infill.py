"""The `infill` operator: a base model rewrites the end of one line of the evolvable function.

A small base model rarely writes a whole new function that runs, but it can finish one line.
The prompt is the completion prompt (`completion.j2`: the fixed code, the parent's function as
`<name>_v0`, then `<name>_v1`) whose new version repeats the parent's body up to one line and
that line up to the start of one of its expressions, drawn at random (by default an operand of
arithmetic, such as `0.25` or `np.cos(angle)` in `0.25 * np.cos(angle)`: cut elsewhere, a call
argument or a right-hand side, the new line broke most programs). The model continues to the
end of that line (stop at the newline; a GBNF grammar for models that take one);
the child is the parent with that line's tail replaced. Answers that do not compile or give the
parent back are rejections, so the proposer asks again, up to `samples` short calls per
proposal (llama.cpp's server ignores `n`, so one sample a call).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import Field

from mutators.program.blocks import ProgramTemplate, TemplateError
from mutators.program.checks import finish, same_program, syntax_problem
from mutators.program.completion import EvolvableFunction, find_function, skeleton
from mutators.program.grammar import line_grammar
from mutators.program.operators import OperatorBase, OperatorConfig, register_operator
from mutators.program.prompts import render_raw
from mutators.program.types import MutationContext, OperatorError, Prompt, Proposal

STOP = ("\n",)


class InfillConfig(OperatorConfig):
    """Options of the `infill` operator."""

    name: Literal["infill"] = "infill"
    function: str | None = Field(None, description="Function to edit; default: the first "
                                 "top-level function inside the EVOLVE-BLOCKs (the next one "
                                 "when it has no line to cut).")
    samples: int = Field(4, ge=1, le=16, description="Most model calls per proposal: answers "
                         "that do not compile or repeat the parent are asked again.")
    temperature: float = Field(0.9, ge=0.0, le=2.0, description="Suggested temperature.")
    max_tokens: int = Field(64, ge=8, description="Suggested limit on generated tokens.")
    show_task: bool = Field(False, description="Write the task as comments at the top (a base "
                            "model does not follow it; it lengthens every call).")
    grammar: bool = Field(True, description="Send a GBNF grammar (balanced brackets, the cut's "
                          "open brackets closed, one line) to models that take grammars.")
    cuts: Literal["operands", "expressions"] = Field(
        "operands", description="Where lines are cut: at an operand of arithmetic (the rest "
        "of a formula; any expression when the function has none), or at any expression "
        "(call arguments, right-hand sides too, which breaks more programs).")


def block_functions(source: str) -> list[str]:
    """Names of the top-level functions defined inside the EVOLVE-BLOCKs of `source`."""
    try:
        template = ProgramTemplate.parse(source)
        tree = ast.parse(source)
    except (TemplateError, SyntaxError):
        return []
    spans = [template.block_span(i) for i in range(len(template.block_texts))]
    return [node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and any(a <= node.lineno and node.end_lineno <= b for a, b in spans)]


def _operands(tree: ast.AST) -> set[ast.AST]:
    """The operands of the arithmetic (binary operations) in `tree`."""
    return {child for node in ast.walk(tree) if isinstance(node, ast.BinOp)
            for child in (node.left, node.right)}


def cut_points(source: str, function: EvolvableFunction,
               operands: bool = False) -> list[tuple[int, int]]:
    """Where a line of `function`'s body may be cut: (1-based line, character column).

    Each is the start of an expression that lies on one line after the docstring, and not at
    the line's first character (the model keeps the statement's start); with `operands`, only
    of an operand of a binary operation (`0.25` or `np.cos(angle)` in `0.25 * np.cos(angle)`).
    """
    tree = ast.parse(source)
    body_first = function.body_first_line
    lines = source.splitlines()
    allowed = _operands(tree) if operands else None
    points = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.expr) or node.end_lineno != node.lineno:
            continue
        if allowed is not None and node not in allowed:
            continue
        if not body_first <= node.lineno <= function.last_line:
            continue
        line = lines[node.lineno - 1]
        column = len(line.encode()[: node.col_offset].decode(errors="replace"))
        if line[:column].strip():
            points.add((node.lineno, column))
    return sorted(points)


def build_infill_prompt(parent: str, task: str, rng: np.random.Generator,
                        name: str | None = None,
                        cuts: str = "expressions") -> tuple[str, dict[str, Any]]:
    """The prompt text (ending mid-line) and the state `infill` needs. `cuts`: "operands" cuts
    at an operand of arithmetic, or at any expression when the function has none;
    "expressions" at any expression.

    Raises:
        OperatorError: No function inside the blocks, or none with a line to cut.
    """
    order = [name] if name else (block_functions(parent) or [None])
    for candidate in order:
        target = find_function(parent, candidate)
        points = (cuts == "operands" and cut_points(parent, target, operands=True)) \
            or cut_points(parent, target)
        if points:
            break
    else:
        raise OperatorError("no line of the evolvable function has an expression to rewrite")
    line_no, column = points[int(rng.integers(len(points)))]
    lines = parent.splitlines()
    before = lines[target.body_first_line - 1 : line_no - 1]
    prefix = lines[line_no - 1][:column]
    previous = target.text(f"{target.name}_v0").rstrip("\n")
    head = target.renamed_signature(f"{target.name}_v1")
    doc = [f'{target.indent}"""Improved version of `{target.name}_v0`."""']
    header = "\n".join([*head, *doc, *before, prefix])
    text = render_raw("completion.j2", task=task.strip(), skeleton=skeleton(parent, target),
                      versions=[previous], header=header)
    if text.endswith("\n"):  # the prompt must end where the line was cut
        text = text[:-1]
    state = {"function": target.name, "line": line_no, "prefix": prefix,
             "old": lines[line_no - 1]}
    return text, state


def infill(parent: str, state: Mapping[str, Any], response: str,
           operator: str = "infill") -> Proposal:
    """Put the model's line ending after the cut and check the child.

    Rejections: an empty answer, a child that does not compile, or the parent again.
    """
    tail = response.split("\n", 1)[0].rstrip()
    if not tail.strip():
        return Proposal.reject(operator, "the infilled line is empty")
    name = state["function"]
    tail = tail.replace(f"{name}_v1", name).replace(f"{name}_v0", name)
    new_line = state["prefix"] + tail
    lines = parent.splitlines()
    lines[state["line"] - 1] = new_line
    child = "\n".join(lines) + ("\n" if parent.endswith("\n") else "")
    problem = syntax_problem(child)
    if problem:
        return Proposal.reject(operator, f"the infilled line {new_line.strip()!r} breaks the "
                                         f"program: {problem}")
    if same_program(parent, child):
        return Proposal.reject(operator, "the infilled line gives the parent back")
    note = f"rewrote line {state['line']} of {name}: {new_line.strip()!r}"
    return finish(operator, parent, child, note)


@register_operator("infill")
class InfillOperator(OperatorBase):
    """Let a base model rewrite the end of one line of the evolvable function."""

    Config = InfillConfig
    mode = "completion"
    languages = frozenset({"python"})
    language_note = ("it cuts a line of a Python function at an expression of Python's syntax "
                     "tree; use diff or rewrite with a chat model, or perturb_literals and splice")

    @property
    def samples(self) -> int:
        """Most model calls per proposal (the proposer asks again after a rejection)."""
        return self.config.samples

    def build_prompt(self, ctx: MutationContext, rng: np.random.Generator) -> Prompt:
        """Cut a random line of the parent's function at an expression; the prompt ends there.

        Raises:
            OperatorError: The parent has no such function or no line to cut.
        """
        cfg = self.config
        task = ctx.task if cfg.show_task else ""
        text, state = build_infill_prompt(ctx.parent.code, task, rng, cfg.function, cfg.cuts)
        grammar = (line_grammar(state["prefix"], state["old"][len(state["prefix"]):])
                   if cfg.grammar else None)
        return Prompt(self.name, "completion", text=text, stop=STOP,
                      max_tokens=cfg.max_tokens, temperature=cfg.temperature, state=state,
                      grammar=grammar)

    def apply(self, ctx: MutationContext, prompt: Prompt, response_text: str) -> Proposal:
        """Replace the cut line's tail with the model's text."""
        return infill(ctx.parent.code, prompt.state, response_text, self.name)
