"""The /ws/live/ socket: a snapshot on connect, then the frames of its subscription, in-memory and on Redis."""

import asyncio
import datetime as dt
import json
import threading
import time

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator

from streamcity.asgi import application
from streamcity.kernel.fanout import LOCAL_GROUPS_FRAME
from streamcity.kernel.schemas import LiveVehicle
from transit.selectors import ROW_FIELDS, vehicle_row, vehicles_from_rows
from transit.services import vehicle_states_upsert
from transit.streams import vehicle_frames, vehicle_publisher
from transit.subscriptions import VehicleRouter, detail_of

pytestmark = pytest.mark.django_db(transaction=True)
T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


AMSTERDAM = (52.37, 4.90)
PARIS = (48.86, 2.35)
AMSTERDAM_BOX = "4.85,52.34,4.95,52.40"


def live(vehicle_id, lat=52.0, lon=4.0, vehicle_type="bus", route_id=None, at=T0):
    return LiveVehicle(vehicle_id=vehicle_id, vehicle_type=vehicle_type, route_id=route_id, latitude=lat, longitude=lon,
                       timestamp=at)


def connect(query=""):
    path = "/ws/live/" + (f"?{query}" if query else "")
    return WebsocketCommunicator(application, path, headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")])


async def receive(communicator, timeout=5):
    return json.loads(await communicator.receive_from(timeout=timeout))


def vehicles(message):
    """A snapshot's or frame's vehicles as dicts (they come as rows named by `fields`)."""
    assert message["fields"] == list(ROW_FIELDS)
    return vehicles_from_rows(message["fields"], message["vehicles"])


async def publish(frames):
    """One tick of the bridge's publisher, on this loop's channel layer."""
    publisher = vehicle_publisher(frames, interval=0.1, loop=asyncio.get_running_loop())
    await asyncio.get_running_loop().run_in_executor(None, publisher.publish_once, channel_layers["default"])
    return publisher


async def frame_ids(communicator):
    """Vehicle ids of every frame waiting for this client (one message per group it is in)."""
    ids = []
    while not await communicator.receive_nothing(timeout=0.3):
        message = await receive(communicator)
        assert message["type"] == "frame"
        ids += [v["vehicle_id"] for v in vehicles(message)]
    return sorted(ids)


async def _snapshot_then_frame():
    communicator = connect()
    connected, _ = await communicator.connect()
    assert connected
    try:
        snapshot = json.loads(await communicator.receive_from(timeout=5))
        assert snapshot["type"] == "snapshot"
        assert [v["vehicle_id"] for v in vehicles(snapshot)] == ["a"]

        frames = vehicle_frames()
        frames.add([live("a", 52.1), live("b")])
        frames.add([live("a", 52.2)])  # coalesced: the latest state per vehicle
        publisher = await publish(frames)
        assert publisher.items_sent == 2
        frame = json.loads(await communicator.receive_from(timeout=5))
        assert frame["type"] == "frame"
        assert {v["vehicle_id"]: v["latitude"] for v in vehicles(frame)} == {"a": 52.2, "b": 52.0}
        assert publisher.frames_sent == 1
    finally:
        await communicator.disconnect()


def test_snapshot_then_coalesced_frames_in_memory():
    vehicle_states_upsert(vehicles=[live("a")])
    asyncio.run(_snapshot_then_frame())


@pytest.mark.redis
def test_snapshot_then_frames_through_redis(redis_url, settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "streamcity.kernel.layers.RedisPubSubLayer", "CONFIG": {"hosts": [redis_url]}}
    }
    channel_layers.backends.clear()
    try:
        vehicle_states_upsert(vehicles=[live("a")])
        asyncio.run(_snapshot_then_frame())
    finally:
        channel_layers.backends.clear()


async def _refused(origin):
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=[(b"origin", origin), (b"host", b"127.0.0.1")])
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


def test_a_foreign_origin_is_refused():
    assert asyncio.run(_refused(b"http://evil.example")) is False


