"""Run the real platform and tenants programs under the Pulumi SDK's mocks: no engine, no cloud.

`run_programs` returns every registered resource (type, name, inputs, parent, dependencies,
protection) in registration order — the offline plan renders it, the policy pack checks it
(a resource is registered only after the resources its inputs depend on).

Lookups (`get_network`, `get_role`, ...) are answered from the platform resources registered
earlier in the same run, so the tenants' inputs carry the mock ids of platform resources.
Mock ids are `mock:<type>:<logical name>`; Keystone's bootstrap roles (not created by hatang)
come back as `lookup:role:<name>`. URNs are written as the engine writes them (the SDK's mock
monitor prefixes `pulumi:pulumi:Stack$` to the types of the root stack's children; removed).
Inputs use Pulumi's camelCase names; whole numbers are ints again. Dependencies are sorted (the
SDK sends them in set order, which changes from run to run).

Speed (a plan of 1,000 tenants registers 30,000 resources): the SDK's monitor calls run inline
instead of on a thread, the SDK's capture of Python stack traces (dropped by the mock monitor)
is skipped, and a large site's tenants program runs on batches of tenants in forked worker
processes, which exit instead of collecting their garbage. The programs and the SDK's
registration path are the real ones.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import logging
import multiprocessing
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from pulumi.runtime import resource as _sdk_resource
from pulumi.runtime import settings as _settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.proto import source_pb2

import pulumi
from infra.errors import Problem
from infra.site import Site, load_site
from infra.site import gc_paused as site_gc_paused
from infra.stacks import platform, tenants
from infra.stacks._program import preloaded
from infra.validate import validate_site

__all__ = [
    "PROGRAMS",
    "TENANT_BATCH",
    "TENANT_COMPONENT",
    "Lookup",
    "MockRun",
    "RegisteredResource",
    "gc_paused",
    "run_programs",
    "run_under_mocks",
]

PROGRAMS: dict[str, tuple[str, Callable[..., None]]] = {
    "platform": (platform.PROJECT, platform.main),
    "tenants": (tenants.PROJECT, tenants.main),
}
"""Program name -> (Pulumi project, main). Order matters: platform first."""

TENANT_COMPONENT = "hatang:tenants:AgencyTenant"
"""The type of the component holding one tenant's resources."""

TENANT_BATCH = 50
"""Tenants per worker process: a site with more runs the tenants program in batches."""


@dataclass(frozen=True)
class RegisteredResource:
    """One `RegisterResource` call as the engine would have received it."""

    program: str
    urn: str
    type: str
    name: str
    custom: bool
    id: str | None
    inputs: Mapping[str, Any]
    parent: str | None
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    protect: bool
    options: Mapping[str, Any] = field(default_factory=dict)
    """The other resource options the engine acts on (ignore_changes, aliases, provider, version,
    ...), as set in the request: `hatang cloud up` fingerprints them (not in `as_dict`)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "id": self.id,
            "inputs": dict(self.inputs),
            "parent": self.parent,
            "dependencies": list(self.dependencies),
            "propertyDependencies": {k: list(v) for k, v in self.property_dependencies.items()},
            "protect": self.protect,
        }


@dataclass(frozen=True)
class Lookup:
    """A data-source call (invoke) and the answer the mocks gave."""

    program: str
    token: str
    args: Mapping[str, Any]
    result: Mapping[str, Any]


@dataclass
class MockRun:
    """The outcome of running the programs: resources and lookups in call order."""

    site: str
    as_of: datetime
    resources: list[RegisteredResource] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)

    def duplicates(self) -> list[str]:
        """URNs registered more than once (the mocks accept them; the engine refuses)."""
        counts = Counter(r.urn for r in self.resources)
        return sorted(urn for urn, n in counts.items() if n > 1)

    def custom(self) -> list[RegisteredResource]:
        """Cloud resources only (no components, no stack)."""
        return [r for r in self.resources if r.custom and not r.type.startswith("pulumi:providers:")]

    def find(self, type_: str, tags: Sequence[str] = (), **inputs: Any) -> RegisteredResource | None:
        """The first resource of `type_` whose inputs contain `inputs` and carry every tag of `tags`."""
        for resource in self.resources:
            if (
                resource.type == type_
                and all(resource.inputs.get(k) == v for k, v in inputs.items())
                and set(tags) <= set(resource.inputs.get("tags") or ())
            ):
                return resource
        return None


def _plain(value: Any) -> Any:
    """Inputs as plain data; whole numbers back to int (protobuf carries every number as float)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _urn(urn: str) -> str:
    """The engine's URN: the SDK's mock monitor prefixes the root stack's type to its children's."""
    return urn.replace("::pulumi:pulumi:Stack$", "::", 1)


