"""GTFS Schedule feeds: reading, parsing and validating (plain Python), importing into `transit` models.

- `tables`: the parsed feed as frozen dataclasses, and the field rules (times, dates, route types).
- `reader`: a feed's files from a folder, a .zip or an http(s) URL, as rows with line numbers.
- `parse`: a whole feed, validated and normalised (interpolated times, expanded frequencies).
- `writer`: a parsed feed back to GTFS files (the built-in city is generated this way).
- `services` / `selectors`: the database side (Django).
"""
