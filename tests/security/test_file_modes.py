"""Finding 7: var/ is 0700; the secret key, the SQLite database and its -wal and -shm are 0600.

Before: with the usual umask (022) var/streamcity.sqlite3, its -wal (password hashes, sessions) and
var/secret_key were readable by every local account.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import subprocess

from streamcity.kernel.files import private_file_create
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



def _create_at_once(path, barrier, text, results):
    barrier.wait()
    try:
        results.put((text, private_file_create(path, text)))
    except Exception as exc:  # noqa: BLE001 - the race's loser must not fail: report what it raised
        results.put((text, repr(exc)))


def test_processes_racing_to_create_the_secret_key_agree_on_one(tmp_path):
    """`runsimulators` and `runprocessors` started at once on a fresh var/: the loser of the race to create
    var/secret_key died with FileExistsError (a clean-clone CI run). Now one wins, the others keep its
    file, and no reader can see it half written (it is linked into place complete)."""
    ctx = multiprocessing.get_context("fork")
    path, barrier, results = tmp_path / "secret_key", ctx.Barrier(6), ctx.Queue()
    racers = [ctx.Process(target=_create_at_once, args=(path, barrier, f"key-{i}", results)) for i in range(6)]
    for p in racers:
        p.start()
    outcomes = dict(results.get(timeout=30) for _ in racers)
    for p in racers:
        p.join(10)
    assert sorted(map(str, outcomes.values())) == ["False"] * 5 + ["True"], outcomes
    winner = next(text for text, won in outcomes.items() if won is True)
    assert path.read_text() == winner
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left behind
