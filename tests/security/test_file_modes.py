"""Finding 7: var/ is 0700; the secret key, the SQLite database and its -wal and -shm are 0600.

Before: with the usual umask (022) var/streamcity.sqlite3, its -wal (password hashes, sessions) and
var/secret_key were readable by every local account.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess

from tests.e2e.conftest import ROOT, manage

# Runs inside a StreamCity process while its database connection is open (the -wal and -shm exist then).
PROBE = """
import json, os
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
s = SessionStore(); s['x'] = 1; s.create()  # a write: SQLite opens the -wal and -shm files
var = settings.VAR_DIR
names = ['.', 'secret_key', 'streamcity.sqlite3', 'streamcity.sqlite3-wal', 'streamcity.sqlite3-shm']
print(json.dumps({n: oct(os.stat(var / n).st_mode & 0o777) for n in names}))
"""


def run(tmp_path, *args):
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(STREAMCITY_DEMO="true", STREAMCITY_VAR_DIR=str(tmp_path / "var"))
    result = subprocess.run(manage(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
                            preexec_fn=lambda: os.umask(0o022))  # the common umask: files 0644 unless made private
    assert result.returncode == 0, result.stderr
    return result.stdout


def modes(tmp_path) -> dict[str, str]:
    return json.loads(run(tmp_path, "shell", "-c", PROBE).strip().splitlines()[-1])


EXPECTED = {".": "0o700", "secret_key": "0o600", "streamcity.sqlite3": "0o600",
            "streamcity.sqlite3-wal": "0o600", "streamcity.sqlite3-shm": "0o600"}


def test_var_and_its_files_are_private_from_the_first_start(tmp_path):
    run(tmp_path, "migrate", "--no-input", "-v0")
    assert modes(tmp_path) == EXPECTED


def test_files_left_readable_by_an_earlier_version_are_made_private(tmp_path):
    run(tmp_path, "migrate", "--no-input", "-v0")
    var = tmp_path / "var"
    var.chmod(0o755)
    for name in ("secret_key", "streamcity.sqlite3"):
        (var / name).chmod(0o644)
    assert modes(tmp_path) == EXPECTED
    assert not stat.S_IMODE(var.stat().st_mode) & 0o077
