"""Name -> constructor tables: the one list of valid names for every choice a config makes
(checked once, by advnets.validation, when a config is loaded or a run is built)."""

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from advnets.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table (of constructors, functions or descriptions); `get` fails with the list
    of valid names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._table: dict[str, T] = {}

    def register(self, name: str) -> "Callable[[T], T]":
        def add(fn: T) -> T:
            if name in self._table:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._table[name] = fn
            return fn

        return add

    def get(self, name: str) -> T:
        try:
            return self._table[name]
        except KeyError:
            valid = ", ".join(sorted(self._table))
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of: {valid}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._table

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._table))

    def add(self, name: str, value: T) -> T:
        """Register `value` under `name` (the non-decorator form)."""
        return self.register(name)(value)
