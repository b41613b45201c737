"""The request side of the API contract: every JSON body and query string is checked against the
operation's documented schema (``alphaloop.openapi.AutoSchema``) before a serializer sees it.

DRF's fields coerce leniently (``"5"`` for an integer, ``5`` for a string, ``" 1e3"`` or ``"٣"`` for
a decimal, a blank query value read as omitted); the schema is strict. Checking the schema first
makes it the contract: a request it allows reaches the serializer (whose business rules may still
refuse it), a request it does not allow is a 400 naming the field. Authentication runs first: the
body is parsed (``ContractJSONParser``) and the query read (``query_data``) inside the view.

JSON text (a body, or a WebSocket frame) is read by ``json_loads``: nested at most ``MAX_JSON_DEPTH``
levels, checked by a linear scan before the recursive parser runs, so no input can exhaust the stack.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import jsonschema
from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.fields import empty
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.utils.json import strict_constant

# --- reading JSON ----------------------------------------------------------------------------------

MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


class MalformedJSON(ValueError):
    """Text that is not JSON, or JSON nested deeper than ``MAX_JSON_DEPTH``."""


def json_nesting_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` nests arrays and objects deeper than ``limit``: strings dropped, then a running count of
    the brackets left. Linear and without recursion (the parser itself recurses once per level)."""
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    if brackets.count("[") + brackets.count("{") <= limit:
        return False
    depth = 0
    for bracket in brackets:
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def json_loads(text: str) -> Any:
    """JSON text as Python data; ``MalformedJSON`` for anything else, nesting beyond ``MAX_JSON_DEPTH`` included
    (refused before parsing). ``NaN`` and ``Infinity`` are not JSON and are refused too."""
    if json_nesting_exceeds(text):
        raise MalformedJSON(f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels.")
    try:
        return json.loads(text, parse_constant=strict_constant)
    except ValueError as exc:
        raise MalformedJSON(f"This is not valid JSON ({exc}).") from None


def _python_pattern(pattern: str) -> str:
    """An ECMA-262 ``pattern`` for Python's ``re``: ``$`` must not match before a trailing newline."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not re.search(_python_pattern(pattern), instance, re.ASCII):
        yield jsonschema.ValidationError(f"This value does not match the required pattern {pattern}.")


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, re.ASCII):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})", re.ASCII)


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not DATE_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return str(UUID(value)) == value.lower()
    except ValueError:
        return False


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date")(_is_date)
FORMATS.checks("date-time")(_is_date_time)
FORMATS.checks("uuid")(_is_uuid)

Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"pattern": _pattern})


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 to JSON Schema: ``nullable: true`` becomes an alternative ``null``."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@dataclass(frozen=True)
class Contract:
    """What one operation documents about its input: the JSON body and each query parameter."""

    body: Any | None
    query: dict[str, tuple[Any, bool]]


@dataclass(frozen=True)
class _Built:
    schema: dict
    contracts: dict[tuple[type, str], Contract]


_build_lock = threading.Lock()
_built: _Built | None = None


def _build() -> _Built:
    """The schema and, per (view class, method), its documented input. drf-spectacular's generator is not
    thread-safe (its first run imports its extensions and fills shared registries), so one thread builds, once."""
    global _built
    with _build_lock:
        if _built is not None:
            return _built
        from drf_spectacular.generators import SchemaGenerator

        generator = SchemaGenerator()
        schema = generator.get_schema(request=None, public=True)
        components = _json_schema(schema.get("components", {}))

        def validator(node: dict) -> Any:
            return Validator({"allOf": [_json_schema(node)], "components": components}, format_checker=FORMATS)

        contracts: dict[tuple[type, str], Contract] = {}
        for path, _regex, method, callback in generator.endpoints:
            view_class = getattr(callback, "cls", None)
            operation = schema["paths"].get(path, {}).get(method.lower())
            if view_class is None or operation is None:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            query = {
                parameter["name"]: (validator(parameter.get("schema", {})), parameter.get("required", False))
                for parameter in operation.get("parameters", []) if parameter["in"] == "query"
            }
            contracts[(view_class, method)] = Contract(body=None if body is None else validator(body), query=query)
        _built = _Built(schema=schema, contracts=contracts)
        return _built


def api_schema() -> dict:
    """The OpenAPI schema served at /api/schema/ (built once per process; ``warm_up`` builds it at start)."""
    return _build().schema


def _contracts() -> dict[tuple[type, str], Contract]:
    return _build().contracts


def warm_up() -> None:
    """Build the schema and the contracts now, before a server takes requests (``serve``, the ASGI and WSGI
    entry points), so no request waits for them."""
    _build()


def _contract(request) -> Contract | None:
    view = (getattr(request, "parser_context", None) or {}).get("view")
    # drf-spectacular calls views (get_queryset) with a fake request while it builds the schema.
    if view is None or getattr(view, "swagger_fake_view", False):
        return None
    return _contracts().get((type(view), request.method))


def _errors(validator, instance) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in validator.iter_errors(instance):
        for leaf in _leaves(error):
            errors.setdefault(_error_key(leaf), []).append(_error_message(leaf))
    return errors


def _leaves(error: jsonschema.ValidationError):
    """The most specific errors: an ``anyOf``/``allOf`` failure reports the branch that came closest."""
    if error.context:
        best = jsonschema.exceptions.best_match(error.context)
        yield from _leaves(best) if best is not None else [error]
    else:
        yield error


def _error_key(error: jsonschema.ValidationError) -> str:
    path = [str(part) for part in error.absolute_path]
    if path:
        return path[0]
    if error.validator == "required":
        return error.message.split("'")[1] if "'" in error.message else "non_field_errors"
    return "non_field_errors"


# DRF's wording, so a client reads the same message whichever side refused the value.
TYPE_MESSAGES = {
    "integer": "A valid integer is required.",
    "number": "A valid number is required.",
    "string": "Not a valid string.",
    "boolean": "Must be a valid boolean.",
    "array": "Expected a list of items.",
    "object": "Expected a dictionary of items.",
}
FORMAT_MESSAGES = {
    "date": "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
    "date-time": "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm:ss[.uuuuuu](Z|+HH:MM).",
    "uuid": "Must be a valid UUID.",
}


def _pattern_message(error: jsonschema.ValidationError) -> str:
    value: str = error.instance
    if error.schema.get("format") == "decimal":
        try:
            Decimal(value)
        except InvalidOperation:
            return "A valid number is required."
        return f"Must be a plain decimal within the field's digits and bounds ({error.validator_value})."
    if "\x00" in value:
        return "Null characters are not allowed."
    if not value.strip():
        return "This field may not be blank."
    return "This value does not match the required pattern."


def _message(error: jsonschema.ValidationError) -> str:
    validator, limit, value = error.validator, error.validator_value, error.instance
    if validator == "required":
        return "This field is required."
    if validator == "type":
        return "This field may not be null." if value is None else TYPE_MESSAGES.get(limit, error.message)
    if validator == "format":
        return FORMAT_MESSAGES.get(limit, error.message)
    if validator == "enum":
        return f'"{value}" is not a valid choice.'
    if validator == "pattern":
        return _pattern_message(error)
    if validator == "minLength":
        return "This field may not be blank." if value == "" else f"Ensure this field has at least {limit} characters."
    if validator == "maxLength":
        return f"Ensure this field has no more than {limit} characters."
    if validator == "minimum":
        return f"Ensure this value is greater than or equal to {limit}."
    if validator == "maximum":
        return f"Ensure this value is less than or equal to {limit}."
    if validator == "minItems":
        return "This list may not be empty." if limit == 1 else f"Ensure this field has at least {limit} elements."
    if validator == "maxItems":
        return f"Ensure this field has no more than {limit} elements."
    if validator == "minProperties":
        return "This dictionary may not be empty."
    if validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "Unknown keys are not allowed")
    return error.message


def _error_message(error: jsonschema.ValidationError) -> str:
    nested = ".".join(str(part) for part in list(error.absolute_path)[1:])
    message = _message(error)
    return f"{nested}: {message}" if nested else message


class ContractJSONParser(JSONParser):
    """JSON bodies checked against the operation's documented request schema; 400 naming each field at fault."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json_loads(stream.read().decode(encoding))
        except UnicodeDecodeError:
            raise ParseError(f"The body is not valid {encoding}.", code="malformed_json") from None
        except MalformedJSON as exc:
            raise ParseError(str(exc), code="malformed_json") from None
        request = (parser_context or {}).get("request")
        contract = _contract(request) if request is not None else None
        if contract is not None and contract.body is not None:
            errors = _errors(contract.body, data)
            if errors:
                raise ValidationError(errors)
        return data


def _query_value(raw: str) -> Any:
    """A query string value as the JSON value it spells, for the parameter's schema to judge its type."""
    if re.fullmatch(r"-?\d+", raw, re.ASCII):
        return int(raw)
    if raw in ("true", "false"):
        return raw == "true"
    return raw


def query_data(request) -> dict[str, str]:
    """The query parameters, checked against the operation's documented parameters, as plain data for a
    query serializer: a blank value is invalid (``?status=``), where DRF's form semantics read it as omitted."""
    data = {key: values[-1] for key, values in request.query_params.lists()}
    contract = _contract(request)
    if contract is None:
        return data
    errors: dict[str, list[str]] = {}
    for name, (validator, required) in contract.query.items():
        if name not in data:
            if required:
                errors[name] = ["This field is required."]
            continue
        raw, value = data[name], _query_value(data[name])
        # A string parameter may spell a number ("?symbol=123"): either reading may be the valid one.
        if validator.is_valid(value) or validator.is_valid(raw):
            continue
        raw_errors = [leaf for error in validator.iter_errors(raw) for leaf in _leaves(error)]
        if any(leaf.validator == "type" for leaf in raw_errors):
            raw_errors = [leaf for error in validator.iter_errors(value) for leaf in _leaves(error)]
        errors[name] = [_error_message(leaf) for leaf in raw_errors]
    if errors:
        raise ValidationError(errors)
    return data


# --- multipart uploads ---------------------------------------------------------------------------------

class RequestTooLarge(APIException):
    status_code = 413
    default_code = "request_too_large"


class ContractMultiPartParser(MultiPartParser):
    """A ``multipart/form-data`` body (a file upload): one longer than the view's ``upload_max_bytes`` is refused
    with a 413 ``request_too_large`` from its Content-Length, before anything is read.

    Form fields arrive as text; the view's serializer reads them with ``FormIntegerField`` and
    ``FormBooleanField``, which accept exactly what the schema documents (``"12"``, ``"true"``), so the
    schema stays the contract for uploads as for JSON bodies.
    """

    media_type = "multipart/form-data"

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        view = parser_context.get("view")
        limit = getattr(view, "upload_max_bytes", None)
        request = parser_context.get("request")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            raise ParseError("The Content-Length header is not a number.") from None
        if limit is not None and length > limit:
            raise RequestTooLarge(f"The upload is larger than {limit} bytes.")
        return super().parse(stream, media_type, parser_context)


class FormIntegerField(serializers.IntegerField):
    """An integer form field: optional minus sign and digits only (no spaces, ``+``, ``1.0`` or ``1e3``)."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(r"-?\d{1,19}", data, re.ASCII):
            self.fail("invalid")
        return super().to_internal_value(data)


class FormBooleanField(serializers.BooleanField):
    """A boolean form field, spelled as JSON spells it: ``true`` or ``false``; left out, its default (DRF reads a
    missing HTML checkbox as false, which is not what an omitted field means here)."""

    default_empty_html = empty

    def to_internal_value(self, data):
        if data not in ("true", "false"):
            self.fail("invalid", input=data)
        return data == "true"
