"""The published OpenAPI schema, fuzzed with schemathesis against the real stack: no 5xx, ever.

The number of cases is bounded (``TTHC_TEST_SCHEMA_EXAMPLES`` per operation, 100 by default) to keep
the run well under a minute; valid chat requests go through Rasa and the actions.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from connectors.run import Stack

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("TTHC_TEST_SCHEMA_EXAMPLES", "100"))


def test_no_request_the_published_schema_allows_or_not_gets_a_5xx(stack: Stack) -> None:
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_url(f"{stack.app_url}/openapi.json")
    chat_body = schema.raw_schema["paths"]["/api/chat"]["post"]["requestBody"]
    assert chat_body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatRequest"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {operation.path for operation in operations} >= {"/api/chat", "/healthz"}
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES // 2,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def no_server_error(case: schemathesis.Case) -> None:
                case.call_and_validate(checks=[not_a_server_error], timeout=60)

            try:
                no_server_error()
            except Unsatisfiable:
                # Nothing to get wrong in a request without parameters or body (GET /healthz).
                assert mode is schemathesis.GenerationMode.NEGATIVE
