"""Load a problem spec from a folder, a `.toml` file or a built-in name; apply `--set` overrides.

Every failure becomes one `SpecError` whose lines each name the offending field and the fix.
"""

from __future__ import annotations

import copy
import difflib
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qd.errors import SpecError
from qd.spec import (
    RunOptions,
    SpecBase,
    component_model,
    fill_default_names,
    section_models,
    spec_model,
)

SPEC_FILE = "problem.toml"


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec and where it came from.

    Attributes:
        spec: The validated, frozen spec.
        origin: Human description of the source (path or built-in name), for messages.
        base_dir: Folder that relative paths in the spec are resolved against.
        raw: The TOML data after overrides, before defaults (what the user wrote).
        foreign: For an OpenEvolve / ShinkaEvolve folder, the mapping report
            (`qd.formats.FormatReport.as_dict()`); None for qd specs.
    """

    spec: SpecBase
    origin: str
    base_dir: Path
    raw: dict[str, Any]
    foreign: dict[str, Any] | None = None


def builtin_specs() -> dict[str, Path]:
    """Built-in specs by name: files in `problems/specs/` and program problem folders in
    `problems/programs/<name>/problem.toml`.
    """
    root = resources.files("problems")
    specs = {
        Path(entry.name).stem: Path(str(entry))
        for entry in (root / "specs").iterdir()
        if entry.name.endswith(".toml")
    }
    for entry in (root / "programs").iterdir():
        if (entry / SPEC_FILE).is_file():
            specs[entry.name] = Path(str(entry / SPEC_FILE))
    return specs


def resolve_source(source: str | Path) -> tuple[Path, Path, str]:
    """Find the TOML file of `source`: (file, base folder, origin description)."""
    path = Path(source)
    if path.is_dir():
        file = path / SPEC_FILE
        if not file.is_file():
            raise SpecError(f"{path}: folder has no {SPEC_FILE}; a spec folder needs one")
        return file, path.resolve(), str(file)
    if path.is_file():
        return path, path.resolve().parent, str(path)
    builtins = builtin_specs()
    if str(source) in builtins:
        file = builtins[str(source)]
        return file, file.parent, f"built-in problem {source!r}"
    if path.suffix == ".toml" or "/" in str(source):
        raise SpecError(f"{source}: no such file or folder")
    hint = _did_you_mean(str(source), builtins)
    raise SpecError(
        f"{source!r} is not a spec folder, a .toml file or a built-in problem{hint}; "
        f"built-in problems: {', '.join(sorted(builtins))} (see `qd problems`)"
    )


def read_toml(file: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error names the file, line and column."""
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{file}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise SpecError(f"{file}: cannot read: {exc.strerror}") from None


def parse_override(item: str) -> tuple[list[str | int], Any]:
    """Parse `a.b.0.c=value`; the value is read as TOML (numbers, lists, ...), else a string."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"--set {item!r}: expected KEY=VALUE, e.g. --set archive.cells=[50,50]")
    path: list[str | int] = [int(p) if p.isdigit() else p for p in key.strip().split(".")]
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    return path, value


#: Top-level keys that may be a string shorthand for a table with that string under this key,
#: so `--set measures.latent_dim=3` works on a spec saying `measures = "learned"`.
SHORTHAND_KEY = {"measures": "kind"}


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str] = (),
                    settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return a copy of `data` with each `KEY=VALUE` override set (creating tables as needed),
    then each typed setting (`{"run.budget": 500}`: command-line flags, API keywords), which
    wins over the overrides and is set as given, never re-parsed from text.
    """
    result = copy.deepcopy(dict(data))
    for item in overrides:
        path, value = parse_override(item)
        _set(result, path, value, f"--set {item!r}")
    for key, value in (settings or {}).items():
        if value is not None:
            _set(result, [int(p) if p.isdigit() else p for p in key.split(".")], value, key)
    return result


def _set(result: dict[str, Any], path: list[str | int], value: Any, label: str) -> None:
    node: Any = result
    for i, part in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise SpecError(f"{label}: {_dotted(path[: i + 1])} does not exist")
            node = node[part]
            continue
        if not isinstance(node, dict):
            raise SpecError(f"{label}: {_dotted(path[:i])} is not a table")
        if i == 0 and isinstance(node.get(part), str) and part in SHORTHAND_KEY:
            node[part] = {SHORTHAND_KEY[part]: node[part]}  # measures = "learned" → table
        node = node.setdefault(part, [] if isinstance(nxt, int) else {})
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise SpecError(f"{label}: {_dotted(path)} does not exist")
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise SpecError(f"{label}: {_dotted(path[:-1])} is not a table")


