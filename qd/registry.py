"""Name → component registries, one per extension family (archives, emitters, problems, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from qd.errors import RegistryError, SpecError

T = TypeVar("T")


class Registry(Generic[T]):
    """A registry of components of one family, filled by the `register` decorator.

    Args:
        family: Human name of the family, used in error messages ("archive", "emitter", ...).
    """

    def __init__(self, family: str) -> None:
        self.family = family
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers its target under `name`; a duplicate is an error."""

        def decorator(item: T) -> T:
            if name in self._items and self._items[name] is not item:
                raise RegistryError(f"{self.family} {name!r} is already registered")
            self._items[name] = item
            return item

        return decorator

    def get(self, name: str) -> T:
        """Look `name` up; an unknown name raises `RegistryError` listing the valid ones."""
        try:
            return self._items[name]
        except KeyError:
            raise RegistryError(
                f"unknown {self.family} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def config(self, data: BaseModel | Mapping[str, Any]) -> Any:
        """Validate a component config given as a model, or as plain data chosen by `name`,
        with the registered component's `Config` model.

        Raises:
            RegistryError: The name is unknown.
            SpecError: An option is invalid or unknown (the first problem, named).
        """
        if isinstance(data, BaseModel):
            return data
        component: Any = self.get(str(data.get("name")))
        try:
            return component.Config.model_validate(dict(data))
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or self.family
            raise SpecError(f"{self.family} {data.get('name')!r}: {loc}: {first['msg']}") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        """(name, component) pairs, sorted by name."""
        for name in self.names():
            yield name, self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)
