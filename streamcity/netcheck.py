"""Before a server touches anything: is its port free, and by which names can it be reached.

Standard library only, so `make demo` can ask before the virtualenv exists:

    python3 -m streamcity.netcheck HOST PORT    # exit 0 if HOST:PORT can be bound, else 1 and one line
"""

from __future__ import annotations

import socket
import sys


def port_problem(host: str, port: int) -> str | None:
    """Why HOST:PORT cannot be bound (one line), or None when it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot listen on {host}:{port}: unknown host ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds (TIME_WAIT is no obstacle)
        try:
            s.bind(address)
        except PermissionError:
            return f"cannot listen on {host}:{port}: permission denied (ports under 1024 need privileges)"
        except OSError as exc:
            if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                return (f"port {port} on {host} is already in use (is StreamCity already running? "
                        f"stop it or choose another, e.g. PORT={port + 1} make demo)")
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def hosts_for(host: str) -> list[str]:
    """The Host header values a server bound to `host` answers to: the host itself, and for an
    address of every interface (0.0.0.0, ::) this machine's names and addresses."""
    names = {host}
    if host in ("0.0.0.0", "::", ""):
        names |= {"localhost", "127.0.0.1", "[::1]"}
        hostname = socket.gethostname()
        names |= {hostname, socket.getfqdn()}
        try:
            for info in socket.getaddrinfo(hostname, None):
                names.add(_bracket(info[4][0]))
        except socket.gaierror:
            pass
        outward = primary_address()
        if outward:
            names.add(outward)
    names.discard("")
    return sorted(_bracket(n) for n in names)


def primary_address() -> str | None:
    """The address other machines most likely reach this one at (the one of the default route;
    nothing is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere, only the route is looked up
            return s.getsockname()[0]
    except OSError:
        return None


def _bracket(name: str) -> str:
    return f"[{name}]" if ":" in name and not name.startswith("[") else name


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python3 -m streamcity.netcheck HOST PORT", file=sys.stderr)
        return 2
    problem = port_problem(argv[0], int(argv[1]))
    if problem:
        print(f"StreamCity: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
