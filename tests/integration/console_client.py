"""A volunteer's side of the console API for tests: login, the session cookie kept by hand (the cookie is
``Secure``, which httpx's jar would not send over http://127.0.0.1), CSRF on every POST."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from connectors.console import auth
from connectors.db import Database

PASSWORD = "mat-khau-thu-nghiem-10"


def add_volunteer(database_url: str, role: str = "volunteer", name: str | None = None) -> str:
    username = f"tnv-{uuid.uuid4().hex[:8]}"
    database = Database(database_url)
    try:
        with database.session() as session:
            auth.add_volunteer(session, username, name or f"Tình nguyện viên {username[-4:]}", role, PASSWORD)
    finally:
        database.dispose()
    return username


class ConsoleClient:
    def __init__(self, app_url: str) -> None:
        self.app_url = app_url
        self.token = ""
        self.csrf = ""
        self.set_cookie = ""

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        response = httpx.post(
            f"{self.app_url}/console/api/login", json={"username": username, "password": password}, timeout=30
        )
        if response.status_code == 200:
            self.set_cookie = response.headers["set-cookie"]
            self.token = self.set_cookie.split(";", 1)[0].split("=", 1)[1]
            self.csrf = response.json()["csrf_token"]
        return response

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"tthc_console={self.token}"} if self.token else {}

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.app_url}/console/api/{path}", headers=self.headers, timeout=60)

    def post(self, path: str, body: Any = None, csrf: str | None = "auto") -> httpx.Response:
        headers = dict(self.headers)
        if csrf == "auto":
            headers["X-CSRF-Token"] = self.csrf
        elif csrf is not None:
            headers["X-CSRF-Token"] = csrf
        return httpx.post(f"{self.app_url}/console/api/{path}", json=body, headers=headers, timeout=60)

    def ok(self, path: str, body: Any = None) -> Any:
        response = self.post(path, body)
        assert response.status_code == 200, response.text
        return response.json()

    def queued(self, conversation_id: str) -> dict[str, Any] | None:
        response = self.get("queue")
        assert response.status_code == 200, response.text
        return next((item for item in response.json() if item["conversation_id"] == conversation_id), None)


class EventStream:
    """Reads a server-sent event stream in a thread; ``events`` collects (name, data) pairs."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: list[tuple[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(60, read=None)) as response:
            name = ""
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line[6:])))

    def wait_for(self, condition: Callable[[list[tuple[str, Any]]], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = condition(list(self.events))
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no such event within {timeout:.0f} s; got {self.events}")

    def close(self) -> None:
        self._stop.set()
