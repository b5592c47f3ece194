"""Stop events: each vehicle's calls at the stops of its trip, derived once from its reports.

`StopCalls` is the pure rule. A vehicle's report carries the last stop it reached (`stop_sequence`);
the first report at a new stop is the arrival, the first report at that stop moving (or already
at a later stop) is the departure. A call is complete once its departure is seen, or when the
vehicle moves on to another trip (the last stop of a trip; a vehicle that broke down there);
then one `StopEvent` is made. Stops passed between two reports get a call each, their times
interpolated over the scheduled times between the two reports (`observed=False`).

`StopEventStage` is a stage of the shared vehicle pipeline (transit.roles): vehicle_locations
batch -> `stop_events` records. It has no state worth replaying: after a restart the first
report of each vehicle is a first sight (its arrival unknown), and the persisted events are keyed,
so reading a record twice stores it once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from streamcity.kernel.bus import Bus, Decoded, TransientError
from streamcity.kernel.schemas import STOP_EVENTS, VEHICLE_LOCATIONS, StopEvent, VehicleLocation, encode
from transit.timetable import ReferenceData, Schedule, ScheduledStop, distance_m

MOVING_MPS = 0.5  # faster than this: the vehicle has left its stop
LEFT_M = 30.0  # or this far from where it arrived


@dataclass(slots=True)
class _Call:
    trip_id: str
    stop_sequence: int
    arrival: dt.datetime | None
    latitude: float
    longitude: float
    load: int
    capacity: int
    departed: bool = False
    left_behind: int = 0  # riders the vehicle had no room for here (the most any report at the stop said)


@dataclass(slots=True)
class _Vehicle:
    last_ts: dt.datetime
    call: _Call | None


def _scheduled(s: ScheduledStop) -> dt.datetime:
    return s.departure or s.arrival


class StopCalls:
    """Reports in (per vehicle in event-time order) -> completed StopEvents out."""

    def __init__(self, schedule: Schedule | None = None):
        self.schedule = schedule if schedule is not None else Schedule()
        self._vehicles: dict[str, _Vehicle] = {}
        self.stale_dropped = 0
        self.made = 0

    def observe(self, e: VehicleLocation) -> list[StopEvent]:
        out: list[StopEvent] = []
        v = self._vehicles.get(e.vehicle_id)
        if v is not None and e.timestamp < v.last_ts:
            self.stale_dropped += 1
            return out
        in_trip = e.trip_id is not None and e.stop_sequence is not None and self.schedule.has_trip(e.trip_id)
        if v is None:
            self._vehicles[e.vehicle_id] = _Vehicle(e.timestamp, self._start(e, arrived=False) if in_trip else None)
            return out
        prev_ts, call = v.last_ts, v.call
        v.last_ts = e.timestamp
        if call is not None and (not in_trip or e.trip_id != call.trip_id):
            self._close(e, call, out, departure=None)  # a new trip (or none): the last call ends unseen-left
            call = v.call = None
        if not in_trip:
            return out
        if call is None:  # a trip begins: at its first stop, or (after a gap) somewhere along it
            v.call = self._start(e, arrived=True)
            self._moving_off(e, v, out)
            return out
        if e.stop_sequence == call.stop_sequence:
            call.left_behind = max(call.left_behind, e.left_behind)
            if not call.departed:
                self._moving_off(e, v, out)
            return out
        if e.stop_sequence < call.stop_sequence:  # a report going back: noise, keep the call
            return out
        # at a later stop: the call ends (left at the latest by now) and the stops between were passed
        if not call.departed:  # it left after the previous report, at rest there
            self._close(e, call, out, departure=prev_ts)
        self._passed(e, call.stop_sequence, prev_ts, out)
        v.call = self._start(e, arrived=True)
        self._moving_off(e, v, out)
        return out

    # -- the parts ---------------------------------------------------------------------------------

    def _start(self, e: VehicleLocation, *, arrived: bool) -> _Call:
        return _Call(e.trip_id, e.stop_sequence, e.timestamp if arrived else None, e.latitude, e.longitude,
                     e.passenger_count, e.capacity, left_behind=e.left_behind)

    def _moving_off(self, e: VehicleLocation, v: _Vehicle, out: list[StopEvent]) -> None:
        call = v.call
        if e.status != "in_service" or call.departed:
            return
        if e.speed > MOVING_MPS or distance_m(call.latitude, call.longitude, e.latitude, e.longitude) > LEFT_M:
            if self.schedule.is_last(call.trip_id, call.stop_sequence):
                return  # nothing departs from the last stop: closed when the next trip begins
            call.load, call.capacity = e.passenger_count, e.capacity
            self._close(e, call, out, departure=e.timestamp)

    def _close(self, e: VehicleLocation, call: _Call, out: list[StopEvent], *, departure: dt.datetime | None) -> None:
        call.departed = True
        stop = self.schedule.stop(call.trip_id, call.stop_sequence)
        first = self.schedule.next_stop(call.trip_id, None)
        if stop is None or first is None:
            return
        out.append(self._event(e.vehicle_id, stop, first, call.trip_id, arrival=call.arrival, departure=departure,
                               load=call.load, capacity=call.capacity, at=e.timestamp,
                               left_behind=call.left_behind))

    def _passed(self, e: VehicleLocation, after: int, since: dt.datetime, out: list[StopEvent]) -> None:
        """Calls for the stops between `after` and e.stop_sequence, passed between two reports."""
        first = self.schedule.next_stop(e.trip_id, None)
        stops = []
        s = self.schedule.next_stop(e.trip_id, after)
        while s is not None and s.stop_sequence < e.stop_sequence:
            stops.append(s)
            s = self.schedule.next_stop(e.trip_id, s.stop_sequence)
        if not stops or first is None:
            return
        # spread over the report interval in proportion to the scheduled times between them
        t0, t1 = stops[0].arrival, (s.arrival if s is not None else stops[-1].arrival)
        span = (t1 - t0).total_seconds()
        gap = e.timestamp - since
        for k, stop in enumerate(stops):
            frac = (stop.arrival - t0).total_seconds() / span if span > 0 else (k + 1) / (len(stops) + 1)
            at = since + gap * min(1.0, max(0.0, frac))
            at = at.replace(microsecond=at.microsecond // 1000 * 1000)
            out.append(self._event(e.vehicle_id, stop, first, e.trip_id, arrival=at, departure=at,
                                   load=e.passenger_count, capacity=e.capacity, at=e.timestamp, observed=False))

    def _event(self, vehicle_id: str, stop: ScheduledStop, first: ScheduledStop, trip_id: str, *,
               arrival, departure, load: int, capacity: int, at: dt.datetime, observed: bool = True,
               left_behind: int = 0) -> StopEvent:
        self.made += 1
        return StopEvent(
            vehicle_id=vehicle_id, trip_id=trip_id, route_id=stop.route_id, direction_id=stop.direction_id,
            stop_id=stop.stop_id, stop_sequence=stop.stop_sequence, trip_start=_scheduled(first),
            scheduled=_scheduled(stop), arrival=arrival, departure=departure, passenger_count=load,
            capacity=capacity, timepoint=stop.timepoint, observed=observed, timestamp=at, left_behind=left_behind,
        )


class StopEventStage:
    """A stage of the vehicle pipeline: vehicle_locations batch -> stop_events records."""

    name = "stop-events"
    group_id = "streamcity-stop-events"
    topics = (VEHICLE_LOCATIONS,)

    def __init__(self, bus: Bus, reference: ReferenceData | None = None):
        self.bus = bus
        self.reference = reference
        self.calls = StopCalls(reference.schedule if reference else None)

    def __call__(self, batch: list[Decoded]) -> None:
        if self.reference is not None and not self.reference.ready.is_set():
            raise TransientError("waiting for stop_schedule to load")
        observe = self.calls.observe
        out = []
        for d in batch:
            out += observe(d.event)
        if out:
            self.bus.produce_many(STOP_EVENTS.name, ((ev.vehicle_id, encode(ev)) for ev in out))

    def status(self) -> str:
        return f"{self.calls.made} stop events, {self.calls.stale_dropped} stale dropped"
