"""The fast paths of reading a site give exactly what the plain serial reader gives, errors included.

Two fast paths, each proven against the path it short-cuts:
- `infra._strictyaml` builds the common YAML (text keys, core scalars) without PyYAML's generic
  constructor and leaves everything else — every error included — to it;
- `infra.site` forks a helper (`infra._parallel.Helper`) that reads part of many files; the site,
  the problems and their order must not depend on which process read which file, on whether the
  helper died on the way, and it must leave no process behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml as pyyaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.synthetic import generate
from infra import _parallel, _parsecache, _strictyaml, _yaml, site
from infra._parallel import Helper, can_fork
from infra._parsecache import CACHE_DIR, CACHE_FILE
from infra._strictyaml import SiteFileError, loads_strict, loads_strict_plain
from infra.errors import InventoryError, Problem
from infra.site import LEDGER_FILE, Site, load_site
from infra.tenants import approve_tenant
from tests.helpers import snapshot

TENANTS = 240
"""Enough files for the helper to be worth forking (site.PARALLEL_MIN_FILES is 200)."""

# --------------------------------------------------------------------------- the strict reader


def _outcome(read: Callable[[str], Any], text: str) -> tuple[str, Any]:
    """What reading `text` gives, comparable across readers: the data's repr (types and order
    visible, nan equal to nan), or the error's message, hint and line."""
    try:
        return "data", repr(read(text))
    except SiteFileError as exc:
        return "error", (str(exc), exc.hint, exc.line)


def _is_plain(data: Any) -> bool:
    if isinstance(data, dict):
        return all(type(k) is str and _is_plain(v) for k, v in data.items())
    if isinstance(data, list):
        return all(_is_plain(v) for v in data)
    return data is None or type(data) in (str, int, float, bool)


def _assert_same_as_constructor(text: str) -> None:
    """The fast reader agrees with PyYAML's strict constructor on `text`, and says plain truly."""
    assert _outcome(loads_strict, text) == _outcome(_strictyaml._construct, text)
    try:
        data, plain = loads_strict_plain(text)
    except SiteFileError:
        return
    if plain:
        assert _is_plain(data)
        assert repr(_yaml.plain(data)) == repr(data)


CORPUS = [
    "",
    "# only a comment\n",
    "a: 1\n",
    "a: 1\nb: 2\na: 3\n",
    "top:\n  x: 1\n  y: [1]\n  x: 2\n",
    "a: &v 1\nb: *v\n",
    "a: &v [1, 2]\nb: 3\n",  # an anchor without an alias
    "a: '*not an alias*'\n",
    "a: !!python/object:os.system x\n",
    "a: !!binary aGk=\n",
    "a: !!timestamp 2026-01-01\n",
    "a: 2026-01-01\nb: 1:20\nc: yes\nd: no\ne: on\nf: ~\ng: null\nh: ''\n",
    "a: [012, 0o17, 0x1F, 1_000, -3, +4, 0b11]\n",
    "a: [1.5, .5, 1e3, -.inf, .Inf, .nan, .NaN, 1., +1.5e-3]\n",
    "a: [true, True, TRUE, false, FALSE, tRUE, y, n]\n",
    "1: x\n'1': y\n",
    "1: x\n1: y\n",
    "true: x\nfalse: y\n",
    "~: x\n",
    ": x\n",
    "[1, 2]: x\n",
    "{a: 1}: x\n",
    "? [1]\n: 2\n",
    "<<: {a: 1}\nb: 2\n",
    "a: !!str 1\nb: !!str true\n",
    "a: !!int '0x1F'\nb: !!float 1\n",
    "a: !!int x\n",
    "a: !!int 1_000\n",
    "a: !!bool yes\n",
    "a: !!bool maybe\n",
    "a: !!float x\n",
    "a: !!null foo\n",
    "a: !!null [1]\n",
    "a: !!str\n  b: 1\n",
    "a: !!map [1]\n",
    "a: !!seq {b: 1}\n",
    "a: !custom x\n",
    "--- 1\n--- 2\n",
    "a: [unclosed\n",
    "a: b: c\n",
    "\ta: 1\n",
    "a: 1\t\n",
    "a: " + "[" * 70 + "]" * 70 + "\n",  # deeper than the fast builder goes: the constructor decides
    "a: " + "[" * 5000 + "]" * 5000 + "\n",
    "a: " + "{b: " * 70 + "1" + "}" * 70 + "\n",
    "- a\n- b: [1, {c: d}]\n",
    "just text\n",
    "'quoted 12'\n",
    "a: |\n  line one\n  line two\n",
    "a: >-\n  folded\n  text\n",
    "a: 'x'\n  b: 1\n",
    'a: "\\u00e9\\t"\n',
]


@pytest.mark.parametrize("text", CORPUS)
def test_fast_reader_agrees_with_the_constructor(text: str) -> None:
    _assert_same_as_constructor(text)


KEYS = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["1", "true", "no", "~", "null", "1:20", "0x1F", "2026-01-01", "a", "b"]),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
)
SCALARS = st.one_of(
    st.text(max_size=8),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.sampled_from(["yes", "No", "on", "1_000", "012", "0o17", ".inf", "1e3", "~", "", "*x", "&y", "!!int"]),
)
DATA = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=20
)
EDITS = st.lists(
    st.tuples(
        st.integers(0, 10_000),
        st.sampled_from(
            [
                "dup",
                "delete",
                "!!int ",
                "!!str ",
                "!!bool ",
                "!!float ",
                "!!null ",
                "!!binary ",
                "&a ",
                "*a",
                "\t",
                ": ",
                "- ",
                "[",
                "'",
                "yes",
                "0x1F",
            ]
        ),
    ),
    max_size=3,
)


def _mutate(text: str, edits: list[tuple[int, str]]) -> str:
    """Hand edits: a line written twice, a character removed, or a fragment inserted."""
    for where, edit in edits:
        lines = text.splitlines(keepends=True)
        if edit == "dup" and lines:
            index = where % len(lines)
            lines.insert(index + 1 + where % 2, lines[index])
            text = "".join(lines)
        elif edit == "delete" and text:
            index = where % len(text)
            text = text[:index] + text[index + 1 :]
        else:
            index = where % (len(text) + 1)
            text = text[:index] + edit + text[index:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, DATA, min_size=1, max_size=5) | DATA, st.booleans(), EDITS)
def test_fast_reader_agrees_with_the_constructor_on_generated_yaml(
    data: Any, flow: bool, edits: list[tuple[int, str]]
) -> None:
    text = pyyaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    _assert_same_as_constructor(_mutate(text, edits))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12), st.booleans(), st.booleans())
def test_core_resolver_resolves_as_pyyaml_does(value: str, plain: bool, quoted: bool) -> None:
    resolver = _strictyaml._CoreResolver()
    base = pyyaml.resolver.BaseResolver.resolve
    for kind in (pyyaml.ScalarNode, pyyaml.SequenceNode, pyyaml.MappingNode):
        expected = base(resolver, kind, value, (plain, quoted))  # type: ignore[no-untyped-call]
        assert resolver.resolve(kind, value, (plain, quoted)) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: 1\nb: !!int x\n", "'x' is not a YAML 1.2 integer"),
        ("a: 1\nb: !!int 1_000\n", "'1_000' is not a YAML 1.2 integer"),
        ("a: 1\nb: !!bool yes\n", "'yes' is not a YAML 1.2 boolean"),
        ("a: 1\nb: !!bool maybe\n", "'maybe' is not a YAML 1.2 boolean"),
        ("a: 1\nb: !!float x\n", "'x' is not a YAML 1.2 number"),
        ("a: 1\nb: !!null foo\n", "'foo' is not a YAML 1.2 null"),
    ],
)
def test_explicit_tag_outside_the_core_schema_is_located_not_a_crash(text: str, fragment: str) -> None:
    """These were a ValueError or KeyError traceback (or YAML 1.1's `yes`) before."""
    with pytest.raises(SiteFileError) as caught:
        loads_strict(text)
    assert fragment in str(caught.value)
    assert caught.value.line == 2
    assert "without the tag" in caught.value.hint


def test_explicit_tags_inside_the_core_schema_still_read() -> None:
    assert loads_strict("a: !!str 12\nb: !!int '0x1F'\nc: !!float 1\nd: !!bool 'true'\ne: !!null ''\n") == {
        "a": "12",
        "b": 31,
        "c": 1.0,
        "d": True,
        "e": None,
    }


# --------------------------------------------------------------------------- the helper process


class RecordedHelper(Helper[Any, Any]):
    """The helper, remembering its child's process id (to prove it reaped)."""

    def __enter__(self) -> RecordedHelper:
        super().__enter__()
        self.child_pid = self.pid
        return self


class EagerHelper(RecordedHelper):
    """A helper the caller waits for before it starts: every result it sends is then taken from it
    (the natural helper meets the caller wherever the machine's load puts them)."""

    started: ClassVar[list[EagerHelper]] = []

    def __enter__(self) -> EagerHelper:
        super().__enter__()
        EagerHelper.started.append(self)
        if self._fd is not None:
            os.set_blocking(self._fd, True)
            self._drain()  # until the child has exited (end of file)
        return self


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EagerHelper]]:
    """load_site forks an EagerHelper for any number of files; yields the helpers it started."""
    monkeypatch.setattr(site, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(_parallel, "can_fork", lambda: True)
    monkeypatch.setattr(_parallel, "Helper", EagerHelper)
    EagerHelper.started = []
    yield EagerHelper.started
    for helper in EagerHelper.started:
        _assert_reaped(helper)


def _assert_reaped(helper: RecordedHelper) -> None:
    """The helper's child is gone and reaped: no zombie is left behind."""
    assert helper.pid is None
    assert helper.child_pid is not None
    if helper.reaper is not None:  # it was still dying when the reader was done
        helper.reaper.join(timeout=60)
    with pytest.raises(ChildProcessError):
        os.waitpid(helper.child_pid, os.WNOHANG)


@pytest.fixture
def natural(monkeypatch: pytest.MonkeyPatch) -> None:
    """load_site forks the real helper for any number of files, also on a one-CPU runner."""
    monkeypatch.setattr(site, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(_parallel, "can_fork", lambda: True)


@pytest.fixture
def big_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid site of TENANTS tenants (benchmarks/synthetic.py), read without the cache."""
    monkeypatch.setenv("HATANG_NO_CACHE", "1")
    root = generate(TENANTS, tmp_path / "big")
    shutil.rmtree(root / CACHE_DIR, ignore_errors=True)
    (root / ".hatang.lock").unlink(missing_ok=True)
    return root


def _serially(root: Path) -> Site | list[Problem]:
    """The site (or its problems, in the order found) as the reader gives it without a helper."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(site, "PARALLEL_MIN_FILES", 10**9)
        patch.setattr(_parallel, "Helper", _Forbidden)
        return _load(root)


class _Found(InventoryError):
    """InventoryError sorts its problems; this keeps them in the order the reader found them too."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.found = list(problems)


def _load(root: Path) -> Site | list[Problem]:
    """The site, or its problems in the order the reader found them (before InventoryError sorts them)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(site, "InventoryError", _Found)
        try:
            return load_site(root)
        except _Found as exc:
            return exc.found


class _Forbidden:
    def __init__(self, *args: Any) -> None:
        raise AssertionError("a helper was forked")


def _tenant(root: Path, index: int) -> Path:
    return root / "tenants" / f"agency-{index:05d}.yml"


def test_helper_reads_a_valid_site_exactly_as_the_serial_reader(
    big_site: Path, eager: list[EagerHelper], monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = _serially(big_site)
    assert isinstance(serial, Site) and len(serial.tenants) == TENANTS
    checked_ahead: list[str] = []
    real = site._Reader.check_ahead

    def spy(reader: Any) -> None:
        real(reader)
        checked_ahead.extend(name for name, _ in reader.early)

    monkeypatch.setattr(site._Reader, "check_ahead", spy)
    helped = _load(big_site)
    assert helped == serial
    assert isinstance(helped, Site)
    assert [t.code for t in helped.tenants] == [t.code for t in serial.tenants]
    assert helped.tenant_files == serial.tenant_files
    (helper,) = eager
    assert helper.received == TENANTS + 3  # every tenant file, agencies.yml, applications.yml, ledger.yml
    # the large files it read first were checked while this process was still on the tenant files
    assert set(checked_ahead) == {"agencies.yml", "applications.yml", LEDGER_FILE}


def test_helper_meeting_the_reader_anywhere_gives_the_same_site(big_site: Path, natural: None) -> None:
    serial = _serially(big_site)
    for _ in range(3):
        assert _load(big_site) == serial


def _break_files(root: Path) -> None:
    """A hostile file among many: each way a record can be refused, in the files the helper reads."""
    tenants = root / "tenants"
    with _tenant(root, 10).open("a", encoding="utf-8") as stream:
        stream.write("state: active\n")  # a key written twice
    with _tenant(root, 50).open("a", encoding="utf-8") as stream:
        stream.write("extra: &a [1]\nmore: *a\n")  # an alias
    _tenant(root, 100).unlink()
    _tenant(root, 100).symlink_to(_tenant(root, 101))  # a symbolic link
    _tenant(root, 150).write_text("# emptied\n", encoding="utf-8")
    _tenant(root, 200).write_bytes(b"code: agency-00200\nname: \xff\xfe\n")  # not UTF-8
    text = _tenant(root, 210).read_text(encoding="utf-8")
    _tenant(root, 210).write_text(re.sub(r"security_level: (\d)", r"security_level: '\1'", text), encoding="utf-8")
    text = _tenant(root, 220).read_text(encoding="utf-8")
    _tenant(root, 220).write_text(re.sub(r"security_level: \d", "security_level: !!int x", text), encoding="utf-8")
    with _tenant(root, 230).open("a", encoding="utf-8") as stream:
        stream.write("1: a number as a key\n")  # not the fast builder's case: the constructor reads it
    text = _tenant(root, 235).read_text(encoding="utf-8")
    _tenant(root, 235).write_text(text.replace("code: agency-00235", "code: agency-99999"), encoding="utf-8")
    (tenants / "notes.txt").write_text("not a request\n", encoding="utf-8")
    with (root / "applications.yml").open("a", encoding="utf-8") as stream:
        stream.write("applications: []\n")  # a top-level key written twice
    entry_end = '    by: "b@example.org"\n'
    ledger = (root / LEDGER_FILE).read_text(encoding="utf-8")
    (root / LEDGER_FILE).write_text(ledger.replace(entry_end, entry_end + '    by: "x"\n', 1), encoding="utf-8")


HOSTILE = [
    ("agency-00010.yml", "duplicate key 'state'"),
    ("agency-00050.yml", "anchor and alias"),
    ("agency-00100.yml", "is a symbolic link"),
    ("agency-00150.yml", "the file is empty"),
    ("agency-00200.yml", "is not UTF-8 text"),
    ("agency-00210.yml", "Input should be a valid integer"),
    ("agency-00220.yml", "'x' is not a YAML 1.2 integer"),
    ("agency-00230.yml", "Extra inputs are not permitted"),
    ("agency-00235.yml", "differs from the file name"),
    ("notes.txt", "is not a tenant request file"),
    ("applications.yml", "duplicate key 'applications'"),
    ("ledger.yml", "duplicate key 'by'"),
]


def _assert_hostile_found(problems: list[Problem]) -> None:
    for name, fragment in HOSTILE:
        assert any(p.file.endswith(name) and fragment in p.message for p in problems), (name, fragment)


def test_hostile_files_among_many_give_the_same_problems_from_the_helper(
    big_site: Path, eager: list[EagerHelper]
) -> None:
    _break_files(big_site)
    serial = _serially(big_site)
    assert isinstance(serial, list)
    _assert_hostile_found(serial)
    assert all(p.line for p in serial if p.file.endswith(("00010.yml", "00050.yml", "00220.yml", "ledger.yml")))
    helped = _load(big_site)
    assert helped == serial  # the same problems, lines, hints, in the same order
    assert isinstance(helped, list) and str(InventoryError(helped)) == str(InventoryError(serial))
    (helper,) = eager
    assert helper.received == TENANTS + 3  # the helper read every hostile file itself


def test_hostile_files_with_a_natural_helper_give_the_same_problems(big_site: Path, natural: None) -> None:
    _break_files(big_site)
    serial = _serially(big_site)
    for _ in range(3):
        assert _load(big_site) == serial


def _dies_after(count: int, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper's process ends abruptly after `count` files (killed, or an unexpected error)."""
    parent, real = os.getpid(), site._run
    done = [0]

    def run(job: Any) -> Any:
        if os.getpid() != parent:
            if done[0] == count:
                if how == "killed":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise RuntimeError("a bug in the helper")
            done[0] += 1
        return real(job)

    monkeypatch.setattr(site, "_run", run)


@pytest.mark.parametrize("how", ["killed", "error"])
@pytest.mark.parametrize("count", [0, 1, 57])
def test_helper_that_dies_leaves_the_rest_to_the_reader(
    big_site: Path, eager: list[EagerHelper], monkeypatch: pytest.MonkeyPatch, how: str, count: int
) -> None:
    _break_files(big_site)
    serial = _serially(big_site)
    _dies_after(count, how, monkeypatch)
    assert _load(big_site) == serial
    (helper,) = eager
    # What it sent before it stopped was used, the reader did the rest. A killed helper may die
    # with its last results still unsent (it never waits for a full pipe while it has work).
    if how == "error":
        assert helper.received == count
    else:
        assert helper.received <= count


def test_helper_results_are_cached_as_serial_reads_are(
    big_site: Path, eager: list[EagerHelper], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HATANG_NO_CACHE")
    monkeypatch.setattr(_parsecache, "SETTLED_NS", 50_000_000)
    serial_copy = big_site.parent / "serial"
    shutil.copytree(big_site, serial_copy)
    time.sleep(0.1)  # both copies settled: every successful read is stored
    _serially(serial_copy)
    helped = _load(big_site)

    def entries(root: Path) -> dict[str, str]:
        body = (root / CACHE_DIR / CACHE_FILE).read_bytes().partition(b"\n")[2]
        return {key: text for key, (_, text) in json.loads(body)["entries"].items()}

    assert entries(big_site) == entries(serial_copy)
    assert len(entries(big_site)) == TENANTS + 11  # every section of every file
    assert len(eager) == 1 and eager[0].received == TENANTS + 3
    assert _load(big_site) == helped  # warm: nothing left to read, so no helper
    assert len(eager) == 1


REQUEST = """code: new-one
agency: agency-00000
name: Yêu cầu mới
security_level: 2
quota_profile: S
contacts: [{name: A, email: a@example.org, role: requester}]
networks: [{name: app, access: [gov]}, {name: db}]
state: requested
history: [{state: requested, at: '2026-12-01T09:00:00+07:00', by: a@example.org, reason: new}]
"""


def test_approval_with_the_helper_writes_what_the_serial_approval_writes(
    big_site: Path, eager: list[EagerHelper], monkeypatch: pytest.MonkeyPatch
) -> None:
    (big_site / "tenants" / "new-one.yml").write_text(REQUEST, encoding="utf-8")
    serial_copy = big_site.parent / "serial"
    shutil.copytree(big_site, serial_copy)
    at = datetime(2026, 12, 2, 9, tzinfo=timezone(timedelta(hours=7)))
    with monkeypatch.context() as patch:
        patch.setattr(site, "PARALLEL_MIN_FILES", 10**9)
        serial = approve_tenant(serial_copy, "new-one", "b@example.org", at=at)
    helped = approve_tenant(big_site, "new-one", "b@example.org", at=at)
    assert helped.changed and helped.summary == serial.summary
    assert snapshot(big_site) == snapshot(serial_copy)
    assert len(eager) == 1 and eager[0].received > TENANTS


def test_small_site_is_read_without_forking(site_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parallel, "Helper", _Forbidden)
    monkeypatch.setattr(_parallel, "can_fork", lambda: True)
    assert len(load_site(site_copy).tenants) < site.PARALLEL_MIN_FILES


def test_fork_only_when_safe_and_a_core_is_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (0.9, 3.0, 3.0))
    monkeypatch.setattr(_parallel, "_os_threads", lambda: 1)
    assert can_fork()  # one thread, two CPUs, one of them mostly idle
    monkeypatch.setattr(_parallel, "_os_threads", lambda: 2)
    assert not can_fork()  # a thread of a C library (gRPC in a Pulumi program)
    monkeypatch.setattr(_parallel, "_os_threads", lambda: 1)
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert not can_fork()  # a second thread: never fork
    finally:
        release.set()
        thread.join()
    monkeypatch.setattr(os, "getloadavg", lambda: (1.6, 0.5, 0.5))
    assert not can_fork()  # busy: less than half a core idle, the helper would only compete
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert not can_fork()  # one usable CPU (taskset, cgroup)


def _square(n: int) -> int:
    return n * n


def test_helper_results_are_the_work_of_the_same_function() -> None:
    items = list(range(50))
    with EagerHelper(items, _square) as helper:
        results = [helper.get(i) for i in items]
    assert results == [n * n for n in items]
    assert helper.received == 50
    _assert_reaped(helper)


def test_helper_stops_once_the_caller_meets_it() -> None:
    items = list(range(20))
    with EagerHelper(items, _square) as helper:
        assert helper.get(5) == 25  # the first result taken: the two have met
        assert helper.pid is not None  # killed, reaped when the block ends
        assert [helper.get(i) for i in range(6, 20)] == [i * i for i in range(6, 20)]
    _assert_reaped(helper)


def test_helper_never_runs_the_callers_cleanup(tmp_path: Path) -> None:
    """The child ends with os._exit: an exception in it never unwinds into the caller's code
    (which could release the caller's lock or write the caller's files)."""
    marker = tmp_path / "cleanup"

    def work(n: int) -> int:
        raise SystemExit(3)

    try:
        with EagerHelper(list(range(5)), work) as helper:
            assert helper.get(4) is None
    finally:
        with marker.open("a", encoding="utf-8") as stream:
            stream.write(f"{os.getpid()}\n")
    assert marker.read_text(encoding="utf-8").split() == [str(os.getpid())]


def test_child_still_dying_is_reaped_by_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A killed child that has not died yet (a busy machine) never keeps the caller waiting."""
    real = os.waitpid

    def not_yet(pid: int, options: int) -> tuple[int, int]:
        return (0, 0) if options & os.WNOHANG else real(pid, options)

    monkeypatch.setattr(os, "waitpid", not_yet)
    with EagerHelper(list(range(5)), _square) as helper:
        assert helper.get(0) == 0
    assert helper.reaper is not None
    helper.reaper.join(timeout=60)
    assert not helper.reaper.is_alive()
    monkeypatch.undo()
    _assert_reaped(helper)


def test_helper_keeps_no_descriptor_of_the_caller(tmp_path: Path) -> None:
    """A site lock (flock, released when its descriptor is closed) is free as soon as the caller
    closes it, even while its helper still runs."""
    lock, started = tmp_path / "lock", tmp_path / "started"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)

    def work(n: int) -> int:
        started.touch()
        time.sleep(30)
        return n

    with Helper([0], work) as helper:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started.exists() and helper.pid is not None
        os.close(fd)
        other = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if the child held the lock
        finally:
            os.close(other)
    assert helper.pid is None


def _slow(n: int) -> int:
    time.sleep(0.05)
    return n


def test_interrupted_caller_stops_and_reaps_its_helper() -> None:
    """Ctrl-C (or any exception) in the caller while the helper still works: it is killed and reaped."""
    with pytest.raises(KeyboardInterrupt), RecordedHelper(list(range(1000)), _slow) as helper:
        assert helper.pid is not None
        raise KeyboardInterrupt
    _assert_reaped(helper)
