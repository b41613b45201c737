"""The README shows a request body for every write operation under /api/v1, and each is a body the API accepts.

The operations come from the served OpenAPI schema; the examples from the README's ```http blocks
(``METHOD /api/v1/path`` then the JSON body). Each example is checked against the operation's request
schema with the same validator that checks every request (``alphaloop.contract``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from alphaloop.contract import FORMATS, Validator, _errors, _json_schema

README = Path(__file__).resolve().parents[1] / "README.md"
WRITES = ("post", "put", "patch", "delete")
ENTRY = re.compile(r"^(POST|PUT|PATCH|DELETE) (/api/v1/\S+)$")


def _readme_examples() -> dict[tuple[str, str], str]:
    """(METHOD, path) -> the JSON text under it, from every ```http block of the README."""
    examples: dict[tuple[str, str], str] = {}
    for block in re.findall(r"```http\n(.*?)```", README.read_text(), re.S):
        current = None
        for line in block.splitlines():
            if match := ENTRY.match(line):
                current = (match.group(1), match.group(2))
                examples[current] = ""
            elif line.strip() and current is not None:
                examples[current] += line + "\n"
    return examples


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _json_writes(schema: dict) -> list[tuple[str, str, dict]]:
    writes = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if path.startswith("/api/v1/") and method in WRITES and body is not None:
                writes.append((method.upper(), path, body["schema"]))
    return writes


def test_every_json_write_operation_has_an_example_body_in_the_readme(schema):
    examples = _readme_examples()

    missing = [f"{method} {path}" for method, path, _body in _json_writes(schema) if (method, path) not in examples]

    assert len(_json_writes(schema)) >= 20
    assert missing == []


def test_every_readme_example_is_a_body_its_operation_accepts(schema):
    components = _json_schema(schema["components"])
    bodies = {(method, path): body for method, path, body in _json_writes(schema)}
    examples = _readme_examples()

    assert set(examples) <= set(bodies), "an example for an operation that takes no JSON body"
    for key, text in examples.items():
        body = json.loads(text)
        validator = Validator({"allOf": [_json_schema(bodies[key])], "components": components}, format_checker=FORMATS)
        assert _errors(validator, body) == {}, key


def test_the_file_upload_is_shown_as_a_multipart_request(schema):
    uploads = [path for path, operations in schema["paths"].items()
               for operation in operations.values() if isinstance(operation, dict)
               and "multipart/form-data" in operation.get("requestBody", {}).get("content", {})]
    text = README.read_text()

    assert uploads == ["/api/v1/orders/import-fills"]
    assert re.search(r"curl -s -X POST \S+/api/v1/orders/import-fills .*\n\s+-F file=@", text)
