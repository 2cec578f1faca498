"""Optional report sections: each loader reads its own tables and returns None when absent.

Each section has a template `templates/sections/<key>.html.j2`; a report renders exactly the
sections whose loaders found data. Program runs (a non-empty `programs` table) get: the top
programs with their code, the lineage of the best program with diffs, the (model, operator) arms
over time, LLM cost and tokens per model, and failure reasons.

A payload may carry `figures` (dicts with the fields of `qd.report.plots.Figure`), drawn by the
section's template, and `css` (rules the page embeds once, e.g. for highlighted code).
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qd.program.types import Status
from qd.report.highlight import highlight_code, highlight_css, highlight_diff
from qd.report.source import RunFiles
from qd.store import RunStore

#: Longest JSON text shown per component state before it is cut.
MAX_STATE_CHARS = 4000


@dataclass(frozen=True)
class ExtraSection:
    """A report section beyond the numeric core.

    Attributes:
        key: Identifier; the template is `sections/<key>.html.j2` and the element id is `key`.
        title: Heading shown in the report.
        payload: Plain data for the template.
    """

    key: str
    title: str
    payload: dict[str, Any]


SectionLoader = Callable[[RunStore, RunFiles], ExtraSection | None]


def component_state_section(store: RunStore, files: RunFiles) -> ExtraSection | None:
    """Load stored component state (bandits, selectors, RNGs), one row per key; None when empty."""
    rows = store.component_state.all()
    if not rows:
        return None
    states = []
    for key, (iteration, value) in rows.items():
        text = json.dumps(value, indent=1, sort_keys=True)
        cut = len(text) > MAX_STATE_CHARS
        states.append({"key": key, "iteration": int(iteration),
                       "json": text[:MAX_STATE_CHARS] + ("\n…" if cut else ""),
                       "chars": len(text)})
    return ExtraSection("component-state", "Component state", {"states": states})


#: Programs shown with their code (best scores among valid programs).
TOP_PROGRAMS = 5
#: Most common failure reasons listed.
TOP_REASONS = 10
#: Longest reason text shown (counted in full).
MAX_REASON_CHARS = 300
#: Longest lineage followed (guards against cycles in hand-edited stores).
MAX_LINEAGE = 10_000
#: Plotly's default colour cycle (traces that must share a colour set it explicitly).
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
_PROGRAM_COLUMNS = ("id", "parents", "code", "operator", "model", "status", "reason", "score",
                    "metrics", "feedback", "cost_usd", "prompt_tokens", "completion_tokens",
                    "reward", "created", "tuned_from")


def program_language(files: RunFiles) -> str:
    """The language of a program run's programs (runs from before languages: Python)."""
    return str(files.config.get("problem", {}).get("language", "python"))


def read_programs(store: RunStore) -> list[dict[str, Any]]:
    """Every row of the `programs` table in id order (parents and metrics decoded, the status
    a `Status`); [] if none.
    """
    out = []
    for values in store.programs.columns(_PROGRAM_COLUMNS):
        row = dict(zip(_PROGRAM_COLUMNS, values, strict=True))
        row["parents"] = [int(p) for p in json.loads(row["parents"] or "[]")]
        row["metrics"] = json.loads(row["metrics"]) if row["metrics"] else {}
        row["status"] = Status(row["status"])
        out.append(row)
    return out


def top_programs(programs: list[dict[str, Any]], k: int = TOP_PROGRAMS) -> list[dict[str, Any]]:
    """The `k` valid (`ok`) programs with the highest scores, ties by id."""
    valid = [p for p in programs if p["status"] == Status.OK and p["score"] is not None]
    return sorted(valid, key=lambda p: (-p["score"], p["id"]))[:k]


def top_programs_section(store: RunStore, files: RunFiles) -> ExtraSection | None:
    """The best programs: score, operator, model, metrics, feedback, highlighted code."""
    programs = read_programs(store)
    if not programs:
        return None
    rows = [{"rank": rank, "id": p["id"], "score": p["score"], "operator": p["operator"],
             "model": p["model"], "parents": p["parents"], "metrics": p["metrics"],
             "feedback": p["feedback"], "code": p["code"] or "",
             "code_html": highlight_code(p["code"] or "", program_language(files))}
            for rank, p in enumerate(top_programs(programs), start=1)]
    return ExtraSection("top-programs", "Top programs",
                        {"programs": rows, "css": highlight_css(), "total": len(programs)})


