"""The deployment files: docker/compose.yml as Debian's docker-compose reads it, and the haproxy
configurations (compose's and the one ``connectors.cluster`` writes) as haproxy checks them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from connectors.cluster import haproxy_config

DOCKER = Path(__file__).resolve().parents[2] / "docker"
SECRETS = {
    "TTHC_RASA_TOKEN": "t",
    "TTHC_ACTIONS_SECRET": "s",
    "TTHC_SECRET_KEY": "k",
    "PATH": "/usr/bin:/bin",
}


def _compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if not shutil.which("docker-compose"):
        pytest.skip("docker-compose is not installed (make test installs Debian's)")
    return subprocess.run(
        ["docker-compose", "-f", str(DOCKER / "compose.yml"), "config"],
        capture_output=True, text=True, env=env, cwd=DOCKER, timeout=60,
    )  # fmt: skip


def test_compose_validates_and_only_the_load_balancer_is_published() -> None:
    result = _compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {"lb", "app", "rasa", "actions", "postgres", "redis"} <= set(services)
    assert [name for name, service in services.items() if service.get("ports")] == ["lb"]
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), name
    assert services["app"]["deploy"]["replicas"] == 2 and services["rasa"]["deploy"]["replicas"] == 2
    app_env = services["app"]["environment"]
    assert app_env["TTHC_DATABASE_URL"].startswith("postgresql://") and app_env["TTHC_REDIS_URL"]
    assert app_env["TTHC_RASA_URL"] == "http://lb:5005"  # every app reaches every Rasa replica
    assert services["rasa"]["environment"]["TICKET_LOCK_LIFETIME"]
    endpoints = yaml.safe_load((DOCKER / "endpoints.yml").read_text(encoding="utf-8"))
    assert (
        endpoints["tracker_store"]["dialect"] == "postgresql" and endpoints["lock_store"]["type"] == "redis"
    )


def test_compose_refuses_to_run_without_the_secrets() -> None:
    result = _compose_config({"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "TTHC_RASA_TOKEN" in result.stderr


def test_images_build_from_the_lock_files() -> None:
    assert "requirements/app.lock" in (DOCKER / "Dockerfile.app").read_text(encoding="utf-8")
    assert "requirements/rasa.lock" in (DOCKER / "Dockerfile.rasa").read_text(encoding="utf-8")
    assert "apt-get install" in (DOCKER / "Dockerfile.lb").read_text(encoding="utf-8")


@pytest.mark.parametrize("source", ["compose", "cluster"])
def test_haproxy_accepts_its_configuration(source: str, tmp_path: Path) -> None:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        pytest.skip("haproxy is not installed (make test-scale installs Debian's)")
    if source == "compose":
        # The image copies the error page to /etc/haproxy/errors/; here it is read where it is.
        path = tmp_path / "haproxy.cfg"
        text = (DOCKER / "haproxy.cfg").read_text(encoding="utf-8")
        path.write_text(text.replace("/etc/haproxy/errors/cut.http", str(DOCKER / "haproxy-cut.http")))
    else:
        path = tmp_path / "haproxy.cfg"
        path.write_text(
            haproxy_config(("127.0.0.1", 8000), [8001, 8002], 5005, [5006, 5007], 5055, [5056], 8404)
        )
    result = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
