"""History: stop events derived once in the stream, vehicle positions sampled for playback, the
service KPIs computed from them, and retention pruning (docs/history.md)."""
