"""The OpenAPI schema states each input exactly as the server accepts it, and every error it can answer.

``AutoSchema`` (drf-spectacular's schema class for the project) writes decimal strings and
non-blank strings as the patterns the serializers accept, bounds integers to the database's 64-bit
range, and documents the error responses of ``alphaloop.exceptions`` on each operation that can
return them. ``alphaloop.contract`` enforces the same schema on every request, and
``tests/hardening/test_schema_fuzz.py`` runs schemathesis against it to keep both sides equal.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.core.validators import RegexValidator
from drf_spectacular import openapi as spectacular_openapi
from drf_spectacular.plumbing import ResolvedComponent, force_instance
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated

from alphaloop.contract import MAX_JSON_DEPTH

# The characters ``str.isspace()`` (so ``str.strip()``) treats as whitespace: a CharField that trims
# whitespace reads a string of only these as blank.
STRIPPED_CLASS = r"\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NON_BLANK_PATTERN = rf"^[^\u0000]*[^\u0000{STRIPPED_CLASS}][^\u0000]*$"
NO_NUL_PATTERN = r"^[^\u0000]*$"
INT64_MAX = 2**63 - 1


# --- decimals ------------------------------------------------------------------------------------

def _power_of_ten(value: Decimal | int | None) -> int | None:
    """``k`` when ``value == 10**k``, else None."""
    if value is None or Decimal(value) <= 0:
        return None
    exponent = Decimal(value).normalize().as_tuple()
    if exponent.digits != (1,):
        return None
    return exponent.exponent


def _fraction(places: int) -> str:
    return rf"(?:\.\d{{1,{places}}})?" if places else ""


def _unsigned(whole: int, places: int, *, low: int | None, high: int | None) -> str:
    """Unsigned decimals with at most ``whole``/``places`` digits, ``>= 10**low`` and ``<= 10**high`` when given."""
    fraction = _fraction(places)
    if high is not None and high < 0:
        # Below one: "0" or "0.<digits>", at most 10**high (e.g. 0.1).
        k = -high
        below = rf"0{{{k}}}\d{{0,{places - k}}}" if places >= k else ""
        exact = rf"0{{{k - 1}}}10{{0,{places - k}}}" if places >= k else ""
        alternatives = [a for a in (below, exact) if a]
        body = rf"0(?:\.(?:{'|'.join(alternatives)}))?" if alternatives else "0"
        if low is not None:
            raise ValueError("a lower bound with an upper bound below one is not supported")
        return body
    whole_max = whole if high is None else min(whole, high)
    if low is not None and low >= 0:
        # At least 10**low: the whole part has low+1 digits or more, no leading zero.
        if whole_max < low + 1:
            raise ValueError("the bounds leave no value")
        digits = rf"[1-9]\d{{{low},{whole_max - 1}}}"
        body = digits + fraction
    elif low is not None:
        # At least 10**low with low < 0 (e.g. 0.000001): any whole part >= 1, or 0.<zeros><non-zero>.
        k = -low
        small = "|".join(rf"0{{{j}}}[1-9]\d{{0,{places - 1 - j}}}" for j in range(min(k, places)))
        big = rf"[1-9]\d{{0,{whole_max - 1}}}{fraction}" if whole_max > 0 else ""
        body = "|".join(a for a in (big, rf"0\.(?:{small})" if small else "") if a)
    else:
        int_part = "0" if whole_max == 0 else rf"(?:0|[1-9]\d{{0,{whole_max - 1}}})"
        body = int_part + fraction
    if high is not None:
        exact = "1" + "0" * high + (rf"(?:\.0{{1,{places}}})?" if places else "")
        body = f"{body}|{exact}"
    return body


# SQLite (the embedded default) reads a decimal column back through a float rounded to 15 significant digits: a
# value within half a unit of that 15th digit below 10**whole comes back as 10**whole, a digit too many for the
# column, and every read of the row fails. Where a column holds more than 15 digits, a request takes one whole
# digit less than it holds, so what is stored can always be read back.
SQLITE_SIGNIFICANT_DIGITS = 15


def whole_digits(field: serializers.DecimalField) -> int | None:
    """The digits before the point a request may write in ``field``."""
    whole = field.max_whole_digits
    if whole is not None and field.max_digits is not None and field.max_digits > SQLITE_SIGNIFICANT_DIGITS:
        whole -= 1
    return whole


def decimal_pattern(field: serializers.DecimalField) -> str | None:
    """The exact strings ``field`` accepts (plain digits, no exponent, no leading zeros), or None if its
    bounds cannot be written as a pattern (only 0 and powers of ten can)."""
    places = field.decimal_places or 0
    whole = whole_digits(field)
    whole = whole if whole is not None else 30
    low_value, high_value = field.min_value, field.max_value
    if high_value is not None and _power_of_ten(high_value) is None:
        return None
    high = _power_of_ten(high_value)
    signed = low_value is None or Decimal(low_value) < 0
    if signed:
        if low_value is not None or high_value is not None:
            return None
        return rf"^-?(?:{_unsigned(whole, places, low=None, high=None)})$"
    low = None if Decimal(low_value) == 0 else _power_of_ten(low_value)
    if Decimal(low_value) != 0 and low is None:
        return None
    try:
        return rf"^(?:{_unsigned(whole, places, low=low, high=high)})$"
    except ValueError:
        return None


def decimal_rule(field: serializers.DecimalField) -> str:
    """What ``field`` accepts, in words: places, whole digits, bounds."""
    places, whole = field.decimal_places, whole_digits(field)
    parts = []
    if places is not None:
        parts.append("a whole number" if places == 0 else f"at most {places} decimal places")
    if whole is not None:
        parts.append(f"at most {whole} digits before the point")
    if field.min_value is not None:
        parts.append(f"at least {field.min_value}")
    if field.max_value is not None:
        parts.append(f"at most {field.max_value}")
    return ", ".join(parts) or "any decimal"


def _json_number(value: Decimal) -> int | float:
    """A bound as a JSON number whose text is the decimal itself (a float's repr is exact up to 15 digits)."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def decimal_request_schema(field: serializers.DecimalField, string: dict) -> dict:
    """A decimal in a request: a JSON number (read exactly from its text) or a decimal string in plain notation,
    both held to the field's places, whole digits and bounds. ``x-decimal`` is the rule in words, for messages."""
    places, whole = field.decimal_places, whole_digits(field)
    number: dict = {"type": "number"}
    if places is not None:
        number["multipleOf"] = 1 if places == 0 else float(f"1e-{places}")
    limit = None if whole is None else Decimal(10) ** whole
    for key, bound, sign in (("maximum", field.max_value, 1), ("minimum", field.min_value, -1)):
        if bound is not None and (limit is None or abs(Decimal(bound)) < limit or sign * Decimal(bound) < 0):
            number[key] = _json_number(bound)
        elif limit is not None:
            number[key], number[f"exclusive{key.title()}"] = _json_number(sign * limit), True
    # drf-spectacular's string schema also carries the field's description, default, readOnly...: they stay outside.
    outer = {key: value for key, value in string.items() if key not in ("type", "format", "pattern", "nullable")}
    string = {"type": "string", "format": "decimal", "pattern": decimal_pattern(field) or string.get("pattern")}
    if field.allow_null:
        number, string = {**number, "nullable": True}, {**string, "nullable": True}
    return {"anyOf": [number, string], **outer, "x-decimal": decimal_rule(field)}


# --- enumerations ------------------------------------------------------------------------------------

def enum_values(field: serializers.ChoiceField) -> list[str]:
    """The choices as answers spell them, or [] when one is not a string."""
    values = [value for value in field.choices if value not in ("", None)]
    return values if values and all(isinstance(value, str) for value in values) else []


def _any_case(value: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.upper() != c.lower() else re.escape(c) for c in value)


def enum_request_schema(field: serializers.ChoiceField) -> dict | None:
    """A choice in a request, in any letter case (``market``, ``Market``, ``MARKET``): a pattern, with the values as
    answers spell them in ``x-canonical`` (``alphaloop.contract.canonical`` turns a request's spelling into them)."""
    values = enum_values(field)
    if not values:
        return None
    alternatives = [_any_case(value) for value in values] + ([""] if field.allow_blank else [])
    schema = {"type": "string", "pattern": f"^(?:{'|'.join(alternatives)})$", "x-canonical": values}
    if field.allow_null:
        schema["nullable"] = True
    return schema


# --- the schema ----------------------------------------------------------------------------------

FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": "Field validation errors: each key names the field at fault (``non_field_errors`` for the whole "
                   "body) and holds its messages, or the nested errors of an object or list field.",
    "additionalProperties": {"anyOf": [{"type": "array"}, {"type": "object"}]},
}


class AutoSchema(spectacular_openapi.AutoSchema):
    """drf-spectacular's schema with exact input constraints and the documented error responses.

    Errors: 400 where the operation reads a body or query parameters; 401 where a credential is
    required; 403 where a permission beyond authentication applies or a session (CSRF) is accepted;
    404 where a path names an object or the operation resolves one of your accounts (a page past a
    list's last one is empty, not a 404: ``alphaloop.pagination``); 413 and 415 where a body is read;
    429 where a throttle applies. A status the view documents itself
    is left as the view wrote it.
    """

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction != "request" or not isinstance(schema, dict):
            return schema
        if isinstance(field, serializers.DecimalField) and schema.get("type") == "string":
            return decimal_request_schema(field, schema)
        if isinstance(field, serializers.ChoiceField) and "enum" in schema:
            return enum_request_schema(field) or schema
        if isinstance(field, serializers.CharField) and not isinstance(field, serializers.ChoiceField):
            has_regex = any(isinstance(v, RegexValidator) for v in field.validators)
            if not has_regex and "pattern" not in schema and "format" not in schema:
                blank_ok = field.allow_blank or not field.trim_whitespace
                schema["pattern"] = NO_NUL_PATTERN if blank_ok else NON_BLANK_PATTERN
        elif isinstance(field, serializers.IntegerField):
            # A database id or count: the stored value is a signed 64-bit integer.
            schema.setdefault("maximum", INT64_MAX)
            schema.setdefault("minimum", -INT64_MAX - 1)
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        # drf-spectacular adds a blank alternative to a string that may be blank as ``oneOf``; the first
        # alternative may match "" too (a pattern allowing it), and then ``oneOf`` would refuse the blank it means.
        if schema.get("oneOf", [None])[-1] == {"type": "string", "maxLength": 0}:
            schema["anyOf"] = schema.pop("oneOf")

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if direction != "request":
            return meta
        note = None
        if isinstance(field, serializers.DecimalField):
            meta.pop("nullable", None)  # stated on each alternative (a number, a string)
            note = f"A JSON number or a decimal string in plain notation: {decimal_rule(field)}."
        elif isinstance(field, serializers.ChoiceField) and enum_values(field):
            note = f"One of {', '.join(enum_values(field))}, in any letter case (answers spell it as here)."
        if note:
            meta["description"] = f"{meta['description'].rstrip('.')}. {note}" if meta.get("description") else note
        return meta

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if schema.get("type") == "integer":
                schema.setdefault("maximum", INT64_MAX)
                schema.setdefault("minimum", -INT64_MAX - 1)
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in self._error_statuses():
            if code in responses:
                continue
            error = self.resolve_serializer(ErrorSerializer, "response").ref
            schema = {"anyOf": [error, self._field_errors_ref()]} if code == "400" else error
            responses[code] = {"content": {"application/json": {"schema": schema}}, "description": description}
        return responses

    def _field_errors_ref(self) -> dict:
        component = ResolvedComponent(
            name="FieldErrors", type=ResolvedComponent.SCHEMA, schema=FIELD_ERRORS_SCHEMA, object="FieldErrors"
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _reads_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None

    def _error_statuses(self) -> list[tuple[str, str]]:
        parameters = self._get_parameters()
        permissions = self.view.get_permissions()
        statuses: list[tuple[str, str]] = []
        if self._reads_body() or any(p["in"] == "query" for p in parameters):
            statuses.append(("400", "Invalid input: the body names each field at fault; or a body that is not JSON "
                                    f"or is nested deeper than {MAX_JSON_DEPTH} levels (code malformed_json)"))
        if not all(isinstance(p, AllowAny) for p in permissions):
            statuses.append(("401", "Missing, malformed or expired credentials"))
            restricted = any(not isinstance(p, (AllowAny, IsAuthenticated)) for p in permissions)
            session = any(isinstance(a, SessionAuthentication) for a in self.view.get_authenticators())
            if restricted or session:
                statuses.append(("403", "Not allowed (e.g. staff only), or a session request without its CSRF token"))
        if any(p["in"] == "path" for p in parameters) or self._names_account(parameters):
            statuses.append(("404", "Not found, or not yours (another user's object or account)"))
        if self._reads_body():
            statuses.append(("413", "The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE (code request_too_large)"))
            statuses.append(("415", "The body is not application/json"))
        if self.view.get_throttles():
            statuses.append(("429", "Too many requests: retry after the Retry-After header"))
        return statuses

    def _names_account(self, parameters: list[dict]) -> bool:
        if any(p["name"] == "account_id" for p in parameters):
            return True
        if not self._reads_body():
            return False
        return "account_id" in getattr(force_instance(self.get_request_serializer()), "fields", {})


class ErrorSerializer(serializers.Serializer):
    """An error other than field validation; ``code`` is machine-readable. Some errors add fields."""

    detail = serializers.CharField()
    code = serializers.CharField()

    class Meta:
        ref_name = "ApiError"
