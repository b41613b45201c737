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


class JsonNumber(float):
    """A JSON number written with a fraction or an exponent: a float for arithmetic, and ``str()`` gives the text
    as sent, so a decimal field reads ``0.1`` or ``12.345678`` exactly (``Decimal(str(n))``), never through binary
    floating point. ``json.dumps`` writes it as the float it is."""

    __slots__ = ("text",)

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text

    def __reduce__(self):
        return JsonNumber, (self.text,)


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
    (refused before parsing). ``NaN`` and ``Infinity`` are not JSON and are refused too. Numbers with a fraction or
    an exponent are ``JsonNumber`` (floats that keep their text)."""
    if json_nesting_exceeds(text):
        raise MalformedJSON(f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels.")
    try:
        return json.loads(text, parse_constant=strict_constant, parse_float=JsonNumber)
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

def _exact(number: Any) -> Decimal:
    """A JSON number's exact value: a ``JsonNumber``'s text, an int, or a schema's bound as written."""
    return Decimal(str(number))


def _multiple_of(validator, step, instance, schema):
    if not validator.is_type(instance, "number"):
        return
    try:
        fits = _exact(instance) % _exact(step) == 0
    except InvalidOperation:  # too far apart in scale to divide: not a multiple at any precision we accept
        fits = False
    if not fits:
        yield jsonschema.ValidationError(f"{instance} is not a multiple of {step}")


def _minimum(validator, minimum, instance, schema):
    if validator.is_type(instance, "number"):
        value, bound = _exact(instance), _exact(minimum)
        if value < bound or (schema.get("exclusiveMinimum") and value == bound):
            yield jsonschema.ValidationError(f"{instance} is less than the minimum of {minimum}")


def _maximum(validator, maximum, instance, schema):
    if validator.is_type(instance, "number"):
        value, bound = _exact(instance), _exact(maximum)
        if value > bound or (schema.get("exclusiveMaximum") and value == bound):
            yield jsonschema.ValidationError(f"{instance} is greater than the maximum of {maximum}")


# Numbers are compared by their exact decimal value (a JSON number's text), never as binary floats.
Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {
    "pattern": _pattern, "multipleOf": _multiple_of, "minimum": _minimum, "maximum": _maximum,
})


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
class Parameter:
    validator: Any
    required: bool
    schema: Any


@dataclass(frozen=True)
class Contract:
    """What one operation documents about its input: the JSON body, a form body (uploads) and each query
    parameter, as validators and as the JSON Schema they check (``components`` resolves its ``$ref``)."""

    body: Any | None
    body_schema: Any | None
    form_schema: Any | None
    query: dict[str, Parameter]
    components: dict


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
            # The schema names a path's ``{pk}`` ``{id}``, as the served schema does.
            path = generator.coerce_path(path, method, generator.create_view(callback, method))
            operation = schema["paths"].get(path, {}).get(method.lower())
            if view_class is None or operation is None:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            form = content.get("multipart/form-data", {}).get("schema")
            query = {
                parameter["name"]: Parameter(validator(parameter.get("schema", {})), parameter.get("required", False),
                                             _json_schema(parameter.get("schema", {})))
                for parameter in operation.get("parameters", []) if parameter["in"] == "query"
            }
            contracts[(view_class, method)] = Contract(
                body=None if body is None else validator(body), body_schema=_json_schema(body),
                form_schema=_json_schema(form), query=query, components=components)
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


# --- enumerations in any letter case --------------------------------------------------------------

