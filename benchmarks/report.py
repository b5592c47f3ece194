"""The benchmark's final table, with the issue's targets beside the figures."""

from __future__ import annotations

# key, label, format, target (text), check(value, result) -> bool | None
ROWS = (
    ("vehicles", "vehicles (1 report/s each)", "{:,}", None, None),
    ("taps_per_s", "taps offered per second", "{:,.0f}", None, None),
    ("clients", "WebSocket clients", "{:,}", None, None),
    ("offered_events_per_s", "events offered per second", "{:,.0f}", None, None),
    ("events_per_s", "events per second through processors and bridge", "{:,.0f}",
     "= offered", lambda v, r: v >= 0.95 * (r.get("offered_events_per_s") or 0)),
    ("lag_max_s", "max lag (s)", "{:.2f}", "< 2", lambda v, r: v < 2.0),
    ("e2e_p50_ms", "e2e latency p50 (ms)", "{:,.0f}", None, None),
    ("e2e_p99_ms", "e2e latency p99 (ms)", "{:,.0f}", "<= 500 / 1,500",
     lambda v, r: v <= (500 if r["vehicles"] <= 1000 and r["clients"] <= 100 else 1500)),
    ("ws_deliveries_per_s", "WebSocket vehicle deliveries per second", "{:,.0f}", None, None),
    ("bare_fanout_deliveries_per_s", "bare channel-layer fan-out, same frames", "{:,.0f}", None, None),
    ("ws_ratio", "ws_ratio", "{:.2f}", ">= 0.8", lambda v, r: v >= 0.8),
    ("baseline_consume_per_s", "bare consume+decode per second", "{:,.0f}", None, None),
    ("processor_capacity_per_s", "processors + bridge replay per second", "{:,.0f}", None, None),
    ("processor_ratio", "processor_ratio", "{:.2f}", ">= 0.5", lambda v, r: v >= 0.5),
    ("cpu_percent", "CPU of the pipeline processes (%)", "{:.0f}", None, None),
    ("cpu_percent_web", "  of which the web processes (%)", "{:.0f}", None, None),
    ("cpu_percent_load", "CPU of the load process (%)", "{:.0f}", None, None),
    ("cpu_percent_clients", "CPU of the clients process (%)", "{:.0f}", None, None),
    ("rss_mb", "RSS of the pipeline processes (MB)", "{:,.0f}", None, None),
    ("frame_ticks_per_s", "live map frame ticks per second", "{:.2f}", None, None),
)


def table(result: dict) -> str:
    lines = [f"{'figure':52} {'value':>14}  target", "-" * 80]
    for key, label, fmt, target, check in ROWS:
        value = result.get(key)
        if value is None:
            text, mark = "-", ""
        else:
            text = fmt.format(value)
            ok = check(value, result) if check else None
            mark = "" if ok is None else ("  ok" if ok else "  MISSED")
        lines.append(f"{label:52} {text:>14}  {target or ''}{mark}")
    lines.append("-" * 80)
    lines.append(f"bus {result.get('bus')} ({result.get('processes')} process, "
                 f"{result.get('web_processes') or 'no'} web processes), channel layer "
                 f"{result.get('channel_layer')}, database {result.get('database')}, "
                 f"load average {result.get('loadavg_before')} -> {result.get('loadavg_after')}")
    return "\n".join(lines)
