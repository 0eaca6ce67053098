"""API schemas (Pydantic), separate from tables and domain records: shared types and bases.

Every constraint that validation enforces is declared here, on the type, so that the OpenAPI
document states it too: strings are at most 1,000 characters and free of NUL, integers are
bounded so that no value can overflow a column, unknown fields are refused, and a field that
may be left out of a PATCH is not thereby nullable.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import CoreSchema
from typing_extensions import TypeAliasType

from leadflow.domain.money import MAX_DEPOSIT_CENTS
from leadflow.services.pages import MAX_LIMIT

MAX_TEXT = 1000
MAX_INT = 1_000_000_000

# Patterns are Python regular expressions that are also valid ECMA-262 (what JSON Schema
# uses); request bodies validate them with Python's ``re`` (``regex_engine`` below), the
# engine fuzzers and the services use, so the document and the checks cannot drift apart.
NO_NUL = r"^[^\x00]*$"
# At least one character that is not blank: the services strip names before checking them.
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"
# The services' e-mail rule (``local@domain.tld``, no blanks), on the value before stripping.
EMAIL = r"^\s*[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+\s*$"


def clean_text(value: str) -> str:
    # A lone surrogate (``"\ud800"`` in JSON) is not text; JSON Schema has no word for it.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode") from exc
    return value


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null (leave the field out instead)")
    return value


def _integral(value: Any) -> Any:
    # JSON Schema's ``integer`` is any number without a fractional part: 5.0 is one, 5.5 not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Text = Annotated[
    str, StringConstraints(max_length=MAX_TEXT, pattern=NO_NUL), AfterValidator(clean_text)
]
NonEmptyText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=NO_NUL),
    AfterValidator(clean_text),
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK),
    AfterValidator(clean_text),
]
# What a login names: any text; an address that names no account is a 401, not a 422.
Email = Annotated[
    str, StringConstraints(min_length=3, max_length=254, pattern=NO_NUL), AfterValidator(clean_text)
]
# An address that is stored and written to.
ContactEmail = Annotated[
    str, StringConstraints(min_length=5, max_length=254, pattern=EMAIL), AfterValidator(clean_text)
]
Password = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=NO_NUL),
    AfterValidator(clean_text),
]
INTEGRAL = BeforeValidator(_integral)
Count = Annotated[StrictInt, Field(ge=1, le=MAX_INT), INTEGRAL]
Cents = Annotated[StrictInt, Field(ge=0, le=MAX_DEPOSIT_CENTS), INTEGRAL]
FiniteFloat = Annotated[StrictFloat, Field(allow_inf_nan=False)]
FiniteNumber = StrictInt | FiniteFloat


class _KeysAsPropertyNames:
    """Pydantic states a dict's key pattern as ``patternProperties``, which lets every other key
    through; state it in ``propertyNames`` instead, as validation does."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        by_pattern = schema.pop("patternProperties", None)
        if by_pattern:
            ((pattern, value),) = by_pattern.items()
            schema.setdefault("propertyNames", {})["pattern"] = pattern
            schema["additionalProperties"] = value
        return schema


# Any JSON value whose strings (object keys included) obey ``Text`` and whose numbers are finite.
JsonValue = TypeAliasType(
    "JsonValue",
    "Text | StrictInt | FiniteFloat | StrictBool | list[JsonValue] | JsonObject | None",
)
JsonObject = Annotated[dict[Text, JsonValue], _KeysAsPropertyNames()]

T = TypeVar("T")
# A PATCH field: leave it out to keep the value; ``null`` is refused (and not in the schema).
Omittable = Annotated[T | SkipJsonSchema[None], AfterValidator(_not_null)]


class Body(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", regex_engine="python-re")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(Out, Generic[T]):
    page: int = Field(ge=1)
    limit: int = Field(ge=1, le=MAX_LIMIT)
    total: int = Field(ge=0)
    items: list[T]


class Problem(BaseModel):
    """``application/problem+json`` (RFC 9457)."""

    type: str = Field(examples=["urn:leadflow:problem:invalid-input"])
    title: str = Field(examples=["Invalid input"])
    status: int = Field(ge=400, le=599, examples=[422])
    detail: str = Field(examples=["email: String should match pattern"])