def _resolve(node: Any, components: dict) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = components["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _is_null_schema(node: Any) -> bool:
    return node == {"type": "null"}


def canonical(node: Any, data: Any, components: dict) -> Any:
    """``data`` (valid against ``node``) with every enumeration value in its canonical letter case: the schema
    marks a case-insensitive enumeration with ``x-canonical``, the values as answers spell them."""
    node = _resolve(node, components)
    if data is None or not isinstance(node, dict):
        return data
    if isinstance(data, str) and "x-canonical" in node:
        return next((value for value in node["x-canonical"] if value.lower() == data.lower()), data)
    for branch in node.get("allOf", []):
        data = canonical(branch, data, components)
    branches = [branch for branch in node.get("anyOf", node.get("oneOf", [])) if not _is_null_schema(branch)]
    if len(branches) == 1:
        data = canonical(branches[0], data, components)
    elif branches:
        valid = next((branch for branch in branches if Validator(
            {"allOf": [branch], "components": components}, format_checker=FORMATS).is_valid(data)), None)
        data = data if valid is None else canonical(valid, data, components)
    if isinstance(data, dict):
        properties, extra = node.get("properties", {}), node.get("additionalProperties")
        for key, value in data.items():
            if key in properties:
                data[key] = canonical(properties[key], value, components)
            elif isinstance(extra, dict):
                data[key] = canonical(extra, value, components)
    elif isinstance(data, list) and isinstance(node.get("items"), dict):
        data[:] = [canonical(node["items"], item, components) for item in data]
    return data


# --- error messages --------------------------------------------------------------------------------

def _errors(validator, instance) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in validator.iter_errors(instance):
        for leaf in _leaves(error):
            errors.setdefault(_error_key(leaf), []).append(_error_message(leaf))
    return errors


def _leaves(error: jsonschema.ValidationError):
    """The most specific errors: an ``anyOf``/``allOf`` failure reports the branch that came closest (never the
    ``null`` of a nullable field for a value that is not null). A decimal reports its rule as a whole."""
    if error.validator == "anyOf" and "x-decimal" in error.schema:
        yield error
    elif error.context:
        context = error.context
        if error.instance is not None:
            context = [e for e in context if not _is_null_schema(e.schema)] or context
        best = jsonschema.exceptions.best_match(context)
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


DECIMAL_MESSAGE = ('Must be a decimal: a JSON number (10, 0.25) or a string in plain notation ("0.25": ASCII digits, '
                   'an optional leading minus and one point; no exponent, spaces, "+" or "_"), {rule}.')


def _pattern_message(error: jsonschema.ValidationError) -> str:
    value: str = error.instance
    if "\x00" in value:
        return "Null characters are not allowed."
    if not value.strip():
        return "This field may not be blank."
    return "This value does not match the required pattern."


def _message(error: jsonschema.ValidationError) -> str:
    validator, limit, value = error.validator, error.validator_value, error.instance
    if validator == "anyOf" and "x-decimal" in error.schema:
        if value is None:
            return "This field may not be null."
        return DECIMAL_MESSAGE.format(rule=error.schema["x-decimal"])
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
        strictly = error.schema.get("exclusiveMinimum")
        return f"Ensure this value is greater than {'' if strictly else 'or equal to '}{limit}."
    if validator == "maximum":
        strictly = error.schema.get("exclusiveMaximum")
        return f"Ensure this value is less than {'' if strictly else 'or equal to '}{limit}."
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
            data = canonical(contract.body_schema, data, contract.components)
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
    for name, parameter in contract.query.items():
        validator = parameter.validator
        if name not in data:
            if parameter.required:
                errors[name] = ["This field is required."]
            continue
        raw, value = data[name], _query_value(data[name])
        # A string parameter may spell a number ("?symbol=123"): either reading may be the valid one.
        if validator.is_valid(value) or validator.is_valid(raw):
            data[name] = canonical(parameter.schema, raw, contract.components)
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
    with a 413 ``request_too_large`` from its Content-Length, before anything is read. Enumerations are read in any
    letter case, as in JSON bodies.

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
        parsed = super().parse(stream, media_type, parser_context)
        contract = _contract(request) if request is not None else None
        if contract is not None and contract.form_schema is not None:
            properties = _resolve(contract.form_schema, contract.components).get("properties", {})
            form = parsed.data.copy()
            for key in form:
                if key in properties:
                    form[key] = canonical(properties[key], form[key], contract.components)
            parsed.data = form
        return parsed


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
