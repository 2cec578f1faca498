"""Name → component registries, one per extension family (archives, emitters, problems, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from qd.errors import RegistryError

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
