from django.db import models


class VehicleState(models.Model):
    """The latest known state of one vehicle, written by the bridge from `live_vehicles`."""

    class Status(models.TextChoices):
        IN_SERVICE = "in_service", "In service"
        LAYOVER = "layover", "Layover"
        DEADHEAD = "deadhead", "Deadhead"
        BROKEN_DOWN = "broken_down", "Broken down"
        OUT_OF_SERVICE = "out_of_service", "Out of service"

    vehicle_id = models.CharField(max_length=128, primary_key=True)
    vehicle_type = models.CharField(max_length=16)
    route_id = models.CharField(max_length=128, null=True, blank=True)
    trip_id = models.CharField(max_length=128, null=True, blank=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    bearing = models.FloatField(default=0)
    speed = models.FloatField(default=0, help_text="metres per second")
    passenger_count = models.PositiveIntegerField(default=0)
    capacity = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_SERVICE)
    stop_sequence = models.IntegerField(null=True, blank=True)
    next_stop_id = models.CharField(max_length=128, null=True, blank=True)
    delay_seconds = models.IntegerField(null=True, blank=True)
    timestamp = models.DateTimeField(help_text="event time reported by the vehicle")
    updated_at = models.DateTimeField(db_index=True, help_text="when the bridge wrote this row")

    class Meta:
        ordering = ["vehicle_id"]

    def __str__(self):
        return f"{self.vehicle_id} ({self.route_id or 'no route'})"


# -- The network, imported from GTFS feeds (transit.gtfs). Several feeds can coexist. ------------


class Feed(models.Model):
    """One imported GTFS feed. Re-importing a feed of the same name replaces it (and all below)."""

    name = models.SlugField(max_length=64, unique=True)
    source = models.CharField(max_length=1000, help_text="path or URL it was imported from")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the feed's files")
    timezone = models.CharField(max_length=64)
    start_date = models.DateField(null=True, blank=True, help_text="first day of service")
    end_date = models.DateField(null=True, blank=True, help_text="last day of service")
    counts = models.JSONField(default=dict, help_text="rows per table")
    warnings = models.JSONField(default=list)
    imported_at = models.DateTimeField()
    import_seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Agency(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="agencies")
    agency_id = models.CharField(max_length=128, blank=True)
    name = models.CharField(max_length=255)
    url = models.CharField(max_length=500, blank=True)
    timezone = models.CharField(max_length=64)
    lang = models.CharField(max_length=16, blank=True)

    class Meta:
        verbose_name_plural = "agencies"
        constraints = [models.UniqueConstraint(fields=["feed", "agency_id"], name="transit_agency_feed_id")]

    def __str__(self):
        return self.name


class Route(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="routes")
    route_id = models.CharField(max_length=128)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, null=True, blank=True, related_name="routes")
    short_name = models.CharField(max_length=64, blank=True)
    long_name = models.CharField(max_length=255, blank=True)
    route_type = models.IntegerField(help_text="as in the feed (basic or extended)")
    vehicle_type = models.CharField(max_length=16, help_text="bus / tram / rail / ... from the route type")
    color = models.CharField(max_length=6, blank=True)
    text_color = models.CharField(max_length=6, blank=True)

    class Meta:
        ordering = ["feed", "short_name", "route_id"]
        constraints = [models.UniqueConstraint(fields=["feed", "route_id"], name="transit_route_feed_id")]

    def __str__(self):
        return f"{self.short_name or self.route_id} {self.long_name}".strip()


class Stop(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="stops")
    stop_id = models.CharField(max_length=128)
    code = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=255, blank=True)
    search_name = models.CharField(
        max_length=255, blank=True, db_index=True,
        help_text="the name without accents, case folded (transit.names.search_key): what search compares")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_type = models.PositiveSmallIntegerField(default=0)
    parent_station = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["feed", "stop_id"]
        constraints = [models.UniqueConstraint(fields=["feed", "stop_id"], name="transit_stop_feed_id")]

    def __str__(self):
        return f"{self.name} ({self.stop_id})"


