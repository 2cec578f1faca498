"""Program problems: evolve the EVOLVE-BLOCKs of `initial.py`, scored by the user's `evaluate.py`.

```toml
[problem]
name = "program"
initial = "initial.py"         # code with # EVOLVE-BLOCK-START / # EVOLVE-BLOCK-END markers
evaluator = "evaluate.py"      # run as: python evaluate.py CANDIDATE_PATH RESULT_PATH
task = "What the program must do; shown to the LLM."
objective_bounds = [0.0, 3.0]  # (worst, best) score; worst offsets the QD score

[[problem.measures]]           # archive axes, from the evaluator or built-in descriptors
source = "evaluator"           # the evaluator's "measures"[index]
index = 0
range = [0.0, 0.2]
[[problem.measures]]
source = "code_length"         # or: lines, complexity, eval_time
range = [0, 4000]
# source = "embedding", index = k: k-th whitened principal component of MiniLM code
# embeddings, refitted as the run grows ([problem.embedding]; see docs/embeddings.md)
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from problems.registry import register_problem
from qd.components import ComponentConfig, StrictModel, existing_file

#: Principal components a `source = "embedding"` measure can use (index 0 to 3).
EMBEDDING_AXES = 4


class MeasureConfig(StrictModel):
    """One archive axis of a program problem."""

    source: Literal["evaluator", "code_length", "lines", "complexity", "eval_time", "judge",
                    "embedding"]
    index: int = Field(0, ge=0, description="Position in the evaluator's `measures` list "
                       "(source judge: position in `judge.axes`).")
    range: tuple[float, float] = Field(description="(low, high) of this axis in the archive "
                                       "(source judge: default (0, 10)).")
    name: str | None = Field(None, description="Label for reports; default: source[index].")

    @model_validator(mode="before")
    @classmethod
    def _judge_range(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("source") == "judge" and "range" not in data:
            return {**data, "range": (0.0, 10.0)}  # judge ratings are 0-10
        return data

    @model_validator(mode="before")
    @classmethod
    def _embedding_range(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("source") == "embedding" and "range" not in data:
            return {**data, "range": (-3.0, 3.0)}  # whitened PCA units: unit variance
        return data

    @model_validator(mode="after")
    def _ordered(self) -> MeasureConfig:
        if not self.range[0] < self.range[1]:
            raise ValueError(f"range must be (low, high) with low < high, got {list(self.range)}")
        if self.source == "embedding" and self.index >= EMBEDDING_AXES:
            raise ValueError(f"source embedding: index is a principal component, 0 to "
                             f"{EMBEDDING_AXES - 1}; got {self.index}")
        return self

    @property
    def label(self) -> str:
        """Display name of the axis."""
        if self.name:
            return self.name
        if self.source == "judge":
            return f"judge[{self.index}]"
        if self.source == "embedding":
            return f"embedding PC{self.index + 1}"
        return f"evaluator[{self.index}]" if self.source == "evaluator" else self.source


class EmbeddingMeasureSettings(StrictModel):
    """`[problem.embedding]`: how `source = "embedding"` measures are computed (see
    docs/embeddings.md): principal components of code embeddings, whitened, refitted as the
    run grows.
    """

    embedder: str = Field("minilm", description="Code embedder: minilm or ngram.")
    refit_every: int = Field(20, ge=1, description="Refit the projection after this many more "
                             "valid programs.")
    min_programs: int = Field(8, ge=2, description="Valid programs before the first fit; "
                              "until then embedding measures are 0.")


class ProgramProblemConfig(ComponentConfig):
    """Config of a program-evolution problem."""

    name: Literal["program"] = "program"
    initial: Path = Field(description="Initial program with EVOLVE-BLOCK markers.")
    evaluator: Path = Field(description="Evaluator script: python evaluate.py CANDIDATE RESULT.")
    task: str = Field("", description="Task description given to the LLM.")
    files: list[Path] = Field(default_factory=list, description="Extra files for the evaluator.")
    objective_bounds: tuple[float, float] = Field((0.0, 1.0), description="(worst, best) score.")
    measures: list[MeasureConfig] = Field(
        default_factory=lambda: [MeasureConfig(source="code_length", range=(0.0, 5000.0)),
                                 MeasureConfig(source="complexity", range=(1.0, 60.0))],
        min_length=1,
        description="Archive axes.",
    )
    embedding: EmbeddingMeasureSettings = Field(
        default_factory=EmbeddingMeasureSettings,
        description="Projection settings of `source = \"embedding\"` measures.",
    )

    _initial_exists = field_validator("initial", "evaluator")(existing_file)

    @field_validator("files")
    @classmethod
    def _files_exist(cls, values: list[Path], info) -> list[Path]:  # noqa: ANN001
        return [existing_file(v, info) for v in values]


@register_problem("program")
class ProgramProblem:
    """Marker class: program problems are run by the program engine, not the batched one."""

    Config = ProgramProblemConfig
    kind: ClassVar[str] = "program"
    summary = "Evolve EVOLVE-BLOCKs of a program with LLMs; scored by your evaluate.py"
    needs = "an LLM (the embedded local model by default) and a sandbox"
