"""Live-map subscriptions: tiles, group names and plans (plain Python, no database)."""

import pytest

from transit.subscriptions import (
    LEVELS,
    MAX_ROUTES,
    MAX_TILES,
    Subscription,
    SubscriptionError,
    route_group,
    subscription_from_query,
    subscription_parse,
    subscription_plan,
    tile_bbox,
    tile_group,
    tile_of,
    tiles_covering,
    vehicle_groups,
    world_group,
)
from transit.timetable import Punctuality

DAM = (52.3731, 4.8926)  # Amsterdam, Dam square
CITY = (4.85, 52.34, 4.95, 52.40)  # west, south, east, north


def vehicle(lat=DAM[0], lon=DAM[1], vehicle_type="tram", route_id="T2"):
    return {"vehicle_id": "v", "vehicle_type": vehicle_type, "route_id": route_id, "latitude": lat, "longitude": lon}


def test_tiles_match_the_slippy_map_scheme():
    assert tile_of(*DAM, 13) == (4207, 2692)  # the OpenStreetMap tile of the Dam at zoom 13 (asinh formula)
    assert tile_of(0.0, 0.0, 1) == (1, 1)
    assert tile_of(89.9, -180.0, 3) == (0, 0)  # clamped to the Mercator limit
    assert tile_of(-89.9, 180.0, 3) == (7, 7)


def test_a_tile_bbox_contains_its_points_and_tiles_cover_a_bbox():
    west, south, east, north = tile_bbox(4207, 2692, 13)
    assert west <= DAM[1] <= east and south <= DAM[0] <= north
    xs, ys = tiles_covering(CITY, 13)
    assert (4207 in xs) and (2692 in ys)
    corners = [tile_of(lat, lon, 13) for lat in (CITY[1], CITY[3]) for lon in (CITY[0], CITY[2])]
    assert all(x in xs and y in ys for x, y in corners)


def test_a_vehicle_goes_to_the_world_its_tiles_per_level_and_its_route():
    groups = vehicle_groups(vehicle())
    x, y = tile_of(*DAM, 13)
    assert world_group() in groups and world_group("tram") in groups
    assert tile_group(13, x, y) in groups and tile_group(13, x, y, "tram") in groups
    assert route_group("T2") in groups
    assert len(groups) == 2 + 2 * len(LEVELS) + 1
    assert len(vehicle_groups(vehicle(route_id=None))) == 2 + 2 * len(LEVELS)


def test_group_names_are_valid_channels_group_names():
    from channels.layers import BaseChannelLayer

    layer = BaseChannelLayer()
    for name in vehicle_groups(vehicle(route_id="route with spaces/and:colons é")) + vehicle_groups(vehicle()):
        assert layer.require_valid_group_name(name)
    assert route_group("a b") != route_group("a_b")
    assert route_group("x" * 200).startswith("live.r.h")


def test_a_city_view_joins_the_finest_tiles_that_fit():
    plan = subscription_plan(Subscription(bbox=CITY))
    assert plan.level == "z13"
    assert 1 < len(plan.groups) <= MAX_TILES
    assert all(g.startswith("live.z13.") and g.count(".") == 3 for g in plan.groups)
    west, south, east, north = plan.area  # the union of the tiles: at least the box asked for
    assert west <= CITY[0] and south <= CITY[1] and east >= CITY[2] and north >= CITY[3]


def test_a_wider_view_falls_back_to_coarser_tiles_then_the_world():
    region = (3.0, 51.0, 7.0, 53.5)
    assert subscription_plan(Subscription(bbox=region)).level in {"z10", "z7"}
    world = subscription_plan(Subscription(bbox=(-170, -80, 170, 80)))
    assert (world.level, world.groups, world.area) == ("world", (world_group(),), None)
    assert subscription_plan(Subscription()).groups == (world_group(),)


