"""Finding 2: secure by default — no DEBUG unless asked for, no 500 on hostile input, no credential on
an error page; and `manage.py check --deploy` clean with the production environment docs/security.md gives.

Before: DEBUG was on unless DJANGO_DEBUG was set; `GET /api/vehicles/?route=%00` on PostgreSQL was a
500 debug page showing the webhook URL, the ksqlDB URL with its password and REDIS_URL.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import Client, RequestFactory

from tests.e2e.conftest import ROOT, embedded, manage, procs  # noqa: F401  (fixtures)

DOCS = ROOT / "docs" / "security.md"
SECRETS = ["ksql-pass-5150", "redis-pass-2112", "webhook-secret-1984", "sasl-pass-4242", "feed-key-0451"]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A process environment with nothing of the suite's (no STREAMCITY_DEMO): what an operator would set."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TZ") if k in os.environ}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def settings_of(env: dict[str, str]) -> subprocess.CompletedProcess:
    code = ("import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) for k in "
            "('DEBUG', 'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', "
            "'WHITENOISE_USE_FINDERS')}))")
    return subprocess.run(manage("shell", "-c", code), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


# -- DEBUG and the demo ------------------------------------------------------------------------------

def test_without_configuration_production_refuses_to_start_and_says_how_to_run_the_demo(tmp_path):
    result = settings_of(clean_env(tmp_path, STREAMCITY_VAR_DIR=str(tmp_path / "var")))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr and "STREAMCITY_DEMO=true" in result.stderr


def test_production_is_debug_off_and_https_only_by_default(tmp_path):
    env = clean_env(tmp_path, STREAMCITY_VAR_DIR=str(tmp_path / "var"), DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    result = settings_of(env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {"DEBUG": False, "SECURE_SSL_REDIRECT": True, "SESSION_COOKIE_SECURE": True,
                      "CSRF_COOKIE_SECURE": True, "SECURE_HSTS_SECONDS": 31536000, "WHITENOISE_USE_FINDERS": False}


def test_the_demo_is_debug_off_on_plain_http_with_a_generated_private_key(tmp_path):
    var = tmp_path / "var"
    result = settings_of(clean_env(tmp_path, STREAMCITY_VAR_DIR=str(var), STREAMCITY_DEMO="true"))
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {"DEBUG": False, "SECURE_SSL_REDIRECT": False, "SESSION_COOKIE_SECURE": False,
                      "CSRF_COOKIE_SECURE": False, "SECURE_HSTS_SECONDS": 0, "WHITENOISE_USE_FINDERS": True}
    assert len((var / "secret_key").read_text().strip()) >= 50


def test_debug_only_when_asked_for(tmp_path):
    for value, expected in (("true", True), ("false", False), ("", False)):
        env = clean_env(tmp_path, STREAMCITY_VAR_DIR=str(tmp_path / "var"), STREAMCITY_DEMO="true")
        if value:
            env["DJANGO_DEBUG"] = value
        result = settings_of(env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout.strip().splitlines()[-1])["DEBUG"] is expected


def test_the_embedded_demo_runs_debug_off_and_serves_its_static_files(embedded):  # noqa: F811
    url = embedded.url

    def get(path: str) -> tuple[int, bytes, dict]:
        try:
            with urllib.request.urlopen(url + path, timeout=10) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)

    status, body, _ = get("/")
    assert status == 200 and b"/static/transit/map/main.js" in body  # no redirect to https: the demo is plain http
    for asset in ("/static/transit/map/main.js", "/static/transit/map/livemap.js", "/static/transit/live_map.css",
                  "/static/alerts/ops.js",
                  "/static/streamcity.css", "/static/leaflet/leaflet.js", "/static/leaflet/leaflet.css"):
        assert get(asset)[0] == 200, asset
    status, body, _ = get("/no-such-page/")
    assert status == 404 and b"URLconf" not in body  # not Django's technical (DEBUG) 404 page
    status, _, headers = get("/accounts/login/")
    assert status == 200 and "secure" not in headers.get("Set-Cookie", "").lower()
    for probe in ("/api/vehicles/?route=%00", "/api/search/?q=%00", "/api/vehicles/%00/", "/api/stops/%00/arrivals/"):
        status, body, _ = get(probe)
        assert status == 400 and b"Traceback" not in body, probe


# -- hostile query parameters and path segments -------------------------------------------------------

NUL_PROBES = ["/api/vehicles/?route=%00", "/api/search/?q=%00", "/api/vehicles/%00/", "/api/stops/%00/arrivals/",
              "/api/vehicles/?type=bus%00", "/api/stops/?bbox=%00", "/api/alerts/?kind=%00", "/?x=%01",
              "/admin/auth/user/?q=%00", "/accounts/login/?next=%00"]
LONG = "a" * 5000
LONG_PROBES = [f"/api/vehicles/?route={LONG}", f"/api/search/?q={LONG}", f"/api/vehicles/{'v' * 300}/",
               f"/api/stops/{'s' * 300}/arrivals/", "/api/vehicles/?" + "&".join(f"route=r{i}" for i in range(2000))]


@pytest.mark.django_db
@pytest.mark.parametrize("url", NUL_PROBES + LONG_PROBES, ids=lambda u: u[:50])
def test_nul_and_over_long_values_are_a_400_never_a_500(client, url, postgres_required):
    response = client.get(url)  # the test client raises what the view raised: a 500 fails here
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert "error" in response.json()


@pytest.mark.django_db
def test_ids_are_still_looked_up_and_unknown_ones_are_404(client, postgres_required):
    assert client.get("/api/vehicles/no-such-bus/").status_code == 404
    assert client.get("/api/vehicles/agency%2Fbus%207/").status_code == 404
    assert client.get("/api/stops/no-such-stop/arrivals/").status_code == 404
    assert client.get("/api/vehicles/?route=10&type=bus").status_code == 200
    assert client.get("/api/search/?q=Centraal").status_code == 200


# -- credentials on error pages ----------------------------------------------------------------------

def _raise():
    raise ValueError("boom")


def _debug_page(request) -> str:
    from django.views.debug import technical_500_response

    try:
        _raise()
    except ValueError:
        return technical_500_response(request, *sys.exc_info()).content.decode()


def test_error_pages_mask_every_url_that_carries_credentials(settings):
    ksql, redis, webhook, sasl, feed = SECRETS  # (not spelled out here: the page shows this file's source lines)
    settings.KSQLDB_URL = f"https://ksql-user:{ksql}@ksql.example.org:8088"
    settings.REDIS_URL = f"redis://:{redis}@redis.example.org:6379/0"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer",
                                           "CONFIG": {"hosts": [f"rediss://app:{redis}@redis.example.org:6380"]}}}
    settings.STREAMCITY_NOTIFY_WEBHOOK_URL = f"https://hooks.slack.com/services/T0/B0/{webhook}"
    settings.KAFKA_CONFIG = {"bootstrap.servers": "pkc.example.org:9092", "security.protocol": "SASL_SSL",
                             "sasl.username": "APIKEY", "sasl.password": sasl}
    settings.STREAMCITY_GTFS = f"https://feeds.example.org/gtfs.zip?api_key={feed}&v=2"
    page = _debug_page(RequestFactory().get("/api/vehicles/", {"route": "10"}))
    assert "KSQLDB_URL" in page and "STREAMCITY_NOTIFY_WEBHOOK_URL" in page  # the settings are listed...
    for secret in SECRETS:
        assert secret not in page  # ...without their credentials
    assert "feeds.example.org/gtfs.zip" in page  # a URL keeps what helps debugging


def test_a_500_in_production_shows_no_debug_page(tmp_path):
    """The probe of the issue, end to end: production settings, a view that fails, the response body."""
    env = clean_env(tmp_path, STREAMCITY_VAR_DIR=str(tmp_path / "var"), DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
                    DJANGO_SSL_REDIRECT="false", KSQLDB_URL=f"https://u:{SECRETS[0]}@ksql.example.org")
    code = ("from django.test import Client; from django.urls import path; import streamcity.urls as u; "
            "u.urlpatterns.append(path('boom/', lambda r: 1 / 0)); "
            "r = Client(raise_request_exception=False).get('/boom/', HTTP_HOST='127.0.0.1'); "
            "print(r.status_code); print(r.content.decode())")
    result = subprocess.run(manage("shell", "-c", code), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "\n500\n" in "\n" + result.stdout and "Server Error (500)" in result.stdout
    assert SECRETS[0] not in result.stdout and "Traceback" not in result.stdout and "KSQLDB" not in result.stdout


# -- check --deploy with the documented production environment ----------------------------------------

def documented_production_env() -> dict[str, str]:
    text = DOCS.read_text()
    block = re.search(r"<!-- production-env.*?```sh\n(.*?)```", text, re.S)
    assert block, f"{DOCS} has no production-env block"
    env = {}
    for line in block.group(1).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if value.startswith("<"):  # a placeholder for a secret: what an operator would put there
            value = secrets.token_urlsafe(50) if key == "DJANGO_SECRET_KEY" else "placeholder"
        value = re.sub(r"<[^>]*>", "placeholder", value)
        env[key] = value
    return env


def test_check_deploy_reports_nothing_with_the_documented_production_environment(tmp_path):
    documented = documented_production_env()
    assert "DJANGO_DEBUG" not in documented and "STREAMCITY_DEMO" not in documented
    env = clean_env(tmp_path, **documented)
    result = subprocess.run(manage("check", "--deploy", "--fail-level", "DEBUG"), cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    print(result.stdout, result.stderr)
    assert result.returncode == 0
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.django_db
def test_the_suite_itself_runs_as_the_demo():
    """The test process: STREAMCITY_DEMO from tests/environment.py, DEBUG off (pytest-django's default too)."""
    from django.conf import settings

    assert settings.STREAMCITY_DEMO and not settings.SECURE_SSL_REDIRECT
    assert Client().get("/").status_code == 200
