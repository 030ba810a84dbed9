"""Name-to-class registries for the extension points (backends, packing and queue policies).

Like StreamFlow's connector registry: each entry is a class that brings its own JSON
schema for its options. Built-in entries are listed as ``module:Class`` strings, so
nothing is imported until a name is used; other packages add entries through the
entry-point group without touching this project.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, Generic, Protocol, TypeVar

from streamflow_quantum.core.config import Schema, Settings, snake
from streamflow_quantum.core.errors import ConfigError


class Configurable(Protocol):
    """What every entry shows the registry: the JSON schema of its options, if it has any."""

    @classmethod
    def options_schema(cls) -> Schema | None: ...


T = TypeVar("T", bound=Configurable)


class Registry(Generic[T]):
    def __init__(self, kind: str, group: str, builtin: Mapping[str, str]) -> None:
        #: What an entry is, for messages ("backend", "packing policy").
        self.kind = kind
        #: The entry-point group other packages register under.
        self.group = group
        self._builtin = dict(builtin)
        self._added: dict[str, type[T]] = {}

    @functools.cached_property
    def _plugins(self) -> dict[str, str]:
        return {ep.name: ep.value for ep in entry_points(group=self.group)}

    def names(self) -> list[str]:
        return list({**self._builtin, **self._plugins, **self._added})

    def register(self, name: str, cls: type[T]) -> None:
        """Add an entry from code (entry points are the way for installed packages)."""
        self._added[name] = cls

    def get(self, name: str) -> type[T]:
        if name in self._added:
            return self._added[name]
        target = self._builtin.get(name) or self._plugins.get(name)
        if target is None:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; use one of: {', '.join(self.names())}"
            )
        module, _, attr = target.partition(":")
        cls: type[T] = getattr(importlib.import_module(module), attr)
        return cls

    def classes(self) -> dict[str, type[T]]:
        return {name: self.get(name) for name in self.names()}

    def options(self, name: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Entry ``name``'s keyword arguments: ``options`` checked against its schema,
        defaults filled, keys in snake_case."""
        schema = self.get(name).options_schema()
        if schema is None:
            if options:
                raise ConfigError(f"{self.kind} {name!r} takes no options, not {sorted(options)}")
            return {}
        return {snake(key): value for key, value in Settings(schema, options).items()}
