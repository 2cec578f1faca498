"""Pydantic models of a problem spec (`problem.toml`) and of the run options.

A spec has four sections; every component is chosen by `name` from its registry and validated by
that component's own config model (a discriminated union), so an unknown key anywhere is an error:

```toml
[problem]            # required: name = one of `qd problems`, plus that problem's options
name = "sphere_lp"
dim = 100

[archive]            # optional: grid (default), cvt, sliding_boundaries, proximity
name = "grid"
cells = [100, 100]

[[emitters]]         # optional, repeatable: gaussian (default), iso_line, cma_me, cma_mae
name = "cma_me"
count = 5
batch_size = 36

[run]                # optional
budget = 20000       # evaluations
seed = 0
device = "cpu"       # cpu | cuda | auto
root = "runs"        # where run folders are created when --out is not given
cluster = "local:4"  # optional: evaluate on dask (local:N or tcp://HOST:PORT)
```
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, create_model, field_validator, model_validator

from qd.components import ComponentConfig, StrictModel
from qd.judge.config import JudgeSection
from qd.learned.config import LearnedMeasuresConfig
from qd.program.config import LLMSection, NoveltySection
from qd.registry import Registry
from qd.sandbox.limits import SandboxLimits


class RunOptions(StrictModel):
    """How long and where to run: the `[run]` section."""

    budget: int = Field(10_000, ge=1, le=10**12, description="Evaluations to spend.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Seed of every random generator.")
    device: Literal["cpu", "cuda", "auto"] = Field("cpu", description="Torch device.")
    backend: Literal["pyribs", "torch"] = Field(
        "pyribs", description="Numeric runs: where archives and emitters live. pyribs: numpy "
        "on the host; torch: tensors on the run's device from ask to tell (docs/torch_backend.md)."
    )
    store_evaluations: Literal["auto", "all", "elites", "none"] = Field(
        "auto", description="Numeric runs: which evaluated solutions the store keeps. all: every "
        "one; elites: those that entered the archive; none: only per-iteration metrics. Resume "
        "is exact in every mode (less than all: checkpoint + re-evaluation). auto: all when the "
        "budget's evaluations fit in 1 GiB, else elites."
    )
    root: Path = Field(Path("runs"), description="Parent folder of auto-named run folders.")
    log_every: int = Field(10, ge=1, description="Iterations between progress lines (non-TTY).")
    chunk_size: int | None = Field(
        None, ge=1, description="Evaluate at most this many solutions per torch call."
    )
    checkpoint_every: int = Field(
        0, ge=0, description="Checkpoint every N iterations (0: only by time and at the end)."
    )
    checkpoint_seconds: float = Field(
        60.0, ge=0, description="Checkpoint when this many seconds passed since the last one."
    )
    keep_checkpoints: int = Field(2, ge=1, le=100, description="Checkpoint files kept on disk.")
    max_llm_calls: int = Field(
        0, ge=0, description="Program runs: at most N LLM calls (0: off). Hard for proposal "
        "calls: each is reserved before it starts; judge calls are not reserved, so a run with "
        "[judge] can exceed it by the judge calls of the programs in evaluation."
    )
    max_tokens: int = Field(
        0, ge=0, description="Program runs: stop at N tokens (0: off). A call starts only if "
        "spent + (calls in flight + 1) x the largest call so far fits; it overshoots only by "
        "what calls exceed the largest before them (at most proposals_in_flight calls)."
    )
    max_cost_usd: float = Field(
        0.0, ge=0, description="Program runs: stop at this cost in USD (0: off); enforced like "
        "max_tokens, with the largest call's cost."
    )
    max_wall_s: float = Field(0.0, ge=0, description="Program runs: stop after N seconds (0: off).")
    cluster: str | None = Field(
        None, description="Evaluate on dask: local:N (start N workers) or tcp://HOST:PORT."
    )

    @field_validator("cluster")
    @classmethod
    def _cluster_address(cls, value: str | None) -> str | None:
        if value is not None:
            from qd.evaluation.dask_cluster import ClusterError, parse_cluster_address

            try:
                parse_cluster_address(value)
            except ClusterError as exc:
                raise ValueError(str(exc)) from None
        return value


DEFAULT_NAMES = {"archive": "grid", "emitters": "gaussian"}


def _union(registry: Registry[Any]) -> Any:
    configs = tuple(component.Config for _, component in registry.items())
    if len(configs) == 1:
        return configs[0]
    return Annotated[Union[configs], Field(discriminator="name")]  # noqa: UP007


class SpecBase(StrictModel):
    """Fields and defaults shared by the generated `Spec` model."""

    description: str = Field("", description="Free text shown in `qd problems` and reports.")
    run: RunOptions = RunOptions()
    llm: LLMSection | None = Field(None, description="Program runs: models and operators.")
    sandbox: SandboxLimits | None = Field(None, description="Program runs: limits of candidates.")
    novelty: NoveltySection | None = Field(None, description="Program runs: duplicate filter.")
    measures: LearnedMeasuresConfig | None = Field(
        None, description='Numeric runs: "learned" for an autoencoder-learned measure space.'
    )
    judge: JudgeSection | None = Field(
        None, description="Program runs: LLM-judged measures and interestingness filter.")

    @model_validator(mode="before")
    @classmethod
    def _default_names(cls, data: Any) -> Any:
        return fill_default_names(data)


def fill_default_names(data: Any) -> Any:
    """Fill `name` of the archive and of each emitter with the default when omitted."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    archive = data.get("archive")
    if isinstance(archive, dict) and "name" not in archive:
        data["archive"] = {"name": DEFAULT_NAMES["archive"], **archive}
    emitters = data.get("emitters")
    if isinstance(emitters, list):
        data["emitters"] = [
            {"name": DEFAULT_NAMES["emitters"], **e} if isinstance(e, dict) and "name" not in e
            else e
            for e in emitters
        ]
    return data


@functools.cache
def spec_model() -> type[SpecBase]:
    """Build the `Spec` model from the registries as they are now (plugins included)."""
    from archives import archive_registry
    from mutators import emitter_registry
    from problems import problem_registry

    archive_default = archive_registry.get(DEFAULT_NAMES["archive"]).Config()
    emitter_default = emitter_registry.get(DEFAULT_NAMES["emitters"]).Config()
    return create_model(  # type: ignore[call-overload, no-any-return]
        "Spec",
        __base__=SpecBase,
        problem=(_union(problem_registry), ...),
        archive=(_union(archive_registry), archive_default),
        emitters=(list[_union(emitter_registry)], Field([emitter_default], min_length=1)),
    )


def section_models() -> dict[str, Registry[Any]]:
    """Which registry validates each component section (used to explain errors)."""
    from archives import archive_registry
    from mutators import emitter_registry
    from problems import problem_registry

    return {"problem": problem_registry, "archive": archive_registry, "emitters": emitter_registry}


def component_model(section: str, name: str) -> type[ComponentConfig] | None:
    """The config model of component `name` in `section`, or None when unknown."""
    registry = section_models().get(section)
    if registry is None or name not in registry:
        return None
    return registry.get(name).Config  # type: ignore[no-any-return]