class Shape(models.Model):
    """A trip's path: its points in one JSON list [[lat, lon], ...] (compact, read whole)."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="shapes")
    shape_id = models.CharField(max_length=128)
    points = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feed", "shape_id"], name="transit_shape_feed_id")]

    def __str__(self):
        return self.shape_id


class Calendar(models.Model):
    """A service's weekly pattern between two dates (calendar.txt)."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="calendars")
    service_id = models.CharField(max_length=128)
    monday = models.BooleanField()
    tuesday = models.BooleanField()
    wednesday = models.BooleanField()
    thursday = models.BooleanField()
    friday = models.BooleanField()
    saturday = models.BooleanField()
    sunday = models.BooleanField()
    start_date = models.DateField()
    end_date = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feed", "service_id"], name="transit_calendar_feed_id")]

    def __str__(self):
        return self.service_id


class CalendarDate(models.Model):
    """A service added (1) or removed (2) on one date (calendar_dates.txt)."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="calendar_dates")
    service_id = models.CharField(max_length=128)
    date = models.DateField()
    exception_type = models.PositiveSmallIntegerField(choices=[(1, "added"), (2, "removed")])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "service_id", "date"], name="transit_calendardate_feed_id")
        ]

    def __str__(self):
        return f"{self.service_id} {self.date} {self.get_exception_type_display()}"


class Trip(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="trips")
    trip_id = models.CharField(max_length=160)
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="trips")
    service_id = models.CharField(max_length=128)
    shape = models.ForeignKey(Shape, on_delete=models.SET_NULL, null=True, blank=True, related_name="trips")
    headsign = models.CharField(max_length=255, blank=True)
    short_name = models.CharField(max_length=64, blank=True)
    direction_id = models.PositiveSmallIntegerField(null=True, blank=True)
    block_id = models.CharField(max_length=128, blank=True)
    frequency_template = models.CharField(
        max_length=128, blank=True, help_text="trip_id of the frequencies.txt template this trip was expanded from"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feed", "trip_id"], name="transit_trip_feed_id")]

    def __str__(self):
        return self.trip_id


class StopTime(models.Model):
    """A trip's call at a stop. Times are seconds after the service day's start (may pass 24 h)."""

    trip = models.ForeignKey(Trip, on_delete=models.CASCADE, related_name="stop_times")
    stop = models.ForeignKey(Stop, on_delete=models.CASCADE, related_name="stop_times")
    stop_sequence = models.PositiveIntegerField()
    arrival_time = models.PositiveIntegerField()
    departure_time = models.PositiveIntegerField()
    timepoint = models.BooleanField(default=True, help_text="false: interpolated or approximate")
    pickup_type = models.PositiveSmallIntegerField(default=0)
    drop_off_type = models.PositiveSmallIntegerField(default=0)
    shape_dist_traveled = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["trip", "stop_sequence"]
        constraints = [models.UniqueConstraint(fields=["trip", "stop_sequence"], name="transit_stoptime_trip_seq")]

    def __str__(self):
        return f"{self.trip_id}#{self.stop_sequence}"


class Frequency(models.Model):
    """A frequencies.txt row, kept for reference: its trips are expanded at import."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="frequencies")
    trip_id = models.CharField(max_length=128, help_text="the template trip")
    start_time = models.PositiveIntegerField()
    end_time = models.PositiveIntegerField(help_text="exclusive")
    headway_secs = models.PositiveIntegerField()
    exact_times = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "frequencies"

    def __str__(self):
        return f"{self.trip_id} every {self.headway_secs}s"


