"""Request bodies checked the way the backend checks them, with pydantic.

The backend reads a body in two stages, and the emulator keeps both answers:

1. Jackson maps the JSON onto the DTO. A value of the wrong type (a string for an integer, an
   unknown enum constant) fails here: **400** ``{"errors": ["Unable to process JSON. ..."]}``.
   Unknown properties are ignored (``@JsonIgnoreProperties(ignoreUnknown = true)``), and a
   number given for a string is read as its text.
2. Bean validation checks the constraints (``@NotBlank``, ``@Size``, ``@Pattern``): **422**
   with every violation, ``{"errors": ["name must not be blank", ...]}``.

Checks the backend makes later, in its services (a client id that is not a UUIDv7), answer
**400** with their own message and only count once the body is valid.

A model field declares its constraint with the types below; :func:`parse` turns pydantic's
errors into the backend's. ``None`` and an absent field are the same (the SDK sends explicit
nulls): a required field defaults to :data:`MISSING` and is checked like an explicit null, so
it says "must not be blank" (or "must not be null") as ``@NotBlank`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from opik_emulator.errors import OpikError, bad_request, unprocessable
from opik_emulator.ids import is_uuid, is_uuid7

CONSTRAINT = "opik_constraint"  # bean validation: 422
SERVICE = "opik_service"  # a service-level refusal: 400 with its own message

MAX_BATCH = 1000
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
COMMIT = re.compile(r"^[a-zA-Z0-9]{8}$")
VERSION_NUMBER = re.compile(r"^v\d+$")


class Body(BaseModel):
    """A request body: unknown properties ignored, numbers accepted as text (Jackson)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], body: Mapping[str, Any] | None) -> M:
    """``body`` as ``model``, or the backend's error for it (400 or 422)."""
    try:
        return model.model_validate(body or {})
    except ValidationError as error:
        raise _as_opik_error(error) from None


def _as_opik_error(error: ValidationError) -> OpikError:
    unreadable, violations, refusals = [], [], []
    for item in error.errors(include_url=False):
        where = _path(item["loc"])
        if item["type"] == CONSTRAINT:
            violations.append(f"{where} {item['msg']}".strip())
        elif item["type"] == SERVICE:
            refusals.append(item["msg"])
        else:
            unreadable.append(f"Unable to process JSON. {where}: {item['msg']}")
    # Jackson fails on the first unreadable value, before any constraint is checked.
    if unreadable:
        return bad_request(unreadable[0])
    if violations:
        return unprocessable(*violations)
    return bad_request(refusals[0])


def _path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(f".{part}" if parts else part)
    return "".join(parts)


def violation(message: str) -> PydanticCustomError:
    """A bean-validation failure (422); the field's path is put before ``message``."""
    # The message goes in the context: patterns such as {8} would read as format fields.
    return PydanticCustomError(CONSTRAINT, "{message}", {"message": message})


def refusal(message: str) -> PydanticCustomError:
    """A service-level refusal (400) with exactly ``message``."""
    return PydanticCustomError(SERVICE, "{message}", {"message": message})


def constrained(test: Callable[[Any], Any], message: str) -> AfterValidator:
    """A constraint on a value that may be null: ``message`` (422) when ``test`` fails."""

    def check(value: Any) -> Any:
        if value is not None and not test(value):
            raise violation(message)
        return value

    return AfterValidator(check)