def test_some_vehicle_types_join_typed_tiles_all_types_untyped_ones():
    plan = subscription_plan(Subscription(bbox=CITY, vehicle_types=("tram", "rail")))
    assert {g.rsplit(".", 1)[1] for g in plan.groups} == {"tram", "rail"}
    assert plan.vehicle_types == ("tram", "rail")
    from transit.subscriptions import VEHICLE_TYPES

    every = subscription_plan(Subscription(bbox=CITY, vehicle_types=VEHICLE_TYPES))
    assert every.vehicle_types == () and every.groups == subscription_plan(Subscription(bbox=CITY)).groups


def test_routes_join_route_groups_wherever_the_view_is():
    plan = subscription_plan(Subscription(bbox=CITY, routes=("T2", "B10")))
    assert (plan.level, plan.groups, plan.area) == ("routes", (route_group("T2"), route_group("B10")), None)
    many = subscription_plan(Subscription(bbox=CITY, routes=tuple(f"r{i}" for i in range(MAX_ROUTES + 1))))
    assert many.level == "z13" and len(many.routes) == MAX_ROUTES + 1  # tiles, routes filtered by the client


def test_a_plan_matches_what_its_groups_carry():
    plan = subscription_plan(Subscription(bbox=CITY, vehicle_types=("tram",)))
    assert plan.matches(vehicle())
    assert not plan.matches(vehicle(vehicle_type="bus"))
    assert not plan.matches(vehicle(lat=48.85, lon=2.35))  # Paris
    own = {g for g in vehicle_groups(vehicle())}
    assert own & set(plan.groups)
    assert not set(vehicle_groups(vehicle(lat=48.85, lon=2.35))) & set(plan.groups)


def test_parse_accepts_a_subscribe_message_and_refuses_nonsense():
    sub = subscription_parse({"type": "subscribe", "bbox": [4.8, 52.3, 5.0, 52.4], "routes": ["T2", "T2", "10"],
                              "vehicle_types": ["tram"]})
    assert sub == Subscription(bbox=(4.8, 52.3, 5.0, 52.4), routes=("T2", "10"), vehicle_types=("tram",))
    assert subscription_parse({"bbox": [190, 52.3, 200, 52.4]}).bbox == (-170, 52.3, -160, 52.4)  # wrapped
    assert subscription_parse({"bbox": [170, 0, -170, 10]}).bbox == (-180, 0, 180, 10)  # across the antimeridian
    assert subscription_parse({"bbox": [-200, -10, 200, 10]}).bbox is None  # more than the world
    for bad, reason in [
        ({"bbox": [1, 2, 3]}, "west, south"),
        ({"bbox": ["a", 2, 3, 4]}, "four numbers"),
        ({"bbox": [0, 10, 1, 5]}, "south <= north"),
        ({"bbox": [0, 0, float("nan"), 1]}, "finite"),
        ({"routes": "T2"}, "list of strings"),
        ({"routes": [""]}, "1 to 128"),
        ({"routes": ["r"] * 501}, "at most"),
        ({"vehicle_types": ["hovercraft"]}, "unknown vehicle type"),
        ([], "JSON object"),
    ]:
        with pytest.raises(SubscriptionError, match=reason):
            subscription_parse(bad)


def test_a_subscription_in_the_socket_url():
    sub = subscription_from_query(b"bbox=4.8,52.3,5.0,52.4&route=T2&route=10&type=tram&type=bus")
    assert sub == Subscription(bbox=(4.8, 52.3, 5.0, 52.4), routes=("T2", "10"), vehicle_types=("tram", "bus"))
    assert subscription_from_query("") == Subscription()
    with pytest.raises(SubscriptionError):
        subscription_from_query("bbox=a,b,c,d")


# -- level of detail -----------------------------------------------------------------------------

LONDON = (-0.35, 51.38, 0.10, 51.62)  # a city-wide view