def _short_type(type_: str) -> str:
    return type_.rsplit(":", 1)[-1].lower()


_LOOKUP_TYPES = {
    "openstack:networking/getNetwork:getNetwork": "openstack:networking/network:Network",
    "openstack:networking/getSubnetPool:getSubnetPool": "openstack:networking/subnetPool:SubnetPool",
    "openstack:identity/getProject:getProject": "openstack:identity/project:Project",
    "openstack:identity/getRole:getRole": "openstack:identity/role:Role",
}


class _Mocks(Mocks):
    """Outputs = inputs; ids are deterministic; lookups resolve against this run's resources."""

    def __init__(self, run: MockRun) -> None:
        self.run = run
        self.program = ""
        self.lock = threading.Lock()
        self.last = threading.local()

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        # The inputs go to the recorder (same thread, see _RecordingMonitor); no output state is
        # returned: the programs read only ids, and echoing inputs doubled the SDK's work.
        self.last.inputs = args.inputs
        resource_id = f"mock:{_short_type(args.typ)}:{args.name}" if args.custom else None
        return resource_id, {}

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        name = args.args.get("name")
        tags = list(args.args.get("tags") or ())
        target = _LOOKUP_TYPES.get(args.token)
        # like the provider: a lookup by tags ignores the name
        by = {"tags": tags} if tags else {"name": name} if name else None
        found = self.run.find(target, **by) if target and by else None
        if found is not None and found.id is not None:
            result: dict[str, Any] = {"name": found.inputs.get("name"), "id": found.id}
        elif args.token == "openstack:identity/getRole:getRole":
            result = {"name": name, "id": f"lookup:role:{name}"}
        elif args.token == "openstack:identity/getUser:getUser":  # a service user the playbooks create
            result = {"name": name, "id": f"lookup:user:{name}"}
        else:
            result = {"name": name, "id": f"lookup:missing:{_short_type(args.token)}:{name}"}
        with self.lock:
            self.run.lookups.append(Lookup(self.program, args.token, dict(args.args), result))
        return result, []


_OPTIONS = frozenset({
    "provider", "providers", "version", "pluginDownloadURL", "deleteBeforeReplace", "ignoreChanges",
    "replaceOnChanges", "retainOnDelete", "additionalSecretOutputs", "aliasURNs", "aliases", "aliasSpecs",
    "importId", "customTimeouts", "deletedWith", "replace_with", "replacement_trigger", "hideDiffs", "hooks",
    "envVarMappings", "remote",
})  # fmt: skip
"""The fields of a RegisterResourceRequest that change what the engine does, besides those kept apart."""


def _options(request: Any) -> dict[str, Any]:
    """The options set in a request (unset ones are absent), as plain, comparable values."""
    out: dict[str, Any] = {}
    for descriptor, value in request.ListFields():
        if descriptor.name not in _OPTIONS:
            continue
        if hasattr(value, "ListFields"):
            out[descriptor.name] = str(value)
        elif hasattr(value, "items"):
            out[descriptor.name] = {k: str(v) for k, v in sorted(value.items())}
        elif isinstance(value, str | bool | int | float):
            out[descriptor.name] = value
        else:
            out[descriptor.name] = [str(v) for v in value]
    return out


class _RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also keeping every registration with its options."""

    def __init__(self, mocks: _Mocks, program: str) -> None:
        super().__init__(mocks)
        self._mocks = mocks
        self._run = mocks.run
        self._program = program
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        registration = self.resources[response.urn]
        record = RegisteredResource(
            program=self._program,
            urn=_urn(response.urn),
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            id=registration.id,
            inputs=_plain(self._mocks.last.inputs),
            parent=_urn(request.parent) if request.parent else None,
            dependencies=tuple(sorted(_urn(u) for u in request.dependencies)),
            property_dependencies={
                k: tuple(sorted(_urn(u) for u in v.urns)) for k, v in request.propertyDependencies.items()
            },
            protect=bool(request.protect),
            options=_options(request),
        )
        with self._lock:
            self._run.resources.append(record)
        return response


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (then collect once).

    The SDK creates ~30 futures and outputs per resource; with the collector on, its full
    passes over that growing heap made a run superlinear (measured: 3.6 -> 1.2-1.7 ms CPU per
    resource for 3,000 resources). Memory is reclaimed by the one collection at the end.
    """
    try:
        with site_gc_paused():
            yield
    finally:
        gc.collect()


