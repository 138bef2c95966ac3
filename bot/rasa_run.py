"""Rasa's command line (``python -m bot.rasa_run run ...`` in .venv-rasa), without two per-call costs
that profiling a turn found (benchmarks/turn.py); a turn makes two action calls
(``action_validate_slot_mappings`` and the answer).

- Rasa checks every custom action's response against its response schema with ``jsonschema.validate``,
  which first checks the schema itself against the JSON Schema meta-schema, on every call: a third of
  Rasa's CPU time per turn. Here the schema is checked once, at start, and each response is still
  validated against it, with Rasa's own error when it does not fit.
- Rasa opens a new HTTP session, and so a new connection, for every call to an endpoint (the action
  server). Here the sessions share one connection pool per event loop, so calls reuse kept-alive
  connections; an idle one is dropped after ``KEEPALIVE_SECONDS``, before the load balancer's
  keep-alive timeout (haproxy's ``timeout http-request``, 10 s) closes it under a request.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from typing import Any

KEEPALIVE_SECONDS = 5.0


def validate_action_results_with_one_validator() -> None:
    from jsonschema import validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction

    original = RemoteAction._validate_action_result
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if best_match(validator.iter_errors(result)) is None:
            return True
        return original(self, result)  # raises Rasa's own error for a response that does not fit

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def share_endpoint_connections() -> None:
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

    pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.TCPConnector] = (
        weakref.WeakKeyDictionary()
    )

    def pool() -> aiohttp.TCPConnector:
        loop = asyncio.get_running_loop()
        connector = pools.get(loop)
        if connector is None or connector.closed:
            connector = pools[loop] = aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS)
        return connector

    def session(self: EndpointConfig) -> aiohttp.ClientSession:
        auth = (
            aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
            if self.basic_auth
            else None
        )
        return aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=pool(),
            connector_owner=False,  # closing the session leaves the pool and its connections open
        )

    EndpointConfig.session = session  # type: ignore[method-assign]


def main() -> None:
    validate_action_results_with_one_validator()
    share_endpoint_connections()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
