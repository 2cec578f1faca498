"""The `[judge]` spec section: an LLM that rates programs on named axes (QDAIF-style measures)
and screens candidates for interesting novelty before they are evaluated (IGE-style filter).

```toml
[judge]
model = "local"              # or a table: { model = "openai/gpt-4o-mini", mode = "chat" }
filter = true                # ask "interestingly new?" before paying for an evaluation
k = 3                        # nearest archive programs shown to the filter
scoring = "auto"             # "logprobs" | "sample" | "auto" (see docs/judge.md)

[[judge.axes]]
name = "approach"
low = "greedy"
high = "optimisation-based"

[[problem.measures]]
source = "judge"             # the rating on judge.axes[index], 0-10
index = 0
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from qd.components import StrictModel
from qd.llm.models import ModelConfig

#: The `model` value that stands for the embedded local model (as in `[llm]`).
LOCAL_MODEL = "local"


class JudgeAxis(StrictModel):
    """One axis the judge rates programs on, from 0 (`low`) to 10 (`high`)."""

    name: str = Field(min_length=1, description="Name of the axis, shown in prompts/reports.")
    low: str = Field(min_length=1, description="What a rating of 0 means, e.g. 'greedy'.")
    high: str = Field(min_length=1, description="What a rating of 10 means.")
    description: str = Field("", description="Optional extra sentence for the judge.")


class JudgeSection(StrictModel):
    """The `[judge]` section (see the module docstring)."""

    model: ModelConfig = Field(
        default_factory=lambda: ModelConfig(model=LOCAL_MODEL, mode="completion"),
        description='"local" (embedded base model), a litellm model string, or a model table.',
    )
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature of a first "
                               "ask; retries use at least 0.7 to get another answer.")
    max_tokens: int = Field(8, ge=1, le=256, description="Tokens the judge may generate.")
    axes: list[JudgeAxis] = Field(default_factory=list,
                                  description="Axes for `source = \"judge\"` measures.")
    filter: bool = Field(False, description="Reject candidates the judge finds not "
                         "interestingly new, before evaluating them.")
    k: int = Field(3, ge=1, le=10, description="Nearest archive programs shown to the filter.")
    retries: int = Field(2, ge=0, le=10, description="Re-asks after an unparseable answer.")
    max_failures: int = Field(10, ge=1, description="Stop the run after this many judge "
                              "questions in a row without a usable answer.")
    max_code_chars: int = Field(3000, ge=200, description="Longer programs are cut in prompts.")
    scoring: Literal["sample", "logprobs", "auto"] = Field(
        "auto", description='"logprobs": score from next-token probabilities (expected '
        'rating, P(yes)); "sample": parse one sampled answer; "auto": logprobs when the model '
        "returns them, else the sampled answer.")
    top_logprobs: int = Field(20, ge=2, le=20, description="Top tokens asked per position "
                              "when scoring by logprobs.")
    novelty_threshold: float = Field(0.5, ge=0, le=1, description="With logprob scoring, a "
                                     "candidate is interestingly new when P(yes) >= this.")

    @field_validator("model", mode="before")
    @classmethod
    def _model_shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            mode = "completion" if value == LOCAL_MODEL else "chat"
            return {"model": value, "mode": mode}
        return value

    @model_validator(mode="after")
    def _unique_axes(self) -> JudgeSection:
        names = [a.name for a in self.axes]
        if len(set(names)) != len(names):
            raise ValueError(f"axes: names must be unique, got {names}")
        return self