def test_publisher_runs_on_its_own_loop_when_none_is_given(settings):
    """runconsumers: the publisher owns a loop thread; a frame still reaches a group member."""
    frames = vehicle_frames()
    publisher = vehicle_publisher(frames, interval=0.05)
    stop = threading.Event()
    frames.add([live("z")])
    thread = threading.Thread(target=publisher.run, args=(stop,))
    thread.start()
    try:
        time.sleep(0.5)  # several ticks: only the one with changes sends a frame
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert (publisher.frames_sent, publisher.items_sent) == (1, 1)
    assert frames.take() == []


async def _subscriptions():
    amsterdam_trams = connect(f"bbox={AMSTERDAM_BOX}&type=tram")
    paris = connect("bbox=2.30,48.83,2.40,48.89")
    for c in (amsterdam_trams, paris):
        assert (await c.connect())[0]
    try:
        snapshot = await receive(amsterdam_trams)
        assert snapshot["type"] == "snapshot"
        assert [v["vehicle_id"] for v in vehicles(snapshot)] == ["tram-ams"]
        assert snapshot["subscription"]["vehicle_types"] == ["tram"] and snapshot["subscription"]["level"] == "z13"
        assert [v["vehicle_id"] for v in vehicles(await receive(paris))] == ["tram-paris"]

        frames = vehicle_frames()
        later = T0 + dt.timedelta(seconds=1)
        changes = [live("tram-ams", *AMSTERDAM, "tram", "T2", later), live("bus-ams", *AMSTERDAM, "bus", "B10", later),
                   live("tram-paris", *PARIS, "tram", "P1", later)]
        frames.add(changes)
        changes = list(map(vehicle_row, changes))
        publisher = await publish(frames)
        assert await frame_ids(amsterdam_trams) == ["tram-ams"]  # not the bus, not Paris
        assert await frame_ids(paris) == ["tram-paris"]
        # one send per group concerned that somebody joined, however many clients it has: here the
        # Amsterdam tram tile and the Paris tile; the other full-detail groups with changes are
        # skipped, and the levels of detail (nobody zoomed out) are not even routed
        concerned = {g for v in changes for g in VehicleRouter(ROW_FIELDS)(v[0], v, 0.0) if detail_of(g) is None}
        assert (publisher.group_sends, publisher.groups_skipped) == (2, len(concerned) - 2)

        # a new subscription: a fresh snapshot of what it covers, and only its frames from then on
        await amsterdam_trams.send_to(text_data=json.dumps({"type": "subscribe", "routes": ["B10"]}))
        snapshot = await receive(amsterdam_trams)
        assert [v["vehicle_id"] for v in vehicles(snapshot)] == ["bus-ams"]
        assert snapshot["subscription"]["level"] == "routes"
        frames.add([live("tram-ams", *AMSTERDAM, "tram", "T2", later),
                    live("bus-ams", *PARIS, "bus", "B10", later)])  # route B10 goes to Paris
        await publish(frames)
        assert await frame_ids(amsterdam_trams) == ["bus-ams"]
        assert await frame_ids(paris) == ["bus-ams"]  # in Paris's tiles now

        # a bad subscription is refused with a reason; the old one stays
        await paris.send_to(text_data=json.dumps({"type": "subscribe", "vehicle_types": ["zeppelin"]}))
        error = await receive(paris)
        assert error["type"] == "error" and "zeppelin" in error["error"]
        await paris.send_to(text_data=json.dumps({"type": "resync"}))
        assert [v["vehicle_id"] for v in vehicles(await receive(paris))] == ["tram-paris"]  # as in the database
        await paris.send_to(text_data="not json")
        error = await receive(paris)  # a clear error (streamcity.kernel.sockets), and nothing else
        assert error == {"type": "error", "error": "message is not valid JSON"}
        assert await paris.receive_nothing(timeout=0.2)
    finally:
        await amsterdam_trams.disconnect()
        await paris.disconnect()