def _not_blank(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise violation("must not be blank")
    return value


def _not_null(value: Any) -> Any:
    if value is None:
        raise violation("must not be null")
    return value


# The default of a required field. Typed Any: to a type checker the field holds its type,
# which is true once the model is valid (validate_default checks a missing field as null).
MISSING: Any = None
Required = Field(validate_default=True)
NotNull = BeforeValidator(_not_null)  # before the type's own check: null is a 422, not a 400
NotBlank = Annotated[str, Required, BeforeValidator(_not_blank)]
NullOrNotBlank = Annotated[str | None, constrained(lambda v: v.strip() != "", "must not be blank")]
Description = Annotated[
    str | None,
    constrained(
        lambda v: v.strip() != "" and len(v) <= 255,
        "must not be blank and at most 255 characters",
    ),
]
_ENVIRONMENT_MESSAGE = 'must match "^[A-Za-z0-9_-]+$" and be at most 150 characters'


def _is_environment_name(value: str) -> bool:
    return ENVIRONMENT_NAME.match(value) is not None and len(value) <= 150


def _environment_name_given(value: Any) -> Any:
    if value is None:
        raise violation(_ENVIRONMENT_MESSAGE)
    return value


EnvironmentName = Annotated[str | None, constrained(_is_environment_name, _ENVIRONMENT_MESSAGE)]
RequiredEnvironmentName = Annotated[
    str,
    Required,
    BeforeValidator(_environment_name_given),
    constrained(_is_environment_name, _ENVIRONMENT_MESSAGE),
]
Commit = Annotated[
    str | None, constrained(lambda v: COMMIT.match(v), 'must match "^[a-zA-Z0-9]{8}$"')
]
VersionNumber = Annotated[
    str | None,
    constrained(lambda v: VERSION_NUMBER.match(v) and len(v) <= 10, 'must match "v\\d+"'),
]


def unique(values: list[str] | None) -> list[str] | None:
    """The values without repeats, in their order (Opik's sets)."""
    return None if values is None else list(dict.fromkeys(values))


Tags = Annotated[
    list[str] | None,
    constrained(lambda v: all(t.strip() for t in v), "must be a set of non-blank strings"),
    AfterValidator(unique),
]
_AT_MOST_100 = constrained(lambda v: len(v) <= 100, "size must be between 0 and 100")
_ENVIRONMENT_NAMES = constrained(
    lambda v: all(_is_environment_name(n) for n in v), _ENVIRONMENT_MESSAGE
)
EnvironmentNames = Annotated[
    list[str] | None, _AT_MOST_100, _ENVIRONMENT_NAMES, AfterValidator(unique)
]
RequiredEnvironmentNames = Annotated[
    list[str], Required, NotNull, _AT_MOST_100, _ENVIRONMENT_NAMES, AfterValidator(unique)
]


def batch_of(size: int) -> BeforeValidator:
    """A list of 1..``size`` entries (``@NotNull @Size(min = 1, max = size)``)."""

    def check(value: Any) -> Any:
        if value is None or (isinstance(value, list) and not 1 <= len(value) <= size):
            raise violation(f"size must be between 1 and {size}")
        return value

    return BeforeValidator(check)


def _uuids(values: list[str]) -> list[str]:
    for value in values:
        if not is_uuid(value):
            raise refusal(f"Invalid UUID: {value!r}")
    return list(dict.fromkeys(values))


UuidBatch = Annotated[list[str], Required, batch_of(MAX_BATCH), AfterValidator(_uuids)]


def uuid7_id(what: str) -> AfterValidator:
    """A client-chosen id must be a UUIDv7 (``IdGenerator.validateVersion``): 400."""

    def check(value: str | None) -> str | None:
        if value is not None and not is_uuid7(value):
            raise refusal(f"{what} id must be a version 7 UUID")
        return value

    return AfterValidator(check)


def uuid_id(what: str) -> AfterValidator:
    """A client-chosen id that only has to be a UUID: 400 otherwise."""

    def check(value: str | None) -> str | None:
        if value is not None and not is_uuid(value):
            raise refusal(f"{what} id must be a UUID")
        return value

    return AfterValidator(check)


# A stream's page (``@Min(1) @Max(2000) Integer limit``; the backend defaults it to 500).
StreamLimit = Annotated[
    int | None,
    constrained(lambda v: v >= 1, "must be greater than or equal to 1"),
    constrained(lambda v: v <= 2000, "must be less than or equal to 2000"),
]