class SimulationRun(models.Model):
    """One run of the simulator: which feed, which service day's timetable runs and why, and whether it
    is still running. The live table (VehicleState) belongs to the running run: a new run clears it."""

    run_id = models.CharField(max_length=128, unique=True)
    feed = models.CharField(max_length=64, help_text="the feed's name")
    timezone = models.CharField(max_length=64)
    requested_date = models.DateField(help_text="the simulated calendar date at the start")
    timetable_date = models.DateField(help_text="the feed date whose timetable runs that day")
    reason = models.CharField(
        max_length=32, help_text="requested / same weekday / nearest with service / no service")
    note = models.CharField(max_length=500, blank=True, help_text="what the status line says about the date")
    sim_started_at = models.DateTimeField(help_text="simulated (event) time at the start")
    sim_now = models.DateTimeField(help_text="simulated time at the last heartbeat")
    vehicles = models.PositiveIntegerField(default=0, help_text="vehicles on duty at the last heartbeat")
    service_starts = models.DateTimeField(null=True, blank=True,
                                          help_text="when nothing runs: when the next vehicle starts")
    started_at = models.DateTimeField(help_text="wall time")
    heartbeat_at = models.DateTimeField(help_text="wall time of the last heartbeat")
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.feed} {self.run_id}"
# -- history (transit.history; docs/history.md) --------------------------------------------------------
# Time-ordered tables: rows arrive roughly in time order, so on PostgreSQL a BRIN index on the time
# column (migration 0003) finds a period in a few pages; the composite primary keys are the b-tree
# lookups (a vehicle's positions by time, a trip run's calls), and make a record read twice a conflict
# that is ignored.


class Float4Field(models.FloatField):
    """A 4-byte float (REAL on PostgreSQL and SQLite): about 7 digits, some 0.5 m of latitude or
    longitude, for the tens of millions of positions a day keeps (FloatField is 8 bytes)."""

    def db_type(self, connection):
        return "real"


class StopEvent(models.Model):
    """A vehicle's call at one stop of its trip (from the `stop_events` topic)."""

    # a trip run's calls together (service delivered looks runs up by it); a spare taking over at a stop
    # makes a second call there
    pk = models.CompositePrimaryKey("trip_id", "trip_start", "stop_sequence", "vehicle_id")
    trip_id = models.CharField(max_length=128)
    trip_start = models.DateTimeField(help_text="the trip's first scheduled time: tells runs of one trip_id apart")
    stop_sequence = models.IntegerField()
    vehicle_id = models.CharField(max_length=128)
    route_id = models.CharField(max_length=128, null=True, blank=True)
    direction_id = models.SmallIntegerField(null=True, blank=True)
    stop_id = models.CharField(max_length=128)
    scheduled = models.DateTimeField(help_text="scheduled departure (arrival at the last stop)")
    arrival = models.DateTimeField(null=True, blank=True)
    departure = models.DateTimeField(null=True, blank=True)
    passenger_count = models.PositiveSmallIntegerField(default=0, help_text="on board when leaving")
    capacity = models.PositiveSmallIntegerField(default=0)
    timepoint = models.BooleanField(null=True, blank=True)
    observed = models.BooleanField(default=True, help_text="false: passed between two reports, times interpolated")
    left_behind = models.PositiveSmallIntegerField(default=0, help_text="riders who could not board: vehicle full")

    class Meta:
        # the history consumer's roll-up finds a new departure's neighbours at its stop (transit.history.rollup)
        indexes = [
            models.Index(fields=["stop_id", "departure"], name="transit_stopevent_tp_departure",
                         condition=models.Q(departure__isnull=False)
                         & (models.Q(timepoint__isnull=True) | models.Q(timepoint=True))),
            models.Index(fields=["stop_id", "scheduled"], name="transit_stopevent_tp_scheduled",
                         condition=models.Q(departure__isnull=False)
                         & (models.Q(timepoint__isnull=True) | models.Q(timepoint=True))),
        ]

    def __str__(self):
        return f"{self.vehicle_id} {self.trip_id}#{self.stop_sequence}"


