"""The poison-record probe of issue 17 (finding 3), on the in-process bus, for docs/security-input.md.

    python -m tests.security.poison_probe

Produces a good report, a ~2 KB report with a field nested 1,000 levels deep, a report whose
route_id has 1,000,000 characters and another good one; runs a worker over them, then a restarted
worker, and prints what each saw. (tests/security/test_poison_records.py asserts the same on both buses.)
"""

from __future__ import annotations

import datetime as dt
import threading
import time

from streamcity.kernel.bus import Worker
from streamcity.kernel.bus.memory import MemoryBus
from streamcity.kernel.schemas import VEHICLE_LOCATIONS, VehicleLocation, encode

T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


def report(i: int, **fields) -> bytes:
    return encode(VehicleLocation(vehicle_id="v1", vehicle_type="bus", latitude=52.0, longitude=4.0,
                                  passenger_count=i, timestamp=T0 + dt.timedelta(seconds=i), **fields))


def run(bus: MemoryBus, name: str) -> tuple[list, str]:
    handled: list[int] = []
    worker = Worker(bus, name=name, group_id="probe", topics=[VEHICLE_LOCATIONS], commit_interval=0,
                    handle=lambda batch: handled.extend(d.event.passenger_count for d in batch))
    stop, died = threading.Event(), []

    def target():
        try:
            worker.run(stop)
        except BaseException as exc:  # noqa: BLE001 - what the worker dies of is the finding
            died.append(f"{type(exc).__name__}: {str(exc)[:80]}")

    thread = threading.Thread(target=target)
    thread.start()
    time.sleep(1.5)
    stop.set()
    thread.join(10)
    return handled, died[0] if died else f"ran on ({worker.dead_lettered} dead-lettered)"


def main() -> None:
    bus = MemoryBus(partitions=1)
    deep = report(99)[:-1] + b',"extra":' + b"[" * 1000 + b"]" * 1000 + b"}"
    for value in (report(1), deep, report(2, route_id="r" * 1_000_000), report(3)):
        bus.produce("vehicle_locations", "v1", value)
    print(f"deep record: {len(deep)} bytes")
    for name in ("first run", "restarted"):
        handled, outcome = run(bus, name)
        print(f"{name}: handled passenger_count {handled}; worker: {outcome}; "
              f"committed {bus.committed('probe')}")
    with bus.consumer("probe-dlq", ["vehicle_locations.dlq"]) as c:
        for r in c.consume(10, 1.0):
            print(f"dead letter @{r.header('dlq.offset').decode()}: {r.header('dlq.reason').decode()[:100]}")


if __name__ == "__main__":
    main()
