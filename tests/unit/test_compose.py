"""The compose deployment: only the app is published, every service restarts and reports its health,
every piece of state is on a volume, and the secrets are required, not defaulted."""

from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "compose.yml"


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def test_only_the_load_balancer_is_published() -> None:
    published = {name: service["ports"] for name, service in _services().items() if service.get("ports")}
    assert published == {"lb": ["${TTHC_PORT:-8000}:8000"]}


def test_every_service_restarts_and_has_a_health_check() -> None:
    for name, service in _services().items():
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), name


def test_state_lives_on_volumes() -> None:
    services = _services()
    # The app's database and Rasa's trackers are in PostgreSQL, whose data is on a volume.
    assert services["app"]["environment"]["TTHC_DATABASE_URL"].startswith("postgresql://postgres@postgres:")
    assert services["app"]["environment"]["TTHC_TRACKER_STORE_URL"].startswith("postgresql://postgres@postgres:")
    assert "pg-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redis-data:/data" in services["redis"]["volumes"]


def test_secrets_are_required() -> None:
    services = _services()
    for name in ("app", "actions", "rasa"):
        environment = services[name]["environment"]
        assert environment["TTHC_ACTIONS_SECRET"].startswith("${TTHC_ACTIONS_SECRET:?"), name
    assert services["app"]["environment"]["TTHC_RASA_TOKEN"].startswith("${TTHC_RASA_TOKEN:?")
    assert services["app"]["environment"]["TTHC_SECRET_KEY"].startswith("${TTHC_SECRET_KEY:?")
    assert "--auth-token" in (Path(COMPOSE).parent / "Dockerfile.rasa").read_text(encoding="utf-8")
