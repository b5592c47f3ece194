"""Roles in threads: what is alive when they start is out of the garbage collector's scans."""

import gc
import threading

from streamcity.kernel.runtime import Role, RoleThreads


def test_starting_the_roles_freezes_what_is_alive_then():
    gc.unfreeze()
    kept = [[i] for i in range(1000)]  # tracked containers, alive before the roles start
    stop = threading.Event()
    seen = []
    threads = RoleThreads([Role("r", lambda stop: seen.append(gc.get_freeze_count()))], stop)
    try:
        threads.start()
        stop.set()
        threads.join(5)
        assert seen and seen[0] >= len(kept)
    finally:
        gc.unfreeze()