def test_subscriptions_get_their_own_snapshot_and_only_their_frames():
    vehicle_states_upsert(vehicles=[
        live("tram-ams", *AMSTERDAM, "tram", "T2"), live("bus-ams", *AMSTERDAM, "bus", "B10"),
        live("tram-paris", *PARIS, "tram", "P1"),
    ])
    asyncio.run(_subscriptions())


async def _leaving():
    client = connect(f"bbox={AMSTERDAM_BOX}")
    assert (await client.connect())[0]
    try:
        assert [v["vehicle_id"] for v in vehicles(await receive(client))] == ["v"]
        frames = vehicle_frames()
        publisher = vehicle_publisher(frames, interval=0.1, loop=asyncio.get_running_loop())
        run = asyncio.get_running_loop().run_in_executor
        for i, (lat, lon) in enumerate([AMSTERDAM, PARIS, PARIS]):
            frames.add([live("v", lat, lon + i * 1e-4, at=T0 + dt.timedelta(seconds=i + 1))])
            await run(None, publisher.publish_once, channel_layers["default"])
        # it sees the vehicle move, then leave (once, so it can drop it), then nothing more
        seen = []
        while not await client.receive_nothing(timeout=0.3):
            seen += [(v["latitude"], round(v["longitude"], 4)) for v in vehicles(await receive(client))]
        assert seen == [(AMSTERDAM[0], AMSTERDAM[1]), (PARIS[0], round(PARIS[1] + 1e-4, 4))]
    finally:
        await client.disconnect()


def test_a_vehicle_leaving_the_area_is_sent_once_more_then_no_more():
    vehicle_states_upsert(vehicles=[live("v", *AMSTERDAM)])
    asyncio.run(_leaving())


@pytest.mark.redis
def test_subscriptions_through_redis(redis_url, settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "streamcity.kernel.layers.RedisPubSubLayer", "CONFIG": {"hosts": [redis_url]}}
    }
    channel_layers.backends.clear()
    try:
        vehicle_states_upsert(vehicles=[live("v", *AMSTERDAM)])
        asyncio.run(_leaving())
    finally:
        channel_layers.backends.clear()


def test_a_large_snapshot_comes_in_parts():
    from transit.consumers import snapshot_messages

    rows = [vehicle_row(live(f"v{i:04d}", 52.0 + i * 1e-5)) for i in range(3000)]
    messages = [json.loads(m) for m in snapshot_messages({"level": "world"}, rows, limit=40_000)]
    assert len(messages) > 1 and all(len(m) < 45_000 for m in snapshot_messages({}, rows, limit=40_000))
    parts = len(messages)
    assert [(m["type"], m["part"], m["parts"]) for m in messages] == [("snapshot", i, parts) for i in range(parts)]
    assert messages[0]["subscription"] == {"level": "world"} and "subscription" not in messages[1]
    assert [v for m in messages for v in m["vehicles"]] == rows
    assert vehicles(messages[-1])[-1]["vehicle_id"] == "v2999"
    [single] = [json.loads(m) for m in snapshot_messages({}, rows[:2])]
    assert (single["part"], single["parts"], len(single["vehicles"])) == (0, 1, 2)


def test_rows_are_the_vehicle_in_fewer_bytes():
    event = LiveVehicle(vehicle_id="bus-7", vehicle_type="bus", route_id="R1", trip_id="T1", latitude=51.50735123456,
                        longitude=-0.12775987654, bearing=271.6, speed=8.04, passenger_count=30, capacity=80,
                        stop_sequence=4, next_stop_id="S5", delay_seconds=125,
                        timestamp=dt.datetime(2026, 11, 27, 8, 0, 1, 234000, tzinfo=dt.timezone.utc))
    row = vehicle_row(event)
    [back] = vehicles_from_rows(list(ROW_FIELDS), [row])
    assert back == {
        "vehicle_id": "bus-7", "vehicle_type": "bus", "route_id": "R1", "trip_id": "T1", "latitude": 51.507351,
        "longitude": -0.12776, "bearing": 272, "speed": 8.0, "passenger_count": 30, "capacity": 80,
        "status": "in_service", "stop_sequence": 4, "next_stop_id": "S5", "delay_seconds": 125,
        "timestamp": "2026-11-27T08:00:01.234000+00:00",
    }
    assert len(json.dumps(row, separators=(",", ":"))) * 2 < len(json.dumps(back, separators=(",", ":")))  # the API's dict


