"""Multi-group fan-out: one frame per group per tick, each item encoded once."""

import json

from streamcity.kernel.fanout import Coalescer, MultiGroupPublisher


def publisher(**kwargs):
    return MultiGroupPublisher(Coalescer("id"), name="test", groups_of=lambda item: ["all", f"tile.{item['tile']}"],
                               handler="things.frame", frame_type="frame", field="things", interval=1, **kwargs)


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
