"""Small GTFS feeds written on the spot, and where the real Cairns feed is (when it is there)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cairns_path() -> Path | None:
    """../shared/gtfs/cairns beside the repository (CI), else /work/shared/gtfs/cairns."""
    for candidate in (ROOT.parent / "shared" / "gtfs" / "cairns", Path("/work/shared/gtfs/cairns")):
        if (candidate / "stop_times.txt").is_file():
            return candidate
    return None


def require_cairns() -> Path:
    path = cairns_path()
    if path is None:
        pytest.skip("the Cairns GTFS feed (../shared/gtfs/cairns) is not here")
    return path


# A tiny valid feed: one agency, two routes, four stops, a shape, two trips, weekday service.
MINIMAL = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,Test Transit,https://example.org,Europe/Amsterdam\n",
    "stops.txt": (
        "stop_id,stop_name,stop_lat,stop_lon\n"
        "S1,First,52.3700,4.9000\n"
        "S2,Second,52.3750,4.9000\n"
        "S3,Third,52.3800,4.9000\n"
        "S4,Fourth,52.3850,4.9000\n"
    ),
    "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type\nR1,A,1,One,3\nR2,A,2,Two,900\n",
    "shapes.txt": (
        "shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence\n"
        "SH1,52.3700,4.9000,1\nSH1,52.3775,4.9010,2\nSH1,52.3850,4.9000,3\n"
    ),
    "trips.txt": "route_id,service_id,trip_id,direction_id,shape_id\nR1,WK,T1,0,SH1\nR2,WK,T2,1,\n",
    "stop_times.txt": (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:00:00,08:00:00,S1,1\nT1,08:02:00,08:02:30,S2,2\nT1,08:04:00,08:04:00,S3,3\nT1,08:06:00,08:06:00,S4,4\n"
        "T2,09:00:00,09:00:00,S4,1\nT2,09:05:00,09:05:00,S1,2\n"
    ),
    "calendar.txt": (
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
        "WK,1,1,1,1,1,0,0,20260101,20261231\n"
    ),
}


def write_feed(folder: Path, tables: dict[str, str | None], *, crlf: bool = False, bom: bool = False) -> Path:
    """MINIMAL with `tables` replacing (or, with None, removing) files; written to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    merged = {**MINIMAL, **tables}
    for name, text in merged.items():
        if text is None:
            continue
        if crlf:
            text = text.replace("\n", "\r\n")
        data = text.encode("utf-8")
        (folder / name).write_bytes(b"\xef\xbb\xbf" + data if bom else data)
    return folder