@pytest.mark.redis
def test_only_groups_with_members_get_frames_through_redis(redis_url, settings):
    """PUBSUB CHANNELS tells the publisher which groups a server process subscribed to."""
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "streamcity.kernel.layers.RedisPubSubLayer",
                    "CONFIG": {"hosts": [redis_url], "prefix": f"test{time.monotonic_ns()}"}}
    }
    channel_layers.backends.clear()
    try:
        vehicle_states_upsert(vehicles=[
            live("tram-ams", *AMSTERDAM, "tram", "T2"), live("bus-ams", *AMSTERDAM, "bus", "B10"),
            live("tram-paris", *PARIS, "tram", "P1"),
        ])
        asyncio.run(_subscriptions())
    finally:
        channel_layers.backends.clear()


def test_the_frames_of_a_clients_groups_go_out_as_one_message():
    from streamcity.kernel.fanout import MAX_FRAME_CHARS
    from transit.consumers import merge_frames

    def frame(*ids):
        return json.dumps({"type": "frame", "fields": ["vehicle_id"], "vehicles": [[i] for i in ids]},
                          separators=(",", ":"))

    [one] = merge_frames([frame("a", "b"), frame("c"), frame("d")])
    assert json.loads(one) == json.loads(frame("a", "b", "c", "d"))
    assert merge_frames([frame("a")]) == [frame("a")]
    assert merge_frames(['{"type":"error"}', frame("a")]) == ['{"type":"error"}', frame("a")]
    big = [frame(*(f"v{i:06d}-{k}" for i in range(2000))) for k in range(20)]  # about 300 KB in all
    merged = merge_frames(big, limit=100_000)
    assert len(merged) > 1 and all(len(m) < 100_000 + 20_000 for m in merged)
    assert [r for m in merged for r in json.loads(m)["vehicles"]] == [r for f in big for r in json.loads(f)["vehicles"]]
    assert MAX_FRAME_CHARS < 1024 * 1024


async def _two_tiles():
    # a view across two z13 tiles: one message carries both tiles' changes
    west, east = 4.86, 4.92  # the Dam is in tile x 4207; 4.86 is in 4206
    client = connect(f"bbox={west},52.36,{east},52.38")
    assert (await client.connect())[0]
    try:
        await receive(client)  # the snapshot
        frames = vehicle_frames()
        frames.add([live("w", 52.37, 4.861, at=T0), live("e", 52.37, 4.91, at=T0)])
        publisher = await publish(frames)
        assert publisher.group_sends == 2  # two tiles
        message = await receive(client)
        assert sorted(v["vehicle_id"] for v in vehicles(message)) == ["e", "w"]
        assert await client.receive_nothing(timeout=0.3)
    finally:
        await client.disconnect()


def test_a_client_in_two_tiles_gets_their_frames_in_one_message():
    asyncio.run(_two_tiles())


async def _one_membership_per_process():
    from streamcity.kernel.fanout import LocalGroups

    layer = channel_layers["default"]
    first, second = connect(f"bbox={AMSTERDAM_BOX}"), connect(f"bbox={AMSTERDAM_BOX}")
    for c in (first, second):
        assert (await c.connect())[0]
        await receive(c)  # the snapshot
    groups = LocalGroups.of(layer)
    shared = [g for g, members in groups.members.items() if len(members) == 2]  # the box's tiles
    assert shared and all(set(layer.groups[g]) == {groups.channel} for g in shared)  # one membership each
    group = shared[0]
    frames = vehicle_frames()
    frames.add([live("v", *AMSTERDAM, at=T0)])
    await publish(frames)
    for c in (first, second):
        assert [v["vehicle_id"] for v in vehicles(await receive(c))] == ["v"]
    await first.disconnect()
    assert group in layer.groups and len(groups.members[group]) == 1
    await second.disconnect()
    assert group not in groups.members and group not in layer.groups


