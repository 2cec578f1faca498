"""Where the archive axes of a program problem come from: measure sources, registered by name.

A `[[problem.measures]]` entry names its `source`. Sources computed from the evaluation itself
(`evaluator`, `code_length`, `lines`, `complexity`, `eval_time`) give their value when the
sandboxed evaluator returns; the others are filled afterwards by the stage named in
`filled_by` (`judge`: the LLM judge's rating, `embedding`: the run's code-embedding
projection), and are NaN until then. A new source is one class here plus a test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from qd.languages import PYTHON, Language
from qd.registry import Registry

#: Principal components a `source = "embedding"` measure can use (index 0 to 3).
EMBEDDING_AXES = 4


@dataclass(frozen=True)
class Evaluated:
    """What a measure is computed from: the program, its evaluation time, the measures its
    evaluator returned, and the program's language.
    """

    code: str
    eval_s: float
    evaluator_measures: Sequence[float] = ()
    language: Language = PYTHON


class MeasureSource(Protocol):
    """One kind of archive axis."""

    #: Default `range` when the spec gives none (None: `range` is required).
    default_range: ClassVar[tuple[float, float] | None]
    #: Largest valid `index` + 1 (None: any index).
    max_index: ClassVar[int | None]
    #: The stage that fills this axis after evaluation, or None when `value` computes it.
    filled_by: ClassVar[str | None]

    def label(self, index: int) -> str:
        """Display name of the axis when the spec names none."""

    def value(self, index: int, sample: Evaluated) -> float:
        """The axis value of an evaluated program (NaN for sources filled later)."""


#: Measure sources by name.
measure_source_registry: Registry[type[MeasureSource]] = Registry("measure source")


class _Computed:
    default_range: ClassVar[tuple[float, float] | None] = None
    max_index: ClassVar[int | None] = None
    filled_by: ClassVar[str | None] = None
    name: ClassVar[str] = ""

    def label(self, index: int) -> str:
        """Display name of the axis when the spec names none."""
        return self.name


@measure_source_registry.register("evaluator")
class EvaluatorMeasure(_Computed):
    """The evaluator's `measures[index]`."""

    def label(self, index: int) -> str:
        """Display name of the axis when the spec names none."""
        return f"evaluator[{index}]"

    def value(self, index: int, sample: Evaluated) -> float:
        """The axis value of an evaluated program."""
        return float(sample.evaluator_measures[index])


@measure_source_registry.register("code_length")
class CodeLength(_Computed):
    """Characters of code, excluding blank lines."""

    name = "code_length"

    def value(self, index: int, sample: Evaluated) -> float:
        """The axis value of an evaluated program."""
        return float(sum(len(line) for line in sample.code.splitlines() if line.strip()))


@measure_source_registry.register("lines")
class LineCount(_Computed):
    """Non-blank lines."""

    name = "lines"

    def value(self, index: int, sample: Evaluated) -> float:
        """The axis value of an evaluated program."""
        return float(sum(1 for line in sample.code.splitlines() if line.strip()))


@measure_source_registry.register("complexity")
class Complexity(_Computed):
    """McCabe-style cyclomatic complexity: 1 + branch points in the whole program. Python's
    come from the syntax tree (0 when the code does not parse); other languages count branch
    keywords and operators in code (`if`, `for`, `while`, `case`, `&&`, `||`, `?`, ...;
    `Language.complexity`).
    """

    name = "complexity"

    def value(self, index: int, sample: Evaluated) -> float:
        """The axis value of an evaluated program."""
        return sample.language.complexity(sample.code)


@measure_source_registry.register("eval_time")
class EvalTime(_Computed):
    """Wall-clock seconds the evaluation took."""

    name = "eval_time"

    def value(self, index: int, sample: Evaluated) -> float:
        """The axis value of an evaluated program."""
        return float(sample.eval_s)


@measure_source_registry.register("judge")
class JudgeRating(_Computed):
    """The LLM judge's 0-10 rating on `judge.axes[index]` (docs/judge.md)."""

    default_range = (0.0, 10.0)
    filled_by = "judge"

    def label(self, index: int) -> str:
        """Display name of the axis when the spec names none."""
        return f"judge[{index}]"

    def value(self, index: int, sample: Evaluated) -> float:
        """The axis value of an evaluated program."""
        return math.nan


@measure_source_registry.register("embedding")
class EmbeddingComponent(_Computed):
    """The `index`-th whitened principal component of code embeddings (docs/embeddings.md)."""

    default_range = (-3.0, 3.0)  # whitened PCA units: unit variance
    max_index = EMBEDDING_AXES
    filled_by = "embedding projection"

    def label(self, index: int) -> str:
        """Display name of the axis when the spec names none."""
        return f"embedding PC{index + 1}"

    def value(self, index: int, sample: Evaluated) -> float:
        """The axis value of an evaluated program."""
        return math.nan


def measure_source(name: str) -> MeasureSource:
    """The source registered as `name` (`RegistryError` names the valid ones)."""
    return measure_source_registry.get(name)()
