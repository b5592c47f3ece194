"""A polite demo (issue 16): a second instance stops at once on a busy port, before touching anything,
with one line and a non-zero exit; bound to every interface it answers to this machine's names."""

import socket
import subprocess
import urllib.request

import pytest

from .conftest import ROOT, base_env, free_port, manage

pytestmark = pytest.mark.e2e


def test_a_busy_port_stops_runstreamcity_before_anything_with_one_line(tmp_path, embedded):
    env = base_env(tmp_path)  # the same SQLite database as the running instance
    port = int(embedded.url.rsplit(":", 1)[1])
    login_line = [line for line in embedded.output().splitlines() if "with password" in line]
    assert login_line
    second = subprocess.run(manage("runstreamcity", "--port", str(port), "--demo-operator"), cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    lines = [line for line in (second.stdout + second.stderr).splitlines() if line.strip()]
    assert lines == [f"CommandError: port {port} on 127.0.0.1 is already in use (is StreamCity already running? "
                     f"stop it or choose another, e.g. PORT={port + 1} make demo)"]
    # the running instance's operator still logs in with the password it printed (no reset happened)
    password = login_line[0].split("with password ", 1)[1].split("'")[1]
    from .conftest import HttpSession

    session = HttpSession(embedded.url)
    session.login("operator", password)


def test_make_demo_checks_the_port_first(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(["make", "-s", "demo", f"PORT={port}", "VENV=/nonexistent-venv"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"StreamCity: port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "pip" not in result.stdout + result.stderr  # stopped before the virtualenv step


def test_bound_to_every_interface_it_answers_to_this_machines_address(procs, tmp_path):
    from streamcity.netcheck import primary_address

    env = base_env(tmp_path)
    subprocess.run(manage("migrate", "--no-input", "-v0"), cwd=ROOT, env=env, check=True)
    port = free_port()
    proc = procs.start("runstreamcity", manage("runstreamcity", "--host", "0.0.0.0", "--port", str(port),
                                               "--vehicles", "5"), env)
    proc.wait_for_output("StreamCity is running at", timeout=60)
    proc.wait_for_output("Listening on every interface: from another machine open", timeout=10)  # the next line
    address = primary_address() or "127.0.0.1"
    for host in {address, socket.gethostname(), "127.0.0.1"}:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/network/", headers={"Host": f"{host}:{port}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