def test_sockets_of_one_process_share_one_membership_per_group():
    asyncio.run(_one_membership_per_process())


class Member:
    """A socket as LocalGroups sees it: what it was handed (or a failure, as a socket gone)."""

    def __init__(self, fails=False):
        self.got, self.fails = [], fails

    async def frame_text(self, text):
        if self.fails:
            raise RuntimeError("socket gone")
        self.got.append(text)


async def _paced_hand_off():
    from streamcity.kernel.fanout import LocalGroups

    layer = channel_layers["default"]
    groups = LocalGroups.of(layer)
    members = [Member(fails=(i == 3)) for i in range(2 * LocalGroups.PACE + 7)]  # three turns of the loop
    group = "live.test.paced"
    for m in members:
        await groups.join(group, m)
    for text in ("f1", "f2"):
        await layer.group_send(group, {"type": LOCAL_GROUPS_FRAME, "text": text, "group": group})
    healthy = [m for m in members if not m.fails]
    deadline = time.monotonic() + 5
    while any(len(m.got) < 2 for m in healthy) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert all(m.got == ["f1", "f2"] for m in healthy)  # in order, past the member that failed
    assert groups.delivered == 2 * len(healthy)
    for m in members:
        await groups.leave(group, m)
    assert group not in groups.members


def test_a_frame_reaches_every_member_in_order_over_several_turns_of_the_loop():
    asyncio.run(_paced_hand_off())


async def _many_groups_in_one_tick():
    from streamcity.kernel.fanout import LocalGroups

    layer = channel_layers["default"]
    groups = LocalGroups.of(layer)
    names = [f"live.test.many.{i}" for i in range(300)]  # a tick of phones all over a city: frames for 300 tiles
    members = {name: Member() for name in names}
    for name, m in members.items():
        await groups.join(name, m)
    await asyncio.gather(*(layer.group_send(name, {"type": LOCAL_GROUPS_FRAME, "text": name, "group": name})
                           for name in names))  # as the publisher sends a tick, before the process reads any
    deadline = time.monotonic() + 5
    while any(not m.got for m in members.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert {name: m.got for name, m in members.items()} == {name: [name] for name in names}
    for name, m in members.items():
        await groups.leave(name, m)


def test_the_frames_of_a_tick_for_hundreds_of_groups_all_reach_the_process():
    """One channel-layer membership per group per process: the process's one channel takes a tick's
    frame of every group it watches before it reads any (the in-memory layer's default capacity of
    100 messages a channel would drop the rest)."""
    asyncio.run(_many_groups_in_one_tick())


async def _other_message_types():
    from streamcity.kernel.fanout import LocalGroups

    layer = channel_layers["default"]
    groups = LocalGroups.of(layer)
    member, group = Member(), "live.test.types"
    await groups.join(group, member)
    for kind in ("vehicles.frame", "vehicles.frame", LOCAL_GROUPS_FRAME):
        await layer.group_send(group, {"type": kind, "text": kind, "group": group})
    deadline = time.monotonic() + 5
    while not member.got and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await groups.leave(group, member)
    return member.got


def test_the_process_channel_takes_frames_for_local_groups_and_drops_other_messages(caplog):
    """The publisher's messages are for LocalGroups (LOCAL_GROUPS_FRAME), not a consumer's handler:
    a message of another type is not handed to the sockets, and said once in the log."""
    with caplog.at_level("ERROR", logger="streamcity.kernel.fanout"):
        assert asyncio.run(_other_message_types()) == [LOCAL_GROUPS_FRAME]
    assert caplog.text.count("'vehicles.frame'") == 1


def test_the_live_map_publisher_sends_frames_for_local_groups():
    assert vehicle_publisher(vehicle_frames(), interval=1).handler == LOCAL_GROUPS_FRAME
