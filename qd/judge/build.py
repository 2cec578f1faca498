"""Wire the judge into a program run: check the spec, resolve its model (starting the embedded
one when needed), and build the `Judge` with its records in the run store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from qd.errors import SpecError
from qd.judge.config import LOCAL_MODEL, JudgeSection
from qd.judge.judge import Judge
from qd.judge.records import JudgeRecords
from qd.llm.client import LLMClient
from qd.llm.models import ModelConfig
from qd.store import RunStore


def judge_measure_axes(spec: Any) -> list[tuple[int, int]]:
    """(position in problem.measures, axis index) of every `source = "judge"` measure.

    Raises:
        SpecError: A judge measure without a `[judge]` section, or with too few axes.
    """
    measures = getattr(spec.problem, "measures", None) or []
    out = [(i, m.index) for i, m in enumerate(measures) if m.source == "judge"]
    judge: JudgeSection | None = spec.judge
    for position, index in out:
        where = f"problem.measures[{position}]"
        if judge is None:
            raise SpecError(f"{where}: source = \"judge\" needs a [judge] section with "
                            "[[judge.axes]] (name, low, high); add one or use another source")
        if index >= len(judge.axes):
            raise SpecError(f"{where}.index = {index}: judge.axes has only {len(judge.axes)} "
                            f"axis/axes; add [[judge.axes]] entries or lower the index")
    return out


def _named(model: ModelConfig, **fields: Any) -> ModelConfig:
    data = {**model.model_dump(), **fields}
    if not model.name:
        data["name"] = f"judge/{model.key}"
    return ModelConfig.model_validate(data)


@contextlib.contextmanager
def resolved_judge_model(section: JudgeSection | None,
                         models: Sequence[ModelConfig]) -> Iterator[ModelConfig | None]:
    """The judge's model, ready to call: `"local"` becomes the embedded server (the one the
    run's `[llm]` already started, or a new one); its ledger name is `judge/<model>`.

    With `scoring = "logprobs"` the local judge gets its own server that keeps the logits of
    every position (`--logits_all True`, which llama-cpp-python needs for logprobs); the `[llm]`
    server runs without them, since they slow down code generation. With "auto" the local
    judge shares the `[llm]` server and scores sampled answers: on the embedded 270M model
    logprobs cost a second server (2.4 GB) and ~8 s per question without ranking programs any
    better (docs/judge.md).
    """
    if section is None:
        yield None
        return
    wanted = section.model
    if wanted.model != LOCAL_MODEL:
        yield _named(wanted)
        return
    fields = wanted.model_dump(exclude={"model", "api_base", "name", "mode"},
                               exclude_defaults=True)
    logprobs = section.scoring == "logprobs"
    running = next((m for m in models if m.mode == "completion" and (m.name or "")
                    .startswith("local/") and m.api_base and not logprobs), None)
    if running is not None:
        yield _named(running, name=f"judge/{running.key}", **fields)
        return
    from qd.llm.local_server import LocalModelServer

    extra = ("--logits_all", "True") if logprobs else ()
    with LocalModelServer(extra_args=extra) as server:
        local = server.model_config(**fields)
        yield _named(local, name=f"judge/{local.key}")


def make_judge(spec: Any, model: ModelConfig | None, client: LLMClient,
               store: RunStore | None) -> Judge | None:
    """The run's judge, or None without a `[judge]` section."""
    axes = judge_measure_axes(spec)
    if spec.judge is None or model is None:
        return None
    task = getattr(spec.problem, "task", "") or spec.description
    return Judge(effective_section(spec.judge), model, client, JudgeRecords(store), task, axes)


def effective_section(section: JudgeSection) -> JudgeSection:
    """The section as the judge runs it: `scoring = "auto"` on the local model samples (its
    shared server has no logprobs; see `resolved_judge_model`).
    """
    if section.model.model == LOCAL_MODEL and section.scoring == "auto":
        return section.model_copy(update={"scoring": "sample"})
    return section
