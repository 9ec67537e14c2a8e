"""The REST API against its own OpenAPI spec, with schemathesis: for every operation, requests
generated from the spec (valid and edge-case values: huge ids, empty and odd strings, missing fields)
never get a 5xx, answer only with a status the spec documents, with its content type and headers, and
match the documented schema (errors included: {"detail": text}); a method a path does not take gets 405
with every method it does take in Allow. As an admin of the workspace, so the calls get past access
control and into the actions; tests/test_api.py covers who may call what. On SQLite only: schemathesis loads
the app when the module is collected, before the per-process PostgreSQL schema exists."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from caredesk.api.app import create_app
from tests.conftest import World, make_runtime

_folder = Path(tempfile.mkdtemp(prefix="caredesk-schema-"))
_rt = make_runtime(f"sqlite:///{_folder / 'caredesk.db'}", _folder / "data")
_rt.db.migrate()
_world = World(_rt)
HEADERS = _world.headers("admin")
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_rt))
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx_or_off_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=HEADERS, checks=CHECKS)


def test_a_method_a_path_does_not_take_gets_405_with_allow() -> None:
    from fastapi.testclient import TestClient

    spec = schema.raw_schema
    client = TestClient(create_app(_rt), raise_server_exceptions=False)
    checked = 0
    for path, operations in spec["paths"].items():
        allowed = {method.upper() for method in operations}
        unsupported = next(m for m in ("PATCH", "PUT", "DELETE", "POST") if m not in allowed)
        concrete = path.replace("{", "").replace("}", "")  # any value: the method is refused first
        concrete = "/".join("1" if part.endswith("_id") else part for part in concrete.split("/"))
        r = client.request(unsupported, concrete, headers=HEADERS)
        assert r.status_code == 405, (unsupported, path, r.status_code)
        assert set(r.headers["allow"].replace(" ", "").split(",")) >= allowed, (path, r.headers["allow"])
        assert r.json()["detail"]
        checked += 1
    assert checked > 60
