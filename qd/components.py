"""Base of every component's config model: strict (unknown keys are errors) and frozen."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationInfo


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown keys and cannot be mutated after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentConfig(StrictModel):
    """Config of a registered component; subclasses narrow `name` to a `Literal` of their name.

    The spec chooses a component with a discriminated union on `name`.
    """

    name: str


def existing_file(value: Path, info: ValidationInfo) -> Path:
    """Resolve a spec path against the spec's folder (validation context `base_dir`) and
    require the file to exist; use as `field_validator(...)(existing_file)`.
    """
    base = Path((info.context or {}).get("base_dir", "."))
    path = value if value.is_absolute() else base / value
    if not path.is_file():
        raise ValueError(f"file not found: {path} (paths are relative to the spec's folder)")
    return path.resolve()
