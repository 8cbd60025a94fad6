"""Answers held against the OpenAPI schema the server serves (/api/schema/).

The published schema leaves objects open (a client must accept added fields: the
contracts allow additions). The tests read it strictly: an object in a success body
may hold no member its component does not name, so a field that a view adds by hand,
or one that a serializer renders and the schema does not document, fails a test.
Problem bodies stay open: RFC 9457 extension members (`link_url`, `retain_until`, …)
come with some codes.
"""

import copy
import functools
import re

import requests
import schemathesis
import yaml
from django.test import Client
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response as SchemathesisResponse
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

SCHEMA_PATH = "/api/schema/"

# Every answer as the schema documents it: its status, its content type, its headers
# and its body.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@functools.cache
def served_schema() -> dict:
    response = Client(HTTP_HOST="localhost").get(SCHEMA_PATH)
    assert response.status_code == 200, response.content
    return yaml.safe_load(response.content)


def _component(schema: dict, ref: str) -> dict:
    assert ref.startswith("#/components/schemas/"), ref
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def _close(schema: dict, node, seen: set[str]) -> None:
    """additionalProperties: false on every object reachable from `node` that names
    its properties and says nothing about others."""
    if isinstance(node, list):
        for item in node:
            _close(schema, item, seen)
        return
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        if node["$ref"] not in seen:
            seen.add(node["$ref"])
            _close(schema, _component(schema, node["$ref"]), seen)
        return
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    for key, value in node.items():
        if key not in ("example", "examples", "enum", "default"):
            _close(schema, value, seen)


def strict(schema: dict) -> dict:
    """A copy of `schema` whose success bodies are closed objects."""
    schema = copy.deepcopy(schema)
    seen: set[str] = set()
    for operations in schema["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, answer in operation["responses"].items():
                if str(status).startswith("2"):
                    _close(schema, answer.get("content", {}), seen)
    return schema


@functools.cache
def strict_schema():
    """The served schema, read strictly, loaded by schemathesis (without an app: the
    contract tests bring their own answers)."""
    return schemathesis.openapi.from_dict(strict(served_schema()))


def _as_schemathesis(response, method: str, path: str) -> SchemathesisResponse:
    headers: dict[str, list[str]] = {}
    for name, value in response.items():
        headers.setdefault(name.lower(), []).append(value)
    request = requests.Request(method, f"http://testserver{path}").prepare()
    return SchemathesisResponse(
        status_code=response.status_code,
        headers=headers,
        content=response.content,
        request=request,
        elapsed=0.0,
        verify=False,
    )


def operation_for(method: str, path: str):
    return strict_schema().find_operation_by_path(method.upper(), path.split("?", 1)[0])


def _path_parameters(template: str, path: str) -> dict[str, str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.fullmatch(pattern, path.split("?", 1)[0]).groupdict()


def assert_documented(response, method: str, path: str) -> None:
    """The answer conforms to the schema's operation for (method, path): a documented
    status, that status's content type, and a body its schema holds (strictly)."""
    operation = operation_for(method, path)
    assert operation is not None, f"{method.upper()} {path} is not in the schema"
    case = operation.Case(path_parameters=_path_parameters(operation.path, path))
    case.validate_response(_as_schemathesis(response, method.upper(), path), checks=CHECKS)


def documented_component(method: str, path: str, status: int) -> str | None:
    """The component name the schema gives a success body, or None (no body)."""
    operation = operation_for(method, path)
    answer = operation.definition.raw["responses"].get(str(status), {})
    content = answer.get("content", {}).get("application/json")
    if content is None:
        return None
    ref = content["schema"].get("$ref", "")
    return ref.rsplit("/", 1)[1] if ref else None
