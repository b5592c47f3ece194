"""StreamCity's kernel: what every app builds on, and which imports no app.

- `bus`: the event bus interface, its in-process and Kafka implementations, the consume runner (Worker).
- `schemas`: the event payloads of every topic (msgspec), one definition for producers and consumers.
- `runtime`: running roles as threads that stop cleanly on a signal.
- `registry`: where apps declare their roles (processors, consumers, simulators); the run commands ask it.
- `fanout`, `layers`: Channels helpers for pushing frames to groups of sockets.

Imports point one way: kernel <- apps (transit, alerts, simulators) <- wiring (settings, urls, asgi,
the run commands). import-linter checks it (pyproject.toml, `lint-imports`).
"""
