"""Rows as records: dataclasses built from a row's columns by name, statuses as domain enums.

A record field annotated with an enum of ``domain.model`` (``status: LeadStatus``) gets the
enum, not the text the database stores, so records and the domain speak one vocabulary.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar

from psycopg.rows import BaseRowFactory, RowMaker, class_row

T = TypeVar("T")


_ENUM_FIELDS: dict[type[Any], tuple[tuple[str, type[Enum]], ...]] = {}


def _enum_fields(cls: type[Any]) -> tuple[tuple[str, type[Enum]], ...]:
    """The fields of ``cls`` typed with an enum (or an optional one), with that enum."""
    known = _ENUM_FIELDS.get(cls)
    if known is None:
        known = _ENUM_FIELDS[cls] = _find_enum_fields(cls)
    return known


def _find_enum_fields(cls: type[Any]) -> tuple[tuple[str, type[Enum]], ...]:
    found = []
    for name, hint in typing.get_type_hints(cls).items():
        for candidate in (hint, *typing.get_args(hint)):
            if isinstance(candidate, type) and issubclass(candidate, Enum):
                found.append((name, candidate))
                break
    return tuple(found)


def record(cls: type[T], values: Mapping[str, Any]) -> T:
    """``cls`` from a mapping of its fields, enums converted."""
    kwargs = dict(values)
    for name, enum in _enum_fields(cls):
        value = kwargs.get(name)
        if value is not None and not isinstance(value, enum):
            kwargs[name] = enum(value)
    return cls(**kwargs)


def record_row(cls: type[T]) -> BaseRowFactory[T]:
    """A row factory building ``cls`` from the columns by name (``class_row``, enums converted)."""
    if not _enum_fields(cls):
        return class_row(cls)

    def factory(cursor: Any) -> RowMaker[T]:
        names = [column.name for column in cursor.description or ()]

        def make(values: Sequence[Any]) -> T:
            return record(cls, dict(zip(names, values, strict=True)))

        return make

    return factory
