"""The mock run of a large site: the tenants program on batches of tenants, in worker processes."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from typing import Any

import pytest

from infra.site import load_site
from infra.stacks import mockrun
from infra.stacks._program import ProgramConfigError, preloaded
from infra.stacks.mockrun import MockRun, RegisteredResource, run_programs, run_under_mocks
from infra.validate import validate_site
from tests.conftest import AIO, SAMPLE
from tests.pulumi.conftest import NOW


def _as_text(resource: RegisteredResource) -> str:
    """A resource as comparable text; the SDK lists dependencies in no fixed order."""
    data = resource.as_dict()
    data["dependencies"] = sorted(data["dependencies"])
    data["propertyDependencies"] = {k: sorted(v) for k, v in data["propertyDependencies"].items()}
    return json.dumps(data, sort_keys=True)


def test_batched_run_registers_what_one_run_registers(tn_run: MockRun) -> None:
    batched = run_programs(SAMPLE, now=NOW, lenient=False, batch=3)
    assert Counter(map(_as_text, batched.resources)) == Counter(map(_as_text, tn_run.resources))
    assert batched.duplicates() == []


def test_batched_run_keeps_registration_order_of_dependencies() -> None:
    run = run_programs(SAMPLE, now=NOW, lenient=False, batch=2)
    seen: set[str] = set()
    for r in run.resources:
        for dep in (*r.dependencies, *(u for urns in r.property_dependencies.values() for u in urns)):
            assert dep in seen, f"{r.urn} registered before its dependency {dep}"
        seen.add(r.urn)


def test_batched_run_does_each_lookup_once(tn_run: MockRun) -> None:
    run = run_programs(SAMPLE, now=NOW, lenient=False, batch=2)

    def key(run: MockRun) -> list[str]:
        return sorted(json.dumps([x.token, x.args, x.result], sort_keys=True) for x in run.lookups)

    assert key(run) == key(tn_run)


def test_batched_run_raises_the_error_of_a_failed_batch() -> None:
    with pytest.raises(ProgramConfigError, match="hatang:asOf 'yesterday' is not an ISO date-time"):
        run_programs(SAMPLE, programs=("tenants",), lenient=False, config={"hatang:asOf": "yesterday"}, batch=2)


def test_batch_workers_leave_ctrl_c_to_the_parent(
    tn_run: MockRun, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A SIGINT in a worker (Ctrl-C reaches the whole process group) neither kills the batch nor
    prints a traceback: the parent alone decides to stop."""
    run_batch = mockrun._run_batch
    parent = os.getpid()

    def interrupted(job: Any, index: int) -> Any:
        if os.getpid() != parent:  # in a worker only: the test process must not be interrupted
            os.kill(os.getpid(), signal.SIGINT)
        return run_batch(job, index)

    monkeypatch.setattr(mockrun, "_run_batch", interrupted)
    batched = run_programs(SAMPLE, now=NOW, lenient=False, batch=3)
    assert Counter(map(_as_text, batched.resources)) == Counter(map(_as_text, tn_run.resources))
    assert "KeyboardInterrupt" not in capfd.readouterr().err


def test_preloaded_site_is_ignored_for_another_inventory() -> None:
    from infra.stacks import tenants

    sample = load_site(SAMPLE)
    with preloaded(sample, validate_site(sample), tenants=()):
        run = run_under_mocks(tenants.main, project="hatang-tenants", stack="aio",
                              config={"hatang:inventory": str(AIO), "hatang:asOf": NOW.isoformat()})
    components = sorted(r.name for r in run.resources if r.type == "hatang:tenants:AgencyTenant")
    assert components == ["so-khcn", "so-yte"]


def test_dependencies_are_listed_in_a_stable_order(tn_run: MockRun) -> None:
    for r in tn_run.resources:
        assert list(r.dependencies) == sorted(r.dependencies), r.urn
        for key, urns in r.property_dependencies.items():
            assert list(urns) == sorted(urns), f"{r.urn} {key}"