class VehiclePosition(models.Model):
    """A vehicle's position, sampled (STREAMCITY_HISTORY_POSITION_SECONDS, or a change of course)."""

    pk = models.CompositePrimaryKey("vehicle_id", "timestamp")
    vehicle_id = models.CharField(max_length=128)
    timestamp = models.DateTimeField()
    route_id = models.CharField(max_length=128, null=True, blank=True)
    trip_id = models.CharField(max_length=128, null=True, blank=True)
    latitude = Float4Field()
    longitude = Float4Field()
    bearing = models.SmallIntegerField(default=0)
    speed = Float4Field(default=0)
    status = models.CharField(max_length=16, default="in_service")
    delay_seconds = models.IntegerField(null=True, blank=True)
    passenger_count = models.PositiveSmallIntegerField(default=0)
    capacity = models.PositiveSmallIntegerField(default=0)

    def __str__(self):
        return f"{self.vehicle_id} @ {self.timestamp:%H:%M:%S}"


class ScheduledTrip(models.Model):
    """A run of a trip the timetable planned (from `stop_schedule`): what service delivered counts against."""

    pk = models.CompositePrimaryKey("trip_id", "service_date")
    trip_id = models.CharField(max_length=128)
    service_date = models.DateField()
    start = models.DateTimeField(help_text="scheduled departure from the first stop (StopEvent.trip_start)")
    end = models.DateTimeField(help_text="scheduled arrival at the last stop")
    first_sequence = models.IntegerField()
    last_sequence = models.IntegerField()
    route_id = models.CharField(max_length=128, null=True, blank=True)
    direction_id = models.SmallIntegerField(null=True, blank=True)
    operated = models.BooleanField(default=False, help_text="a stop event of this run was kept (the history consumer)")

    class Meta:
        indexes = [models.Index(fields=["start"], name="transit_scheduledtrip_start")]

    def __str__(self):
        return f"{self.trip_id} {self.start:%Y-%m-%d %H:%M}"


class KpiHour(models.Model):
    """The KPIs' figures of one route and hour (UTC), kept up to date by the history consumer as it
    writes stop events (transit.history.rollup): the KPI page reads these instead of the day's stop
    events. Counts and sums only, so a batch adds to them; headway sums in milliseconds (exact)."""

    pk = models.CompositePrimaryKey("route_id", "hour")
    route_id = models.CharField(max_length=128, help_text="'' for stop events without a route")
    hour = models.DateTimeField(help_text="start of the hour (UTC)")
    # punctuality: timepoint departures by scheduled hour, classified with the window below
    departures = models.IntegerField(default=0)
    early = models.IntegerField(default=0)
    late = models.IntegerField(default=0)
    early_seconds = models.IntegerField(null=True, help_text="the punctuality window the counts used")
    late_seconds = models.IntegerField(null=True)
    # headways at timepoints: pairs of consecutive departures (actual, in the hour of the later one) and
    # of consecutive scheduled times (scheduled), n, sum h and sum h² in ms
    a_pairs = models.IntegerField(default=0)
    a_sum_ms = models.BigIntegerField(default=0)
    a_sq_ms = models.BigIntegerField(default=0)
    s_pairs = models.IntegerField(default=0)
    s_sum_ms = models.BigIntegerField(default=0)
    s_sq_ms = models.BigIntegerField(default=0)
    # crowding: timepoint departures with a capacity, by scheduled hour
    loads = models.IntegerField(default=0)
    load_ppm_sum = models.BigIntegerField(default=0, help_text="sum of the load factors in millionths (exact)")
    lf_under_50 = models.IntegerField(default=0)
    lf_50_80 = models.IntegerField(default=0)
    lf_80_100 = models.IntegerField(default=0)
    lf_full = models.IntegerField(default=0)
    trips_full = models.IntegerField(default=0, help_text="trip runs full at a timepoint departure, by trip start")
    left_behind = models.IntegerField(default=0, help_text="riders left behind at any stop, by scheduled hour")

    class Meta:
        indexes = [models.Index(fields=["hour"], name="transit_kpihour_hour")]

    def __str__(self):
        return f"{self.route_id} {self.hour:%Y-%m-%d %H:00}"
