"""Typed JSON: dataclasses filled from parsed JSON with every field checked against its annotation.

A model card is read from a file anyone can edit, so a wrong type or a misspelt key must be refused by
name on load, not discovered later as a ``KeyError`` in a page. ``from_json(Cls, data, "where")`` does
that for nested dataclasses, lists, dicts, optionals and the abstract ``MetricSection`` (by its kind);
``to_json`` writes the same shapes back.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class SchemaError(ValueError):
    """JSON that does not fit its dataclass; the message names the offending field."""


# Abstract types resolved by a discriminator field, e.g. MetricSection -> its subclass by ``kind``.
_RESOLVERS: dict[type, Callable[[dict[str, Any], str], type]] = {}


def register_resolver(base: type, resolve: Callable[[dict[str, Any], str], type]) -> None:
    """Let ``from_json`` build ``base``-typed fields as the subclass ``resolve(data, where)`` names."""
    _RESOLVERS[base] = resolve


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _convert(annotation: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None:
            if type(None) in options:
                return None
            raise SchemaError(f"{where} must not be null")
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, where)
            except SchemaError as error:
                errors.append(str(error))
        raise SchemaError(errors[0] if len(errors) == 1 else f"{where}: {_describe(value)} fits none of its types")
    if origin is list:
        if not isinstance(value, list):
            raise SchemaError(f"{where} must be a list, got {_describe(value)}")
        (item,) = typing.get_args(annotation) or (Any,)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SchemaError(f"{where} must be an object, got {_describe(value)}")
        _, item = typing.get_args(annotation) or (str, Any)
        return {str(k): _convert(item, v, f"{where}.{k}") for k, v in value.items()}
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaError(f"{where} must be a number, got {_describe(value)}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(f"{where} must be a whole number, got {_describe(value)}")
        return value
    if annotation in (str, bool):
        if not isinstance(value, annotation):
            raise SchemaError(
                f"{where} must be a {'string' if annotation is str else 'true or false'}, got {_describe(value)}"
            )
        return value
    if isinstance(annotation, type) and annotation in _RESOLVERS:
        if not isinstance(value, dict):
            raise SchemaError(f"{where} must be an object, got {_describe(value)}")
        return from_json(_RESOLVERS[annotation](value, where), value, where)
    if dataclasses.is_dataclass(annotation):
        return from_json(annotation, value, where)
    raise TypeError(f"{where}: no JSON conversion for {annotation!r}")  # a programming error, not a user's


def from_json(cls: type[T], data: Any, where: str) -> T:
    """An instance of dataclass ``cls`` from parsed JSON; unknown, missing or mistyped fields raise
    ``SchemaError`` naming them. Fields marked ``metadata={"json": False}`` are not read."""
    if not isinstance(data, dict):
        raise SchemaError(f"{where} must be an object, got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init and f.metadata.get("json", True)]
    known = {f.name for f in fields} | set(getattr(cls, "JSON_IGNORED", ()))
    unknown = sorted(set(data) - known)
    if unknown:
        raise SchemaError(f"{where} has unknown field(s): {', '.join(unknown)}")
    missing = [
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in data
    ]
    if missing:
        raise SchemaError(f"{where} lacks required field(s): {', '.join(missing)}")
    values = {f.name: _convert(hints[f.name], data[f.name], f"{where}.{f.name}") for f in fields if f.name in data}
    return cls(**values)


def to_json(value: Any) -> Any:
    """Plain JSON values for a dataclass tree; NaN becomes null (strict JSON has no NaN)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_json"):
            return value.to_json()
        return {
            f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value) if f.metadata.get("json", True)
        }
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
