"""The REST API against its own OpenAPI spec, with schemathesis: for every operation, requests
generated from the spec (valid and edge-case values: huge ids, empty and odd strings, missing fields)
never get a 5xx, and every answer whose status the spec documents matches the documented schema
(errors included: {"detail": text}). As an admin of the workspace, so the calls get past access control
and into the actions; tests/test_api.py covers who may call what. On SQLite only: schemathesis loads
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
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.response_schema_conformance]


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx_or_off_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=HEADERS, checks=CHECKS)
