"""Anomaly detection: pure rules on plain data, and the stream processors that feed them.

Rules (`surge`, `delay`, `breakdown`, `bunching`, `silent`, `schedule`, `clock`) import nothing
from Django or Kafka; `processors` holds the Worker handlers that decode batches, order events by
event time, run the rules and produce the alert records.
"""
