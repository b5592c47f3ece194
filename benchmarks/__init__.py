"""`manage.py benchmark`: how far the pipeline keeps up in real time, and where it stops.

- `city`: a synthetic city (routes, stops, a timetable, a fleet on its trips, riders tapping on);
  plain Python, no Django.
- `load`: produces the city's vehicle reports (1 Hz each) and tap-ons (T per second) to a bus at
  a steady pace; runs as a process of its own on Kafka, as a thread on the in-process bus.
- `clients`: M WebSocket clients of `/ws/live/` in one asyncio process; they measure the end-to-end
  latency of every vehicle they receive (receive time - the event time stamped by the load).
- `host`: the pipeline under test in one process (the real processors, bridge, frame publisher,
  alert consumer, Daphne on 127.0.0.1), the measurement phases and the figures.
- `report`: percentiles, the progress line and the final table.
"""