def test_a_zoomed_out_map_joins_the_detail_groups_of_its_zoom():
    city = subscription_plan(Subscription(bbox=LONDON, zoom=11))
    assert city.level == "z10" and city.detail == 11 and all(g.endswith(".d11") for g in city.groups)
    assert city.describe()["detail"] == 11
    assert subscription_plan(Subscription(bbox=LONDON, zoom=12.6)).detail == 12  # a fractional zoom: its floor
    assert subscription_plan(Subscription(bbox=LONDON, zoom=14)).detail is None  # zoomed in: every change
    assert subscription_plan(Subscription(bbox=LONDON)).detail is None  # no zoom said: every change
    # a level without the wanted class takes a finer one, never a coarser one
    phone = subscription_plan(Subscription(bbox=(4.88, 52.36, 4.90, 52.38), zoom=11))
    assert phone.level == "z13" and phone.detail == 13
    world = subscription_plan(Subscription(zoom=3))
    assert world.level == "world" and world.groups == (world_group(None, 9),)
    assert subscription_plan(Subscription(routes=("T2",), zoom=9)).detail is None  # routes: every change
    assert subscription_from_query("bbox=4.8,52.3,5.0,52.4&zoom=11.5").zoom == 11.5
    for bad in ("zoom=x", "zoom=-1", "zoom=31", "zoom=nan"):
        with pytest.raises(SubscriptionError, match="zoom"):
            subscription_from_query(bad)
    with pytest.raises(SubscriptionError, match="zoom"):
        subscription_parse({"zoom": True})


def row(lat=DAM[0], lon=DAM[1], status="in_service", next_stop="S2", delay=30, vehicle_id="v"):
    # the fields VehicleRouter reads, in ROW_FIELDS order (transit.selectors)
    return [vehicle_id, "tram", "T2", "trip-1", lat, lon, 90, 8.0, 10, 80, status, 1, next_stop, delay, 0]


def router(**kwargs):
    from transit.selectors import ROW_FIELDS
    from transit.subscriptions import VehicleRouter

    return VehicleRouter(ROW_FIELDS, **kwargs)


def details_of(groups):
    """The detail classes a vehicle was sent to, from group names (None: the full-detail groups)."""
    return {int(g.rsplit(".d", 1)[1]) if ".d" in g else None for g in groups}


def pixel_at(zoom, lat=DAM[0]):
    """Degrees of longitude in one pixel at `zoom`."""
    return 360 / 256 / 2**zoom


def test_a_vehicle_is_sent_to_a_level_of_detail_when_it_moved_a_pixel_there():
    route = router()
    first = route("v", row(), now=0.0)
    assert details_of(first) == {None, 9, 10, 11, 12, 13}
    assert set(vehicle_groups(vehicle())) <= set(first)
    x, y = tile_of(*DAM, 10)
    assert tile_group(10, x, y, None, 11) in first and tile_group(10, x, y, "tram", 11) in first
    assert world_group("tram", 9) in first
    assert not any(g.startswith("live.z13") and g.endswith(".d11") for g in first)  # z13 tiles: only class 13
    # half a pixel at zoom 11 is a whole one at zoom 12: due at 12 and 13 only
    moved = row(lon=DAM[1] + pixel_at(11) / 2)
    assert details_of(route("v", moved, now=1.0)) == {None, 12, 13}
    # still within a pixel at 11 of what zoom 11 last got: full detail only (12 and 13 got it at 1.0)
    assert details_of(route("v", row(lon=DAM[1] + pixel_at(11) * 0.6), now=2.0)) == {None}
    # north-south pixels are shorter on the ground by cos(latitude): Mercator's square pixels
    import math

    north = row(lat=DAM[0] + pixel_at(11) * math.cos(math.radians(DAM[0])) * 1.05)
    assert 11 in details_of(route("v", north, now=3.0))


