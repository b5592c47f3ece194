"""Running StreamCity's own processes for end-to-end tests."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICE_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "DATABASE_URL", "KAFKA_TOPIC_PREFIX")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a StreamCity process: embedded unless `extra` names services."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update(STREAMCITY_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1", STREAMCITY_FRAME_INTERVAL="0.25")
    # The fleet follows the timetable: start the simulated day at noon, so that `--vehicles N`
    # finds at least N vehicles in service whatever the time the tests run at.
    env.setdefault("STREAMCITY_SIM_START", "12:00")
    env.update(extra)
    return env


class Proc:
    """A StreamCity process whose output goes to a log file; stopped with SIGTERM."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not print {text!r}:\n{self.output()[-3000:]}")

    def running(self) -> bool:
        """True while it runs; a process that died fails the test with its output (not a later timeout)."""
        if self.popen.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.output()[-3000:]}")
        return True

    def stop(self, timeout: float = 30) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
                raise AssertionError(f"{self.name} ignored SIGTERM for {timeout}s:\n{self.output()[-3000:]}")
        self._log.close()
        return self.popen.returncode


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def get_json(url: str, timeout: float = 5) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def wait_until(predicate, timeout: float = 30, interval: float = 0.3, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def procs(tmp_path):
    """Start processes with `procs.start(...)`; every one still running is stopped afterwards."""

    class Procs(list):
        def start(self, name, args, env):
            p = Proc(name, args, env, tmp_path)
            self.append(p)
            return p

    started = Procs()
    yield started
    for p in started:
        if p.popen.poll() is None:
            p.stop()


@pytest.fixture
def embedded(procs, tmp_path):
    """StreamCity in embedded mode (`runstreamcity`) on a free port, with a fresh SQLite database."""
    env = base_env(tmp_path)
    subprocess.run(manage("migrate", "--no-input", "-v0"), cwd=ROOT, env=env, check=True)
    port = free_port()
    proc = procs.start("runstreamcity", manage("runstreamcity", "--port", str(port), "--vehicles", "40", "--demo-operator"), env)
    proc.wait_for_output("StreamCity is running at", timeout=60)
    proc.url = f"http://127.0.0.1:{port}"
    return proc


class HttpSession:
    """A cookie-keeping HTTP client that logs in through the login form (CSRF included)."""

    def __init__(self, base_url: str):
        import http.cookiejar

        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def get(self, path: str):
        return self.opener.open(self.base_url + path, timeout=10)

    def post(self, path: str, data: dict):
        import urllib.parse

        self.get("/accounts/login/") if self.cookie("csrftoken") is None else None
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.cookie("csrftoken")}).encode()
        request = urllib.request.Request(self.base_url + path, data=body, headers={"Referer": self.base_url + path})
        return self.opener.open(request, timeout=10)

    def login(self, username: str, password: str) -> None:
        self.post("/accounts/login/", {"username": username, "password": password})
        assert self.cookie("sessionid"), "login failed"

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


def database_url() -> str:
    """The URL of the database this test process uses (the pytest test database)."""
    from django.db import connection

    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_breakdown_city(procs, tmp_path: Path):
    """The built-in city embedded from 07:00 at 30× with many breakdowns (seed 3: a spare takes over a block
    within minutes), and an operator's HTTP session on it. Returns (process, base url, session, password)."""
    env = base_env(tmp_path, STREAMCITY_SIM_START="07:00")
    subprocess.run(manage("migrate", "--no-input", "-v0"), cwd=tmp_path, env=env, check=True)
    port = free_port()
    app = procs.start("runstreamcity", manage(
        "runstreamcity", "--port", str(port), "--vehicles", "30", "--demo-operator", "--speed", "30",
        "--tick", "0.2", "--breakdown-rate", "0.6", "--incident-rate", "0", "--seed", "3"), env)
    app.wait_for_output("Operators: log in", timeout=90)
    password = re.search(r"with password '([^']+)'", app.output()).group(1)
    url = f"http://127.0.0.1:{port}"
    http = HttpSession(url)
    http.login("operator", password)
    return app, url, http, password