def lineage(programs: list[dict[str, Any]], program_id: int) -> list[dict[str, Any]]:
    """The chain of first parents from the initial program to `program_id` (root first)."""
    by_id = {p["id"]: p for p in programs}
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    current: int | None = program_id
    while current is not None and current in by_id and current not in seen \
            and len(chain) < MAX_LINEAGE:
        seen.add(current)
        chain.append(by_id[current])
        parents = by_id[current]["parents"]
        current = parents[0] if parents else None
    return chain[::-1]


def lineage_section(store: RunStore, files: RunFiles) -> ExtraSection | None:
    """The ancestors of the best program, each with its diff to its first parent."""
    programs = read_programs(store)
    best = top_programs(programs, 1)
    if not best:
        return None
    steps = []
    previous: dict[str, Any] | None = None
    for p in lineage(programs, best[0]["id"]):
        diff = ""
        if previous is not None:
            diff = "".join(difflib.unified_diff(
                (previous["code"] or "").splitlines(keepends=True),
                (p["code"] or "").splitlines(keepends=True),
                fromfile=f"program {previous['id']}", tofile=f"program {p['id']}"))
        steps.append({"id": p["id"], "parent": previous["id"] if previous else None,
                      "operator": p["operator"], "model": p["model"], "score": p["score"],
                      "status": p["status"], "diff": diff,
                      "diff_html": highlight_diff(diff) if diff else "",
                      "code_html": "" if previous else highlight_code(
                          p["code"] or "", program_language(files))})
        previous = p
    return ExtraSection("lineage", "Lineage of the best program",
                        {"best": best[0]["id"], "steps": steps, "css": highlight_css()})


def arm_name(model: str | None, operator: str | None) -> str:
    """How an arm is labelled: `model · operator` (– for a missing part)."""
    return f"{model or '–'} · {operator or '–'}"


def arms_section(store: RunStore, files: RunFiles) -> ExtraSection | None:
    """Per (model, operator) arm: pulls, mean reward, cost, valid fraction; pulls over time."""
    programs = [p for p in read_programs(store) if p["model"] or p["operator"]]
    if not programs:
        return None
    arms: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    series: dict[str, list[list[int]]] = {}
    for index, p in enumerate(programs, start=1):
        # literal-tuning variants of a model's child: no arm pull, shown apart from the arm
        key = (p["model"], p["operator"] + (" (tuning)" if p["tuned_from"] else ""))
        arm = arms.setdefault(key, {"model": p["model"], "operator": key[1],
                                    "name": arm_name(*key), "pulls": 0, "rewards": [],
                                    "cost_usd": 0.0, "valid": 0})
        arm["pulls"] += 1
        arm["cost_usd"] += float(p["cost_usd"] or 0.0)
        arm["valid"] += p["status"] == Status.OK
        if p["reward"] is not None:
            arm["rewards"].append(float(p["reward"]))
        points = series.setdefault(arm["name"], [])
        points.append([index, arm["pulls"]])
    table = []
    for arm in arms.values():
        rewards = arm.pop("rewards")
        arm["mean_reward"] = sum(rewards) / len(rewards) if rewards else None
        arm["rewarded"] = len(rewards)
        arm["valid_fraction"] = arm["valid"] / arm["pulls"]
        table.append(arm)
    table.sort(key=lambda a: (-a["pulls"], a["name"]))
    traces = [{"type": "scatter", "mode": "lines", "line": {"shape": "hv", "width": 1.8},
               "name": name, "x": [0] + [x for x, _ in pts] + [len(programs)],
               "y": [0] + [y for _, y in pts] + [pts[-1][1]],
               "hovertemplate": f"{name}<br>proposal %{{x}}<br>pulls %{{y}}<extra></extra>"}
              for name, pts in series.items()]
    figure = {"key": "arms-pulls", "title": "Cumulative pulls per arm over proposals",
              "data": traces,
              "layout": {"xaxis": {"title": {"text": "proposal"}},
                         "yaxis": {"title": {"text": "pulls"}},
                         "legend": {"orientation": "h", "y": -0.2}},
              "meta": {"arms": len(table), "proposals": len(programs)}, "height": 420}
    return ExtraSection("arms", "Arms over time",
                        {"arms": table, "proposals": len(programs), "figures": [figure]})


