"""Choosing the network the simulator runs on: an imported feed, a GTFS path, or the built-in city.

The built-in city is generated into `var/gtfs/builtin/` and imported (as feed "builtin") the first
time it is needed, so StreamCity runs with no download. The network is read from the database once,
at start; the simulation itself never touches the database.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from transit.gtfs.selectors import feed_get, feed_list, feed_load
from transit.gtfs.services import feed_import
from transit.models import Feed

from .city import CITY_SEED, CITY_VERSION, write_city
from .network import Network

logger = logging.getLogger(__name__)

BUILTIN = "builtin"


def builtin_city_folder() -> Path:
    return Path(settings.VAR_DIR) / "gtfs" / BUILTIN


def builtin_city_ensure() -> Feed:
    """The built-in city's feed: generated and imported if missing or made by an older generator."""
    folder = builtin_city_folder()
    version = folder / "VERSION"
    if not version.is_file() or version.read_text().split() != [CITY_VERSION, str(CITY_SEED)]:
        logger.info("generating the built-in city into %s", folder)
        write_city(folder)
    summary = feed_import(source=folder, name=BUILTIN, if_changed=True)
    if not summary.skipped:
        logger.info("imported the built-in city in %.1fs", summary.seconds)
    return summary.feed


def simulation_feed(*, gtfs: str | None = None, feed: str | None = None) -> Feed:
    """The feed to simulate: `feed` by name, else the GTFS at `gtfs` (imported unless the same files
    are already), else the STREAMCITY_GTFS setting, else the built-in city."""
    if feed:
        found = feed_get(name=feed)
        if found is None:
            names = ", ".join(f.name for f in feed_list()) or "none"
            raise ValueError(f"no imported feed named {feed!r} (imported: {names}); import it with importgtfs")
        return found
    gtfs = gtfs or settings.STREAMCITY_GTFS
    if gtfs:
        return feed_import(source=gtfs, if_changed=True).feed
    return builtin_city_ensure()


def simulation_network(*, gtfs: str | None = None, feed: str | None = None) -> Network:
    """The network of the chosen feed, loaded into memory for the simulator."""
    chosen = simulation_feed(gtfs=gtfs, feed=feed)
    return Network(feed_load(feed=chosen), name=chosen.name)
