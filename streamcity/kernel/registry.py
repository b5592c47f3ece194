"""Where apps declare the roles StreamCity runs, and where the run commands find them.

Each app lists its roles in a module `<app>/roles.py`, found the way Django's admin finds
`admin.py` (`discover()`): the kernel imports no app, and `runprocessors`, `runconsumers` and
`runstreamcity` ask this registry instead of importing the apps.

- processors: stream processors. A processor is either a Worker of its own (`build` returns a
  Worker) or a stage of a shared consumer (`stage_of="<pipeline>"`: `build` returns a handler, and
  every stage of that pipeline selected for a process runs in one Worker and consumer group,
  `Stages`, in the order of their `order`). Builders take a `Context`, where the processors of one
  process share what they share (the reference data they wait for, each other's stages).
- consumers: roles that take derived topics to the database, the channel layer and the outside.
- simulator: the one source of simulated input (its command-line options and its role).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .bus import Bus, Worker, topic_specs
from .runtime import Role
from .stages import Stages


@dataclass(frozen=True)
class ProcessorSpec:
    name: str
    build: Callable[[Context], Any]  # -> a Worker, or a stage handler when `stage_of` is set
    order: int = 0  # building and running order (stages of one pipeline run in this order)
    stage_of: str | None = None


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    build: Callable[[Bus, asyncio.AbstractEventLoop | None], tuple[list[Role], list[Worker]]]
    order: int = 0


@dataclass(frozen=True)
class SimulatorSpec:
    add_arguments: Callable[[Any], None]  # (argparse parser)
    build: Callable[[Bus, dict], tuple[Role, Any]]  # (bus, command options) -> (role, runner with .status())


@dataclass
class Context:
    """What the processors of one process share while they are built."""

    bus: Bus
    catch_up: bool = True
    reference: Any = None  # shared reference data (an object with a `ready` Event) the stages wait for
    workers: list[Worker] = field(default_factory=list)  # helper workers a builder added (e.g. a reference loader)
    built: dict[str, Any] = field(default_factory=dict)  # processor name -> what its builder returned
    shared: dict[str, Any] = field(default_factory=dict)

    def share(self, key: str, make: Callable[[], Any]) -> Any:
        """The object under `key`, made once per process by the first builder that asks."""
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]


class Registry:
    def __init__(self):
        self._processors: dict[str, ProcessorSpec] = {}
        self._consumers: dict[str, ConsumerSpec] = {}
        self._simulator: SimulatorSpec | None = None
        self._discovered = False

    # -- declaring (from an app's roles.py) -----------------------------------------------------
    def processor(self, name: str, *, order: int = 0, stage_of: str | None = None):
        def register(build):
            self._add(self._processors, ProcessorSpec(name, build, order, stage_of))
            return build
        return register

    def consumer(self, name: str, *, order: int = 0):
        def register(build):
            self._add(self._consumers, ConsumerSpec(name, build, order))
            return build
        return register

    def simulator(self, *, add_arguments: Callable[[Any], None]):
        def register(build):
            if self._simulator is not None and self._simulator.build is not build:
                raise ValueError("a simulator is registered already")
            self._simulator = SimulatorSpec(add_arguments, build)
            return build
        return register

    @staticmethod
    def _add(table: dict, spec) -> None:
        known = table.get(spec.name)
        if known is not None and known.build is not spec.build:
            raise ValueError(f"role {spec.name!r} is registered twice")
        table[spec.name] = spec

    # -- finding ---------------------------------------------------------------------------------
    def discover(self) -> None:
        """Import every installed app's `roles` module (once)."""
        if not self._discovered:
            from django.utils.module_loading import autodiscover_modules

            autodiscover_modules("roles")
            self._discovered = True

    def processor_names(self) -> list[str]:
        self.discover()
        return [s.name for s in sorted(self._processors.values(), key=lambda s: s.order)]

    def processors(self, bus: Bus, *, only: Iterable[str] | None = None,
                   catch_up: bool = True) -> tuple[list[Role], list[Worker]]:
        """The stream processors (all, or `only` those), as roles and their Workers: the helper
        workers builders asked for first, then one Worker per pipeline of stages, then the rest."""
        known = self.processor_names()
        names = list(known if only is None else only)
        unknown = set(names) - set(known)
        if unknown:
            raise ValueError(f"unknown processors: {', '.join(sorted(unknown))} (known: {', '.join(known)})")
        ctx = Context(bus, catch_up=catch_up)
        pipelines: dict[str, list[tuple[str, Any]]] = {}
        own: list[Worker] = []
        for spec in sorted((self._processors[n] for n in set(names)), key=lambda s: s.order):
            made = ctx.built[spec.name] = spec.build(ctx)
            if spec.stage_of:
                pipelines.setdefault(spec.stage_of, []).append((spec.name, made))
            else:
                own.append(made)
        workers = list(ctx.workers)
        for pipeline, stages in pipelines.items():
            name, group_id = stage_group(pipeline, [n for n, _ in stages])
            h = Stages(bus, [s for _, s in stages], name=name, group_id=group_id, reference=ctx.reference)
            workers.append(Worker(bus, name=h.name, group_id=h.group_id, topics=h.topics, handle=h, tick=h.tick,
                                  retain=h.retained if h.retains else None))
        workers += own
        return [Role(f"processor:{w.name}", w.run) for w in workers], workers

    def consumer_names(self) -> list[str]:
        self.discover()
        return [s.name for s in sorted(self._consumers.values(), key=lambda s: s.order)]

    def consumers(self, bus: Bus, *, loop: asyncio.AbstractEventLoop | None = None, only: Iterable[str] | None = None,
                  skip: Iterable[str] = ()) -> tuple[list[Role], list[Worker]]:
        """The consumer roles (all, or `only` those, less `skip`). `loop` owns the channel layer (the ASGI
        server's loop, if any)."""
        known = self.consumer_names()
        names = set(known if only is None else only)
        unknown = (names | set(skip)) - set(known)
        if unknown:
            raise ValueError(f"unknown consumers: {', '.join(sorted(unknown))} (known: {', '.join(known)})")
        names -= set(skip)
        roles: list[Role] = []
        workers: list[Worker] = []
        for spec in sorted((self._consumers[n] for n in names), key=lambda s: s.order):
            r, w = spec.build(bus, loop)
            roles += r
            workers += w
        return roles, workers

    def simulator_spec(self) -> SimulatorSpec:
        self.discover()
        if self._simulator is None:
            raise LookupError("no app registers a simulator")
        return self._simulator


def stage_group(pipeline: str, names: list[str]) -> tuple[str, str]:
    """The Worker name and consumer group id of the stages `names` run together: one stage keeps
    its own group; several share one named after them (two processes running different stages
    never split one group's partitions between them)."""
    if len(names) == 1:
        return names[0], f"streamcity-{names[0]}"
    return pipeline, "streamcity-" + "+".join(names)


def ensure_topics(bus: Bus) -> None:
    bus.ensure_topics(topic_specs())


def worker_status(workers: list[Worker]) -> str:
    """One status line: per worker, records read and dead-lettered, and the handler's own figures."""
    parts = []
    for w in workers:
        dead = w.dead_lettered + getattr(w.handle, "dead_lettered", 0)  # Stages dead-letter refused records themselves
        line = f"{w.name} {w.processed} read, {dead} dead-lettered"
        status = getattr(w.handle, "status", None)
        parts.append(f"{line}, {status()}" if callable(status) else line)
    return " | ".join(parts)


registry = Registry()