def test_what_the_map_shows_of_a_vehicle_is_sent_at_once_and_everything_every_refresh():
    route = router(refresh=10.0, punctuality=Punctuality(early_seconds=60, late_seconds=180))
    route("v", row(), now=0.0)
    assert details_of(route("v", row(), now=1.0)) == {None}
    assert details_of(route("v", row(status="broken_down"), now=2.0)) == {None, 9, 10, 11, 12, 13}
    assert details_of(route("v", row(status="broken_down", next_stop="S3"), now=3.0)) == {None, 9, 10, 11, 12, 13}
    assert details_of(route("v", row(status="broken_down", next_stop="S3", delay=200), now=4.0)) == {
        None, 9, 10, 11, 12, 13}  # late now, past the 180 s given (the map's colour changes)
    assert details_of(route("v", row(status="broken_down", next_stop="S3", delay=250), now=5.0)) == {None}
    assert details_of(route("v", row(status="broken_down", next_stop="S3", delay=250), now=4.0 + 7.4)) == {None}
    assert details_of(route("v", row(status="broken_down", next_stop="S3", delay=250), now=4.0 + 12.6)) == {
        None, 9, 10, 11, 12, 13}  # refreshed (every 7.5 to 12.5 s, by vehicle)


def test_the_router_follows_the_punctuality_it_is_given():
    """The colour classes come from one setting: the same delay is a change under 180 s, none under 300 s."""
    for late, changed in ((180, {None, 9, 10, 11, 12, 13}), (300, {None})):
        route = router(refresh=10.0, punctuality=Punctuality(early_seconds=60, late_seconds=late))
        route("v", row(), now=0.0)
        assert details_of(route("v", row(delay=200), now=1.0)) == changed


def test_a_vehicle_leaving_a_tile_is_sent_there_once_more_in_each_level_of_detail():
    route = router()
    x, y = tile_of(*DAM, 13)
    west, south, east, north = tile_bbox(x, y, 13)
    inside, across = row(lon=east - 1e-6), row(lon=east + pixel_at(13) * 2)
    route("v", inside, now=0.0)
    old_d13 = tile_group(13, x, y, None, 13)
    sent = route("v", across, now=1.0)
    assert old_d13 in sent and tile_group(13, x + 1, y, None, 13) in sent
    assert tile_group(13, x, y) in sent  # full detail too
    again = route("v", row(lon=east + pixel_at(13) * 4), now=2.0)
    assert old_d13 not in again and tile_group(13, x, y) not in again


def test_vehicles_not_seen_for_a_while_are_forgotten():
    route = router(forget_after=5.0)
    route("a", row(vehicle_id="a"), now=0.0)
    route("b", row(vehicle_id="b"), now=1.0)
    route.sweep(6.0)
    assert details_of(route("a", row(vehicle_id="a"), now=6.0)) == {None, 9, 10, 11, 12, 13}  # as new


def test_group_names_tell_their_level_of_detail():
    from transit.subscriptions import detail_of

    x, y = tile_of(*DAM, 10)
    assert detail_of(tile_group(10, x, y, "tram", 11)) == 11
    assert detail_of(world_group(None, 9)) == 9
    assert detail_of(tile_group(13, 4207, 2692)) is None and detail_of(world_group("bus")) is None
    assert detail_of(route_group("N.d12")) is None  # a route's name may look like a level


def test_only_the_watched_levels_are_routed_and_a_level_watched_again_gets_what_moved():
    route = router()
    x, y = tile_of(*DAM, 13)
    route.watch({tile_group(13, x, y, None, 13), "someone.else.d12"})
    assert details_of(route("v", row(), now=0.0)) == {13}  # no full-detail group, no other level
    route.watch(set())
    assert route("v", row(lon=DAM[1] + pixel_at(9) * 3), now=1.0) == []
    route.watch({world_group(None, 9), tile_group(13, x, y)})
    # zoom 9 never got it; zoom 13 is not watched now; full detail: every change
    assert details_of(route("v", row(lon=DAM[1] + pixel_at(9) * 3), now=2.0)) == {None, 9}
    route.watch({tile_group(13, x, y, None, 13)})
    # zoom 13 last got it at 0.0, three pixels of zoom 9 ago: due there at once
    assert details_of(route("v", row(lon=DAM[1] + pixel_at(9) * 3), now=3.0)) == {13}
    route.watch(None)  # unknown: every level, as before watch() was ever called
    assert details_of(route("w", row(vehicle_id="w"), now=4.0)) == {None, 9, 10, 11, 12, 13}
