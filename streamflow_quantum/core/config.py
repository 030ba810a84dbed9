"""Settings declared once, in a JSON schema, and read from any source.

A schema's properties are the single declaration of each setting: its name, type,
default, range and help. :class:`Settings` validates a mapping against the schema and
fills in defaults; the same schema yields the command-line flags of `sfq serve`
(``batchWindow`` -> ``--batch-window``) and the environment variables a step reads
(``SFQ_BATCH_WINDOW``).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator, Mapping
from importlib.resources import files
from typing import Any

import jsonschema

from streamflow_quantum.core.errors import ConfigError

Schema = dict[str, Any]

_ARG_TYPES: dict[str, type] = {"integer": int, "number": float, "string": str}


def load_schema(package: str, name: str) -> Schema:
    """A JSON schema shipped in ``package``'s ``schemas`` folder."""
    schema: Schema = json.loads(
        files(package).joinpath("schemas").joinpath(name).read_text("utf-8")
    )
    return schema


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def snake(name: str) -> str:
    return kebab(name).replace("-", "_")


class Settings(Mapping[str, Any]):
    """Validated settings: the schema's defaults overlaid with the values given."""

    def __init__(self, schema: Schema, values: Mapping[str, Any] | None = None) -> None:
        given = {key: value for key, value in (values or {}).items() if value is not None}
        defaults = {
            key: spec["default"] for key, spec in schema["properties"].items() if "default" in spec
        }
        self.schema = schema
        self._values = defaults | given
        try:
            jsonschema.validate(self._values, schema)
        except jsonschema.ValidationError as e:
            where = "/".join(map(str, e.absolute_path)) or "settings"
            raise ConfigError(f"{where}: {e.message}") from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Settings({self._values!r})"

    def with_values(self, **values: Any) -> Settings:
        return Settings(self.schema, {**self._values, **values})


def add_arguments(parser: argparse._ActionsContainer, schema: Schema) -> None:
    """One flag per setting; an object setting gives one flag per property it declares,
    or a JSON-valued flag where it declares none. Flags default to None: unset."""
    for key, spec in schema["properties"].items():
        flag = "--" + kebab(key)
        help_text = spec.get("description", "")
        if "default" in spec:
            help_text += f" (default: {json.dumps(spec['default'])})"
        kind = spec.get("type")
        if kind == "boolean":
            parser.add_argument(
                flag, dest=key, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        elif kind == "object" and "properties" in spec:
            for sub, sub_spec in spec["properties"].items():
                parser.add_argument(
                    f"{flag}-{kebab(sub)}",
                    dest=f"{key}.{sub}",
                    metavar=snake(sub).upper(),
                    type=_ARG_TYPES.get(sub_spec.get("type", "string"), str),
                    choices=sub_spec.get("enum"),
                    default=None,
                    help=sub_spec.get("description", ""),
                )
        elif kind == "object":
            parser.add_argument(
                flag, dest=key, metavar="JSON", type=json.loads, default=None, help=help_text
            )
        elif kind == "array":
            parser.add_argument(
                flag,
                dest=key,
                metavar=snake(key).upper()[:-1],
                nargs="+",
                type=_ARG_TYPES[spec["items"]["type"]],
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(
                flag,
                dest=key,
                metavar=snake(key).upper(),
                type=_ARG_TYPES[str(kind)],
                choices=spec.get("enum"),
                default=None,
                help=help_text,
            )


def from_arguments(args: argparse.Namespace, schema: Schema) -> dict[str, Any]:
    """The settings given on the command line, keyed as in the schema."""
    values: dict[str, Any] = {}
    for dest, value in vars(args).items():
        key, _, sub = dest.partition(".")
        if value is None or key not in schema["properties"]:
            continue
        if sub:
            values.setdefault(key, {})[sub] = value
        else:
            values[key] = value
    return values


def to_arguments(settings: Mapping[str, Any]) -> list[str]:
    """The flags :func:`add_arguments` declares that give ``settings`` (the inverse of
    :func:`from_arguments`; object settings as JSON)."""
    flags: list[str] = []
    for key, value in settings.items():
        flag = "--" + kebab(key)
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{kebab(key)}")
        elif isinstance(value, list):
            flags += [flag, *map(str, value)]
        elif isinstance(value, dict):
            flags += [flag, json.dumps(value)]
        else:
            flags += [flag, str(value)]
    return flags


def env_name(key: str) -> str:
    return "SFQ_" + snake(key).upper()


def from_environment(environ: Mapping[str, str], schema: Schema) -> dict[str, Any]:
    """The settings given as ``SFQ_<NAME>`` variables: JSON values, or plain strings (a list of
    strings: separated by spaces or commas); objects are not read from the environment."""
    values: dict[str, Any] = {}
    for key, spec in schema["properties"].items():
        raw = environ.get(env_name(key))
        if raw is None or spec.get("type") == "object":
            continue
        if spec.get("type") == "string":
            values[key] = raw
        elif spec.get("type") == "array" and not raw.lstrip().startswith("["):
            values[key] = raw.replace(",", " ").split()
        elif spec.get("type") == "boolean":
            values[key] = raw.strip().lower() not in ("0", "false", "no", "")
        else:
            try:
                values[key] = json.loads(raw)
            except json.JSONDecodeError:
                raise ConfigError(f"{env_name(key)}: not a number: {raw!r}") from None
    return values
