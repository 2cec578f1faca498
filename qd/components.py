"""Base of every component's config model: strict (unknown keys are errors) and frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown keys and cannot be mutated after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentConfig(StrictModel):
    """Config of a registered component; subclasses narrow `name` to a `Literal` of their name.

    The spec chooses a component with a discriminated union on `name`.
    """

    name: str