_QUIET = logging.getLogger("hatang.mockrun")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False

_P = ParamSpec("_P")
_T = TypeVar("_T")


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs the SDK's monitor calls at once, on the loop's thread, as a worker thread would.

    The SDK hands every RPC to the loop's default executor: with the mock monitor, a thread
    hop per resource for a call that never blocks, and threads still alive when the tenants'
    batches are forked. During the call the program's loop is hidden, as on a worker thread,
    so that the monitor's `_sync_await` runs a loop of its own instead of re-entering the program's.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self._loop = asyncio.new_event_loop()

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> concurrent.futures.Future[_T]:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        program_loop = asyncio.get_running_loop()
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(self._loop)
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # as a worker thread: the awaiting task gets it
            future.set_exception(exc)
        finally:
            asyncio.set_event_loop(program_loop)
            asyncio.events._set_running_loop(program_loop)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._loop.close()
        super().shutdown(wait, cancel_futures=cancel_futures)


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


@contextlib.contextmanager
def _sdk_for_mocks() -> Iterator[None]:
    """A fresh event loop with the inline executor; no stack traces of resource constructors.

    The SDK records each constructor's Python stack for the engine's diagnostics; the mock
    monitor drops it, and `traceback.extract_stack` (a stat() per frame) was a quarter of the
    CPU per resource. A private name: an SDK without it is used as it is, only slower.
    """
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_InlineExecutor())
    asyncio.set_event_loop(loop)
    capture = getattr(_sdk_resource, "_get_stack_trace", None)
    if capture is not None:
        _sdk_resource._get_stack_trace = _no_stack_trace
    try:
        yield
    finally:
        if capture is not None:
            _sdk_resource._get_stack_trace = capture
        asyncio.set_event_loop(None)
        loop.close()


def _record(fn: Callable[[], object], *, project: str, stack: str, program: str, config: Mapping[str, str],
            run: MockRun) -> None:
    mocks = _Mocks(run)
    mocks.program = program
    with _sdk_for_mocks():
        # A fresh root stack per program: set_mocks only creates one when none is set.
        _settings.ROOT.set(None)
        pulumi.runtime.set_mocks(
            mocks, project=project, stack=stack, preview=False, logger=_QUIET,
            monitor=_RecordingMonitor(mocks, program),
        )
        pulumi.runtime.set_all_config(dict(config))
        pulumi.runtime.test(fn)()  # type: ignore[no-untyped-call]


def run_under_mocks(
    fn: Callable[[], object],
    *,
    project: str,
    stack: str,
    program: str = "",
    config: Mapping[str, str] | None = None,
    run: MockRun | None = None,
) -> MockRun:
    """Run `fn` (a program, or any code declaring resources) under recording mocks.

    Appends to `run` when given (lookups then see its earlier resources), else to a new one.
    """
    run = run if run is not None else MockRun(site=stack, as_of=datetime.now(UTC))
    with gc_paused():
        _record(fn, project=project, stack=stack, program=program or project, config=config or {}, run=run)
    return run


@dataclass(frozen=True)
class _Batches:
    """The tenants program over batches of the site's tenants (handed to forked workers)."""

    main: Callable[[], object]
    stack: str
    config: Mapping[str, str]
    site: Site
    problems: tuple[Problem, ...]
    batches: tuple[tuple[str, ...], ...]
    known: tuple[RegisteredResource, ...]
    """The platform's resources: the tenants program's lookups resolve against them."""


_Outcome = tuple[list[RegisteredResource], list[Lookup]]


def _run_batch(job: _Batches, index: int) -> _Outcome:
    run = MockRun(site=job.stack, as_of=datetime.now(UTC), resources=list(job.known))
    with preloaded(job.site, job.problems, job.batches[index]):
        _record(job.main, project=tenants.PROJECT, stack=job.stack, program="tenants", config=job.config, run=run)
    return run.resources[len(job.known):], run.lookups


def _batch_worker(job: _Batches, index: int, pipe: Connection) -> None:
    # Ctrl-C reaches the whole process group: the parent stops the plan; a worker that took it
    # too would only print its traceback over the parent's message.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()  # the process exits when done: collecting its garbage would be wasted time
    try:
        outcome: _Outcome | None = _run_batch(job, index)
    except Exception:  # the parent runs the batch again, in process, to raise the error
        outcome = None
    pipe.send(outcome)