def validate_spec(data: Mapping[str, Any], base_dir: Path, origin: str) -> SpecBase:
    """Validate spec data; all problems are reported, one line each, in a single `SpecError`."""
    model = spec_model()
    try:
        return model.model_validate(dict(data), context={"base_dir": base_dir})
    except ValidationError as exc:
        named = fill_default_names(dict(data))
        lines = [_explain(err, named) for err in exc.errors(include_url=False)]
        raise SpecError("\n".join(f"{origin}: {line}" for line in dict.fromkeys(lines))) from None


def load_spec(
    source: str | Path,
    overrides: Sequence[str] = (),
    *,
    settings: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    fmt: str | None = None,
) -> LoadedSpec:
    """Load, override and validate a spec.

    Args:
        source: A spec folder, a `.toml` file or the name of a built-in problem; also an
            OpenEvolve or ShinkaEvolve folder (detected, or named by `fmt`).
        overrides: `KEY=VALUE` strings applied before validation (CLI `--set`).
        settings: Typed values by dotted key (`{"run.seed": 3}`: flags), applied last.
        data: Use this mapping instead of reading `source` (the base folder still comes from it).
        fmt: Force the folder's format: "qd", "openevolve" or "shinka"; None: detect it.
    """
    if data is None:
        foreign = _load_foreign(source, fmt)
        if foreign is not None:
            mapped, report = foreign
            raw = apply_overrides(mapped, overrides, settings)
            folder = Path(source).resolve()
            origin = f"{report.format} folder {source}"
            return LoadedSpec(validate_spec(raw, folder, origin), origin, folder, raw,
                              report.as_dict())
    file, base_dir, origin = resolve_source(source)
    raw = apply_overrides(read_toml(file) if data is None else data, overrides, settings)
    return LoadedSpec(validate_spec(raw, base_dir, origin), origin, base_dir, raw)


def _load_foreign(source: str | Path, fmt: str | None) -> Any:
    """(spec data, report) when `source` is a foreign-format folder, else None."""
    from qd.formats import check_format, detect, load_foreign

    if fmt is not None and check_format(fmt) == "qd":
        return None
    path = Path(source)
    if fmt is None:
        if not path.is_dir() or (path / SPEC_FILE).is_file():
            return None
        fmt = detect(path)
    return load_foreign(path, fmt)


# --- error explanation -------------------------------------------------------------------------


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _clean_loc(loc: Sequence[str | int], data: Any) -> tuple[list[str | int], Any, Any]:
    """Drop the discriminator tags pydantic inserts; return (path, parent node, node)."""
    path: list[str | int] = []
    parent, node = None, data
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("name") == part:
            continue  # union tag
        path.append(part)
        parent = node
        try:
            node = node[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            node = None
    return path, parent, node


def _allowed_keys(path: Sequence[str | int], parent: Any) -> list[str]:
    section = path[0] if path else None
    if isinstance(parent, dict) and isinstance(section, str) and len(path) >= 2:
        model = component_model(section, str(parent.get("name", "")))
        if model is not None:
            return sorted(model.model_fields)
        if section == "run":
            return sorted(RunOptions.model_fields)
    if len(path) == 1:
        return sorted(spec_model().model_fields)
    return []


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _explain(err: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    path, parent, _ = _clean_loc(err["loc"], data)
    kind = err["type"]
    where = _dotted(path)
    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = _allowed_keys(path, parent)
        table = _dotted(path[:-1])
        return (
            f"unknown key {key!r} in [{table}]{_did_you_mean(key, allowed)}; "
            f"allowed keys: {', '.join(allowed)}"
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        section = str(path[0]) if path else ""
        registry = section_models().get(section)
        family = registry.family if registry else "component"
        names = registry.names() if registry else []
        given = err.get("ctx", {}).get("tag")
        if kind == "union_tag_not_found":
            return f"{where}.name: missing; set name = one of: {', '.join(names)}"
        return (
            f"{where}.name: unknown {family} {given!r}{_did_you_mean(str(given), names)}; "
            f"choose one of: {', '.join(names)}"
        )
    if kind == "missing":
        return f"{where}: required but missing"
    message = str(err["msg"])
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
        return f"{where}: {message}"
    return f"{where}: {message} (got {err.get('input')!r})"
