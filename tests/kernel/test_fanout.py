"""Multi-group fan-out: one frame per group per tick, each item encoded once."""

import json

from streamcity.kernel.fanout import Coalescer, MultiGroupPublisher


def publisher(**kwargs):
    return MultiGroupPublisher(Coalescer("id"), name="test", groups_of=lambda item: ["all", f"tile.{item['tile']}"],
                               frame_type="frame", field="things", interval=1, **kwargs)


def decoded(frames):
    return {group: [t["id"] for t in json.loads(text)["things"]] for group, text in frames.items()}


def test_one_frame_per_group_with_the_items_of_that_group():
    frames = publisher().frames_of([{"id": "a", "tile": 1}, {"id": "b", "tile": 2}, {"id": "c", "tile": 1}])
    assert decoded(frames) == {"all": ["a", "b", "c"], "tile.1": ["a", "c"], "tile.2": ["b"]}
    assert json.loads(frames["tile.2"]) == {"type": "frame", "things": [{"id": "b", "tile": 2}]}


def test_an_item_that_leaves_a_group_is_sent_there_once_more():
    pub = publisher()
    pub.frames_of([{"id": "a", "tile": 1}])
    assert decoded(pub.frames_of([{"id": "a", "tile": 2}])) == {"all": ["a"], "tile.1": ["a"], "tile.2": ["a"]}
    assert decoded(pub.frames_of([{"id": "a", "tile": 2}])) == {"all": ["a"], "tile.2": ["a"]}


def test_keys_not_seen_for_a_while_are_forgotten():
    pub = publisher(forget_after=0.0)
    pub.frames_of([{"id": "a", "tile": 1}])
    pub.frames_of([{"id": "b", "tile": 1}])  # sweeps: "a" is older than forget_after
    assert decoded(pub.frames_of([{"id": "a", "tile": 2}])) == {"all": ["a"], "tile.2": ["a"]}


def test_a_group_with_more_changes_than_one_message_holds_gets_several_frames():
    from streamcity.kernel.fanout import MAX_FRAME_CHARS

    pad = "x" * 1000
    items = [{"id": f"v{i}", "tile": i % 2, "pad": pad} for i in range(3 * MAX_FRAME_CHARS // 1000)]
    frames = publisher().frame_list_of(items)
    assert all(len(text) <= MAX_FRAME_CHARS + 2000 for _, text in frames)
    received: dict[str, list[str]] = {}
    for group, text in frames:
        frame = json.loads(text)
        assert frame["type"] == "frame"
        received.setdefault(group, []).extend(t["id"] for t in frame["things"])
    assert sum(1 for group, _ in frames if group == "all") >= 3
    assert received["all"] == [t["id"] for t in items]  # every change once, in order
    assert received["tile.1"] == [t["id"] for t in items if t["tile"] == 1]


class SlowToMakeLayer:
    """A channel layer that takes a while to make, as one whose module is imported on first use."""

    made = 0

    def __init__(self, **config):
        import time

        time.sleep(0.2)
        SlowToMakeLayer.made += 1


def test_publishers_starting_together_get_the_layer_of_the_servers_loop(settings):
    """channels' layer manager makes a layer the first time it is asked, without a lock: publishers
    asking from their threads at once would each make one (an in-memory one reaching no socket)."""
    import asyncio
    import threading

    from channels.layers import channel_layers

    from streamcity.kernel.fanout import channel_layer_on

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.SlowToMakeLayer"}}
    channel_layers.backends.clear()
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    try:
        got, stop = [], threading.Event()
        threads = [threading.Thread(target=lambda: got.append(channel_layer_on(loop, stop))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(got) == 3 and len({id(layer) for layer in got}) == 1 and SlowToMakeLayer.made == 1
    finally:
        loop.call_soon_threadsafe(loop.stop)
        channel_layers.backends.clear()


def test_a_publisher_stopped_before_the_server_runs_gets_no_layer():
    import asyncio
    import threading

    from streamcity.kernel.fanout import channel_layer_on

    stop = threading.Event()
    stop.set()
    loop = asyncio.new_event_loop()  # never run
    try:
        assert channel_layer_on(loop, stop) is None
    finally:
        loop.close()
