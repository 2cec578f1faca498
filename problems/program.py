"""Program problems: evolve the EVOLVE-BLOCKs of `initial.py`, scored by the user's `evaluate.py`.

```toml
[problem]
name = "program"
initial = "initial.py"         # code with # EVOLVE-BLOCK-START / # EVOLVE-BLOCK-END markers
evaluator = "evaluate.py"      # run as: python evaluate.py CANDIDATE_PATH RESULT_PATH
language = "python"            # default: from the initial file's extension (initial.c: "c");
                               # markers are comments of the language (// EVOLVE-BLOCK-START)
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

from problems.measure_sources import measure_source, measure_source_registry
from problems.program_files import check_size
from problems.registry import register_problem
from qd.components import ComponentConfig, StrictModel, existing_file
from qd.errors import SpecError
from qd.languages import Language, detect_language, language_registry


class MeasureConfig(StrictModel):
    """One archive axis of a program problem (sources: `problems/measure_sources.py`)."""

    source: str = Field(description="Where the axis comes from: "
                        + ", ".join(measure_source_registry.names()) + ".")
    index: int = Field(0, ge=0, description="Position in the evaluator's `measures` list "
                       "(source judge: position in `judge.axes`; embedding: component).")
    range: tuple[float, float] = Field(description="(low, high) of this axis in the archive "
                                       "(judge: default (0, 10); embedding: (-3, 3)).")
    name: str | None = Field(None, description="Label for reports; default: source[index].")

    @model_validator(mode="before")
    @classmethod
    def _source_and_default_range(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "source" not in data:
            return data
        name = data["source"]
        if name not in measure_source_registry:
            raise ValueError(f"unknown measure source {name!r}; choose one of: "
                             f"{', '.join(measure_source_registry.names())}")
        default = measure_source(name).default_range
        if "range" not in data and default is not None:
            return {**data, "range": default}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> MeasureConfig:
        if not self.range[0] < self.range[1]:
            raise ValueError(f"range must be (low, high) with low < high, got {list(self.range)}")
        limit = measure_source(self.source).max_index
        if limit is not None and self.index >= limit:
            raise ValueError(f"source {self.source}: index must be 0 to {limit - 1}; "
                             f"got {self.index}")
        return self

    @property
    def label(self) -> str:
        """Display name of the axis."""
        return self.name or measure_source(self.source).label(self.index)

    @property
    def filled_by(self) -> str | None:
        """The stage that sets this axis after evaluation (None: the evaluator's run)."""
        return measure_source(self.source).filled_by


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
    language: str = Field(description="Language of the program (docs/languages.md): "
                          + ", ".join(language_registry.names())
                          + "; default: detected from the initial file's extension.")
    task: str = Field("", description="Task description given to the LLM.")
    files: list[Path] = Field(default_factory=list, description="Extra files or folders for "
                              "the evaluator; a folder travels with everything under it.")
    files_limit_mb: float = Field(100.0, gt=0, description="Most megabytes of `files` (copied "
                                  "into every evaluation's sandbox).")
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

    @model_validator(mode="before")
    @classmethod
    def _detect_language(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("language") is not None or "initial" not in data:
            return data
        try:
            language = detect_language(str(data["initial"]))
        except SpecError as err:
            raise ValueError(str(err).removeprefix("problem.language: ")) from None
        return {**data, "language": language.name}

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in language_registry:
            raise ValueError(f"unknown language {value!r}; choose one of: "
                             f"{', '.join(language_registry.names())}")
        return value

    @property
    def program_language(self) -> Language:
        """The registered `Language` of the program."""
        return language_registry.get(self.language)

    @field_validator("files")
    @classmethod
    def _files_exist(cls, values: list[Path], info) -> list[Path]:  # noqa: ANN001
        base = Path((info.context or {}).get("base_dir", "."))
        return [(base / v).resolve() if (base / v).is_dir() else existing_file(v, info)
                for v in values]

    @model_validator(mode="after")
    def _files_fit(self) -> ProgramProblemConfig:
        check_size(self.files, self.files_limit_mb)
        return self


@register_problem("program")
class ProgramProblem:
    """Marker class: program problems are run by the program engine, not the batched one."""

    Config = ProgramProblemConfig
    run_kind: ClassVar[str] = "program"  # run by qd/program (see qd/kinds.py)
    summary = "Evolve EVOLVE-BLOCKs of a program with LLMs; scored by your evaluate.py"
    needs = "an LLM (the embedded local model by default) and a sandbox"
