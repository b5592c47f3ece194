"""Production settings pass Django's deployment checks."""

import secrets
import subprocess

from tests.e2e.conftest import base_env, manage


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    env = base_env(
        tmp_path,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="streamcity.example.org",
    )
    env.pop("STREAMCITY_DEMO", None)  # production, not the local demo the suite runs as
    result = subprocess.run(manage("check", "--deploy", "--fail-level", "DEBUG"), env=env, capture_output=True, text=True)
    print(result.stdout, result.stderr)
    assert result.returncode == 0
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = base_env(tmp_path, DJANGO_DEBUG="false", DJANGO_ALLOWED_HOSTS="streamcity.example.org")
    env.pop("DJANGO_SECRET_KEY", None)
    env.pop("STREAMCITY_DEMO", None)
    result = subprocess.run(manage("check"), env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr
