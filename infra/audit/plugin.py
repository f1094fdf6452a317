"""pytest plugin behind the host checks: options, the `check` fixture, and result recording.

Loaded with `-p infra.audit.plugin`, so an auditor can run the packaged checks
(`infra.audit.hosts`) with plain pytest as well as through `hatang audit hosts`:

    pytest -p infra.audit.plugin --pyargs infra.audit.hosts --hosts=podman://NAME \\
        --hatang-site inventories/<site> --hatang-host <host> [--hatang-profile old-level3]

`hatang-podman://NAME` and `hatang-ssh://HOST` (`infra.audit._shell`) reach the same hosts over
one shell kept open for all the checks, as `hatang audit hosts` does (a level-3 audit runs 68
commands: one `podman exec` or SSH session instead of 68); testinfra's `podman://` and `ssh://`
work as well.

Each check is one function `test_<check id>(host, check)`; it calls `check.expect(observed,
expected, ok)` (records both sides, fails when not ok) or `check.not_checkable(reason)` when the
host cannot show the state (a container has no auditd, no kernel.* sysctls). Outcomes: pass,
fail (the expectation did not hold), error (the check itself broke), not_checkable.

A Molecule verifier imports this module in its conftest, overrides `hatang_host_facts` with its
scenario's values, and runs checks from a test parametrized with `check_id` (the `check` fixture
is that check's): the role is verified by the audit's own checks and the catalogue's parameters.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest
import testinfra.backend

from infra.audit import _shell
from infra.audit._facts import HostFacts, host_facts
from infra.audit._model import Outcome
from infra.catalogue import Catalogue, Scope, load_catalogue
from infra.site import load_site

__all__ = [
    "NOT_CHECKABLE_PREFIX",
    "Check",
    "CheckFailed",
    "check",
    "hatang_host_facts",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
]

testinfra.backend.BACKENDS.update(_shell.BACKENDS)  # hatang-podman://, hatang-ssh:// (one shell per host)

NOT_CHECKABLE_PREFIX = "not checkable on this host: "

_STATE = pytest.StashKey[dict[str, Any]]()


class CheckFailed(AssertionError):
    """The observed state differs from the expected state."""


class Check:
    """What one check function needs: its id, thresholds, the host's expected facts."""

    def __init__(
        self,
        check_id: str,
        params: Mapping[str, Any],
        facts: HostFacts,
        node: pytest.Item,
        host: Any,
    ) -> None:
        self.id = check_id
        self.params = params
        self.facts = facts
        self._node = node
        self._host = host

    @property
    def in_container(self) -> bool:
        """Whether the host is a container (its kernel belongs to another machine)."""
        cache: dict[str, bool] = self._node.config.stash[_STATE].setdefault("container", {})
        key = str(self._host.backend.get_hostname())
        if key not in cache:
            result = self._host.run("systemd-detect-virt --container")
            cache[key] = result.rc == 0 and result.stdout.strip() not in {"", "none"}
        return cache[key]

    def _record(self, observed: Any, expected: Any) -> None:
        self._node.user_properties.append(("observed", _jsonable(observed)))
        self._node.user_properties.append(("expected", _jsonable(expected)))

    def expect(self, observed: Any, expected: Any, ok: bool | None = None) -> None:
        """Record both sides; fail unless `ok` (default: observed == expected)."""
        self._record(observed, expected)
        if ok is None:
            ok = observed == expected
        if not ok:
            raise CheckFailed(f"observed {observed!r}, expected {expected!r}")

    def not_checkable(self, reason: str, observed: Any = None, expected: Any = None) -> NoReturn:
        """Stop: the state cannot be seen on this host. Never counted as passed."""
        self._record(observed, expected)
        pytest.skip(NOT_CHECKABLE_PREFIX + reason)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        if isinstance(value, set | frozenset | tuple):
            return [_jsonable(v) for v in sorted(value, key=str)]
        if isinstance(value, Mapping):
            return {str(k): _jsonable(v) for k, v in value.items()}
        return str(value)


def check_id_of(item: pytest.Item) -> str:
    """The check an item runs: its `check_id` parameter (a verifier running several), else its name."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "check_id" in callspec.params:
        return str(callspec.params["check_id"])
    name = getattr(item, "originalname", None) or item.name
    return name.removeprefix("test_")


# --------------------------------------------------------------------------- hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hatang", "hatang host compliance checks")
    group.addoption("--hatang-site", help="Site folder (inventories/<site>): the expected values.")
    group.addoption("--hatang-host", help="Name of the audited host in the site model.")
    group.addoption("--hatang-profile", help="Run only the checks of this profile's host controls.")
    group.addoption("--hatang-checks", help="Comma-separated check ids to run (default: all).")
    group.addoption("--hatang-catalogue", help="Catalogue folder (default: the packaged one).")
    group.addoption("--hatang-results", help="Write the check results to this JSON file.")
    group.addoption(
        "--hatang-lab-apt-mirror",
        help="Test hosts only: the lab's Debian mirror, expected instead of the site's apt_mirror.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE] = {"results": {}, "container": {}}


def _catalogue(config: pytest.Config) -> Catalogue:
    state = config.stash[_STATE]
    if "catalogue" not in state:
        folder = config.getoption("--hatang-catalogue")
        state["catalogue"] = load_catalogue(folder) if folder else load_catalogue()
    catalogue: Catalogue = state["catalogue"]
    return catalogue


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted: set[str] | None = None
    if config.getoption("--hatang-checks"):
        wanted = {c.strip() for c in config.getoption("--hatang-checks").split(",") if c.strip()}
    elif config.getoption("--hatang-profile"):
        profile = _catalogue(config).profile(config.getoption("--hatang-profile"))
        wanted = {cid for c in profile.controls_in(Scope.HOST) for cid in c.checks}
    if wanted is None:
        return
    keep = [i for i in items if check_id_of(i) in wanted]
    dropped = [i for i in items if check_id_of(i) not in wanted]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


@pytest.fixture(scope="session")
def hatang_host_facts(pytestconfig: pytest.Config) -> HostFacts:
    site_dir = pytestconfig.getoption("--hatang-site")
    name = pytestconfig.getoption("--hatang-host")
    if not site_dir or not name:
        pytest.fail("give --hatang-site inventories/<site> and --hatang-host <host>", pytrace=False)
    facts = host_facts(load_site(Path(site_dir)), name)
    lab_mirror = pytestconfig.getoption("--hatang-lab-apt-mirror")
    return replace(facts, apt_mirror=lab_mirror) if lab_mirror else facts


@pytest.fixture
def check(request: pytest.FixtureRequest, host: Any, hatang_host_facts: HostFacts) -> Check:
    """The running check: its id, its control's parameters, the host's expected facts."""
    check_id = check_id_of(request.node)
    control = _catalogue(request.config).control_of_check(check_id)
    params = control.parameters if control is not None else {}
    return Check(check_id, params, hatang_host_facts, request.node, host)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    results: dict[str, dict[str, Any]] = item.config.stash[_STATE]["results"]
    check_id = check_id_of(item)
    outcome: Outcome | None = None
    message = ""
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if report.passed:
            outcome = Outcome.PASS
        elif report.skipped:
            outcome = Outcome.NOT_CHECKABLE
            longrepr = report.longrepr
            message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            message = message.removeprefix("Skipped: ").removeprefix(NOT_CHECKABLE_PREFIX)
        elif call.excinfo is not None and call.excinfo.errisinstance(CheckFailed):
            outcome = Outcome.FAIL
            message = str(call.excinfo.value)
        else:
            outcome = Outcome.ERROR
            message = (
                f"{call.excinfo.typename}: {call.excinfo.value}" if call.excinfo is not None else str(report.longrepr)
            )
    if outcome is not None:
        props = dict(item.user_properties)
        results[check_id] = {
            "check_id": check_id,
            "result": outcome.value,
            "observed": props.get("observed"),
            "expected": props.get("expected"),
            "message": message[:2000],
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration": report.duration,
        }
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = session.config.getoption("--hatang-results")
    if not target:
        return
    results = session.config.stash[_STATE]["results"]
    Path(target).write_text(
        json.dumps({"finished": time.time(), "checks": list(results.values())}, indent=2),
        encoding="utf-8",
    )
