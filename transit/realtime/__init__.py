"""GTFS-Realtime in and out.

In (`manage.py runrealtime`, `runstreamcity --realtime`): `fetch` reads an agency's feed (HTTP(S),
a file or file://), `decode` checks it is a GTFS-Realtime FeedMessage, `mapper` turns it into the
events the simulator would have sent (vehicle_locations reports, the stop_schedule of the trips it
runs, service_alerts), matched against the imported static feed (`static.StaticIndex`), and
`poller.RealtimePoller` publishes what changed.

Out (`/gtfs-rt/`): `feed` builds VehiclePositions, TripUpdates and Alerts from the live table and
the open alerts, `views` serves them (cached per frame interval, ETag, gzip, `?format=json`).

The protobuf classes are the maintained `gtfs-realtime-bindings` (google.transit.gtfs_realtime_pb2).
"""