def llm_cost_section(store: RunStore, files: RunFiles) -> ExtraSection | None:
    """Cumulative cost and tokens per model over time since the first proposal."""
    programs = [p for p in read_programs(store) if p["model"]]
    if not programs:
        return None
    start = min(float(p["created"]) for p in programs)
    models: dict[str, dict[str, Any]] = {}
    for p in programs:
        m = models.setdefault(p["model"], {"model": p["model"], "calls": 0, "cost_usd": 0.0,
                                           "prompt_tokens": 0, "completion_tokens": 0,
                                           "t": [], "cost": [], "tokens": []})
        m["calls"] += 1
        m["cost_usd"] += float(p["cost_usd"] or 0.0)
        m["prompt_tokens"] += int(p["prompt_tokens"] or 0)
        m["completion_tokens"] += int(p["completion_tokens"] or 0)
        m["t"].append(round(float(p["created"]) - start, 3))
        m["cost"].append(m["cost_usd"])
        m["tokens"].append(m["prompt_tokens"] + m["completion_tokens"])
    traces = []
    for n, m in enumerate(models.values()):
        colour = COLOURS[n % len(COLOURS)]  # one colour per model in both panels
        for column, axis, label in (("cost", "", "cost (USD)"), ("tokens", "2", "tokens")):
            traces.append({"type": "scatter", "mode": "lines+markers", "name": m["model"],
                           "legendgroup": m["model"], "showlegend": axis == "",
                           "x": m["t"], "y": m[column], "xaxis": f"x{axis}",
                           "yaxis": f"y{axis}", "marker": {"size": 4, "color": colour},
                           "line": {"shape": "hv", "width": 1.6, "color": colour},
                           "hovertemplate": f"{m['model']}<br>%{{x:.4g}} s<br>{label} "
                                            "%{y:.6g}<extra></extra>"})
    layout = {"xaxis": {"domain": [0, 0.45], "anchor": "y", "title": {"text": "seconds"}},
              "yaxis": {"anchor": "x", "title": {"text": "cumulative cost (USD)"}},
              "xaxis2": {"domain": [0.55, 1], "anchor": "y2", "title": {"text": "seconds"}},
              "yaxis2": {"anchor": "x2", "title": {"text": "cumulative tokens"}},
              "legend": {"orientation": "h", "y": -0.25}}
    figure = {"key": "llm-cost-curves", "title": "Cumulative cost and tokens per model",
              "data": traces, "layout": layout,
              "meta": {"models": len(models), "calls": len(programs)}, "height": 400}
    table = [{k: v for k, v in m.items() if k not in ("t", "cost", "tokens")}
             for m in models.values()]
    return ExtraSection("llm-cost", "LLM cost and tokens",
                        {"models": table, "figures": [figure]})


def failures_section(store: RunStore, files: RunFiles) -> ExtraSection | None:
    """Proposals per status and the most common failure reasons."""
    programs = read_programs(store)
    if not programs:
        return None
    statuses = Counter(p["status"] for p in programs)
    reasons = Counter(p["reason"] for p in programs if p["status"] != Status.OK and p["reason"])
    top = []
    for reason, count in reasons.most_common(TOP_REASONS):
        cut = len(reason) > MAX_REASON_CHARS
        top.append({"reason": reason[:MAX_REASON_CHARS] + ("…" if cut else ""), "count": count,
                    "statuses": sorted({p["status"] for p in programs
                                        if p["reason"] == reason and p["status"] != Status.OK})})
    return ExtraSection("failures", "Outcomes and failure reasons",
                        {"statuses": dict(statuses.most_common()), "total": len(programs),
                         "reasons": top, "distinct_reasons": len(reasons)})


def elite_operators_section(store: RunStore, files: RunFiles) -> ExtraSection | None:
    """Which operators made the final elites (summary.json of a finished program run): a
    literal-tuning variant counts for the operator that made its structure, and is counted
    again as tuned.
    """
    summary = files.summary or {}
    made = summary.get("elites_by_operator")
    if not made:
        return None
    tuned = summary.get("elites_tuned") or {}
    rows = [{"operator": name, "elites": count, "tuned": tuned.get(name, 0)}
            for name, count in sorted(made.items(), key=lambda kv: (-kv[1], kv[0]))]
    return ExtraSection("elite-operators", "Elites by operator",
                        {"rows": rows, "total": sum(made.values())})


#: Loaders run in this order; their sections appear in this order after the core sections
#: (and after the rollout views of the run's problem, `qd.report.rollouts`).
SECTION_LOADERS: list[SectionLoader] = [elite_operators_section, top_programs_section,
                                        lineage_section, arms_section,
                                        llm_cost_section, failures_section,
                                        component_state_section]


def load_sections(store: RunStore, files: RunFiles) -> tuple[ExtraSection, ...]:
    """Run every registered loader; keep the sections that found data."""
    found = (loader(store, files) for loader in SECTION_LOADERS)
    return tuple(section for section in found if section is not None)