def _in_workers(job: _Batches) -> list[_Outcome | None]:
    """Each batch in a forked process, as many at a time as this process may use CPUs.

    None for a batch whose worker failed or died, and for the batches not started after that.
    """
    context = multiprocessing.get_context("fork")
    parallel = min(len(os.sched_getaffinity(0)), len(job.batches))
    outcomes: list[_Outcome | None] = [None] * len(job.batches)
    running: dict[Connection, tuple[int, multiprocessing.process.BaseProcess]] = {}
    waiting = list(range(len(job.batches)))
    while waiting or running:
        while waiting and len(running) < parallel:
            index = waiting.pop(0)
            receive, send = context.Pipe(duplex=False)
            worker = context.Process(target=_batch_worker, args=(job, index, send), daemon=True)
            worker.start()
            send.close()
            running[receive] = (index, worker)
        for ready in wait(list(running)):
            assert isinstance(ready, Connection)
            index, done = running.pop(ready)
            with contextlib.suppress(EOFError):
                outcomes[index] = ready.recv()
            ready.close()
            done.join()
            if outcomes[index] is None:
                waiting.clear()
    return outcomes


def _lookup_key(lookup: Lookup) -> str:
    return repr((lookup.token, sorted(lookup.args.items())))


def _merge(job: _Batches, outcomes: Sequence[_Outcome | None], run: MockRun) -> None:
    """Append the batches' resources and lookups to `run`, in batch order.

    What the program declares outside the tenants (its provider) and its lookups are the same
    in every batch: kept once. A batch whose worker failed runs again here, to raise its error.
    """
    shared: set[str] = set()
    looked_up: set[str] = set()
    for index, outcome in enumerate(outcomes):
        records, lookups = outcome if outcome is not None else _run_batch(job, index)
        owned: set[str] = set()
        for record in records:
            if record.type == TENANT_COMPONENT or record.parent in owned:
                owned.add(record.urn)
            elif record.urn in shared:
                continue
            run.resources.append(record)
        shared |= {r.urn for r in records if r.urn not in owned}
        run.lookups.extend(lookup for lookup in lookups if _lookup_key(lookup) not in looked_up)
        looked_up |= {_lookup_key(lookup) for lookup in lookups}


def run_programs(
    inventory: Path | str,
    *,
    now: datetime | None = None,
    programs: Iterable[str] = ("platform", "tenants"),
    lenient: bool = True,
    config: Mapping[str, str] | None = None,
    site: Site | None = None,
    batch: int = TENANT_BATCH,
    tenants: Collection[str] | None = None,
) -> MockRun:
    """Run the programs under mocks, platform first, and return what they registered.

    Args:
        inventory: the site folder (`hatang:inventory`); the stack name is the site's name.
        now: the moment retirement grace periods are measured against (default: now).
        programs: which programs, in order ("platform", "tenants").
        lenient: render an invalid site anyway (site problems become log warnings), so that
            the policy pack can name the resources a problem produces. `pulumi up` is strict.
        config: extra stack config (tests use it to provoke config errors).
        site: the site, if already loaded from `inventory`.
        batch: with more tenants than this, the tenants program runs on batches of this many
            tenants, in forked worker processes (the batches' resources are appended in order).
        tenants: declare only these tenants (codes); validation still sees the whole site.

    Raises:
        HatangError: the site cannot be loaded, or (strict) is invalid.
    """
    site = site if site is not None else load_site(inventory)
    moment = now if now is not None else datetime.now(UTC)
    run = MockRun(site=site.name, as_of=moment)
    values = {"hatang:inventory": str(inventory), "hatang:asOf": moment.isoformat()}
    values.update(config or {})
    problems = tuple(validate_site(site))
    codes = [t.code for t in site.tenants if tenants is None or t.code in tenants]
    with preloaded(site, problems, codes if tenants is not None else None):
        for program in programs:
            project, main = PROGRAMS[program]
            fn = functools.partial(main, lenient=lenient)
            if program != "tenants" or len(codes) <= batch:
                run_under_mocks(fn, project=project, stack=site.name, program=program, config=values, run=run)
                continue
            job = _Batches(
                main=fn, stack=site.name, config=values, site=site, problems=problems,
                batches=tuple(tuple(codes[i:i + batch]) for i in range(0, len(codes), batch)),
                known=tuple(run.resources),
            )
            with gc_paused():
                _merge(job, _in_workers(job), run)
    return run
