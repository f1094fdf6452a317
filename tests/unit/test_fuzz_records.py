"""Fuzzing the site records (issue 11, item 5): generated site files and command arguments.

Valid, mutated and hostile inputs must keep the contract: exit 0 (ok), 1 (findings) or 2 (bad
input), never a traceback, nothing written when a command refuses, `validate` agreeing with what
the writers and `plan` accept, no two live allocations overlapping after any sequence of commands
(concurrent ones included), values in messages cut short, symlinked files never followed.

The properties run a modest number of examples so the module stays under ~90 s on two CI cores;
HATANG_FUZZ_SCALE=10 runs ten times as many. The regression corpus at the end holds the exact cases
of issue 11 (and those the fuzzer found) as plain parametrised tests.
"""

from __future__ import annotations

import ipaddress
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from typer.testing import CliRunner

from infra import _yaml
from infra.cli import app
from infra.ipam import allocate
from infra.ledger import flatten
from infra.schema import SLUG_PATTERN, Text
from infra.site import LEDGER_FILE, SITE_FILES, load_site
from infra.tenants import NewTenant, create_tenant
from infra.validate import RESERVED_PROJECT_NAMES, check_site
from tests.conftest import SAMPLE
from tests.helpers import snapshot

SCALE = max(1, int(os.environ.get("HATANG_FUZZ_SCALE", "1")))
"""Multiplies every property's example count (CI: 1; a nightly or local hunt: 10 or more)."""

EXAMPLES: Counter[str] = Counter()
"""Examples run per property; printed at the end of the module (the figure issue 11 asks for)."""

MAX_LINE = 600
"""No output line may be longer: a message cuts values short instead of echoing them."""

BY = "fuzz@example.org"
RUNNER = CliRunner()
TEXT: TypeAdapter[str] = TypeAdapter(Text)
HATANG = Path(sys.executable).with_name("hatang")
PASSWD = Path("/etc/passwd")
_PASSWD_TEXT = PASSWD.read_text(encoding="utf-8", errors="replace") if PASSWD.is_file() else ""
PASSWD_LINES = [line for line in _PASSWD_TEXT.splitlines() if len(line) > 12][:5]
"""Lines of /etc/passwd that no output may contain (a symlinked site file is never followed)."""

SAMPLE_TENANTS = tuple(sorted(p.stem for p in (SAMPLE / "tenants").glob("*.yml")))
SAMPLE_NAMES = frozenset(load_site(SAMPLE).tenant(code).name for code in SAMPLE_TENANTS)  # type: ignore[union-attr]
LEDGER_CODES = frozenset(e.tenant for e in load_site(SAMPLE).ledger or ())
FILES = (*SITE_FILES, LEDGER_FILE, *(f"tenants/{code}.yml" for code in SAMPLE_TENANTS))


def _settings(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        database=None,  # nothing left in the checkout; a failure prints its example and a reproduce blob
        print_blob=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no explain phase: it reruns a failure many times
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


@pytest.fixture(scope="module", autouse=True)
def _fuzz_summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print how many cases ran, so every CI log shows the fuzzer's size."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and EXAMPLES:
        counts = ", ".join(f"{name} {count}" for name, count in sorted(EXAMPLES.items()))
        with capture.global_and_fixture_disabled():  # past pytest's capture, even with -q
            reporter.write_line(f"\nfuzz cases run: {sum(EXAMPLES.values())} ({counts})")


# --------------------------------------------------------------------------- shared helpers

TRICKY = "\r\n\t\x0b\x0c\x00\x1c\x7f\x81\x85\u2028\u2029\ufeff\ufffe\uffff\u00a0'\"#:&*!|>%@`{}[],?- "
"""Characters YAML treats specially: line breaks, controls, indicators, quotes, blanks."""
TEXTS = st.text(st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(TRICKY)), max_size=30)
"""Arbitrary text, with YAML's special characters far more often than uniform sampling gives."""


@contextmanager
def fresh_site() -> Iterator[Path]:
    """A private copy of the sample site for one example (function fixtures are not reset per example)."""
    with tempfile.TemporaryDirectory(prefix="hatang-fuzz-") as parent:
        root = Path(parent) / "thainguyen"
        shutil.copytree(SAMPLE, root)
        yield root


def hatang(*args: str | Path) -> Result:
    return RUNNER.invoke(app, [str(a) for a in args])


def assert_contract(result: Result, codes: tuple[int, ...] = (0, 1, 2)) -> None:
    """Exit code in `codes`, no traceback, no leaked /etc/passwd, no echoed long value."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"unhandled exception (a user would see a traceback):\n{trace}")
    text = result.stdout + result.stderr
    assert result.exit_code in codes, f"exit {result.exit_code}, expected one of {codes}:\n{text[:3000]}"
    assert "Traceback" not in text, text[:3000]
    assert "root:x:0:0" not in text and not any(line in text for line in PASSWD_LINES), "printed /etc/passwd"
    long = [line for line in text.splitlines() if len(line) > MAX_LINE]
    assert not long, f"{len(long)} output line(s) over {MAX_LINE} chars, e.g. {long[0][:200]!r}…"


def text_of(value: str) -> str | None:
    """`value` as the schema's Text keeps it (stripped), or None when Text refuses it."""
    try:
        return TEXT.validate_python(value)
    except ValidationError:
        return None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def live_allocations(root: Path) -> list[tuple[Network, str, str]]:
    """(prefix, owner, where) of every allocation in the tenant files and in the ledger."""
    site = load_site(root)
    out = [
        (prefix, tenant.code, f"tenants/{tenant.code}.yml")
        for tenant in site.tenants
        if tenant.allocation is not None
        for prefix, _ in flatten(tenant.allocation)
    ]
    out += [(entry.prefix, entry.tenant, f"ledger entry {i}") for i, entry in enumerate(site.ledger or ())]
    return out


def assert_no_shared_addresses(root: Path) -> None:
    """No prefix of one tenant overlaps a prefix of another; every file allocation is in the ledger."""
    allocations = live_allocations(root)
    for i, (net, owner, where) in enumerate(allocations):
        for other, other_owner, other_where in allocations[i + 1 :]:
            if owner != other_owner and net.version == other.version:
                clash = f"{net} ({owner}, {where}) overlaps {other} ({other_owner}, {other_where})"
                assert not net.overlaps(other), clash
    site = load_site(root)
    recorded = {(e.prefix, e.tenant, e.network) for e in site.ledger or ()}
    for tenant in site.tenants:
        for prefix, network in flatten(tenant.allocation) if tenant.allocation else ():
            assert (prefix, tenant.code, network) in recorded, f"{prefix} of {tenant.code} is not in the ledger"


# --------------------------------------------------------------------------- (a) mutated site files

SENTINEL = "fuzzsentinel"
HOSTILE_YAML = (
    "yes", "no", "on", "off", "y", "No", "~", "null", "1:20", "0x1F", "0o17", "1e3", "1_000", ".inf", ".nan",
    '""', "''", "-1", "0", "65536", "99999999999999999999999", "true", "false", "[]", "{}", "[yes]", "{a: 1}",
    "2026-01-01", "12:30:00", "=", "<<", "x" * 2000, f"'{'y' * 2000}'", "!!binary aGk=",
    "!!python/object/apply:os.system ['touch /tmp/hatang-fuzz-pwned']", "!!set {a}", "!foo x", "!!str 3",
    "&anchor x", "*noanchor", "|\n  block", "'unterminated", '"\\uD800"', '"\\x85"', '"\\0"', '"\\e"',
    "[" * 3000 + "]" * 3000, "- a", "? x", "%TAG", "@x", "`x", "# only a comment", "\t", "\ufeff",
    "0.0.0.0/0", "::/0", "10.64.0.0/22", "fdb4:7e10:8000::/64", "10.64.0.0/12", "1e400", "-0", "+1", "1.5",
)
HOSTILE_SCALARS = st.one_of(
    st.sampled_from(HOSTILE_YAML),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    TEXTS,
)
KEY_LINE = re.compile(r"^(\s*(?:- )?)([A-Za-z_][\w-]*):(.*)$")


def _scalars(node: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every scalar in document order."""
    out: list[tuple[Any, Any]] = []
    if isinstance(node, CommentedMap):
        items: Any = node.items()
    elif isinstance(node, CommentedSeq):
        items = enumerate(node)
    else:
        return out
    for key, value in items:
        out += _scalars(value) if isinstance(value, CommentedMap | CommentedSeq) else [(node, key)]
    return out


def _keys(node: Any) -> list[tuple[Any, Any]]:
    """(mapping, key) of every mapping key in document order."""
    out: list[tuple[Any, Any]] = []
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            out += [(node, key), *_keys(value)]
    elif isinstance(node, CommentedSeq):
        for value in node:
            out += _keys(value)
    return out


@dataclass(frozen=True)
class Mutation:
    """One careless or hostile edit of one site file (its repr is the failing example's recipe)."""

    kind: str
    file: str
    index: int = 0
    value: str = ""
    data: bytes = b""

    def apply(self, root: Path) -> None:
        path = root / self.file
        if self.kind in {"symlink-passwd", "directory", "delete"}:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            if self.kind == "symlink-passwd":
                path.symlink_to(PASSWD)
            elif self.kind == "directory":
                path.mkdir()
            return
        if self.kind == "rename-yaml":
            if path.exists() or path.is_symlink():
                path.rename(path.with_suffix(".yaml"))
            return
        if not path.is_file() or path.is_symlink():
            return  # an earlier mutation removed it
        raw = path.read_bytes()
        if self.kind == "empty":
            path.write_bytes(b"")
        elif self.kind == "comment-out":
            path.write_bytes(b"".join(b"# " + line for line in raw.splitlines(keepends=True)))
        elif self.kind == "truncate":
            path.write_bytes(raw[: self.index % (len(raw) + 1)])
        elif self.kind == "insert-bytes":
            at = self.index % (len(raw) + 1)
            path.write_bytes(raw[:at] + self.data + raw[at:])
        elif self.kind == "crlf":
            path.write_bytes(raw.replace(b"\n", b"\r\n"))
        elif self.kind == "bom":
            path.write_bytes(b"\xef\xbb\xbf" + raw)
        elif self.kind == "trailing-tab":  # invisible in review; libyaml and ruamel disagree on some
            lines = raw.splitlines(keepends=True)
            if lines:
                at = self.index % len(lines)
                lines[at] = lines[at].rstrip(b"\r\n") + b"\t" + lines[at][len(lines[at].rstrip(b"\r\n")) :]
                path.write_bytes(b"".join(lines))
        elif self.kind == "duplicate-key":
            lines = raw.decode("utf-8", "replace").splitlines(keepends=True)
            keyed = [i for i, line in enumerate(lines) if KEY_LINE.match(line)]
            if keyed:
                at = keyed[self.index % len(keyed)]
                prefix, key, rest = KEY_LINE.match(lines[at]).groups()  # type: ignore[union-attr]
                lines.insert(at + 1, f"{' ' * len(prefix)}{key}:{rest}\n")
                path.write_text("".join(lines), encoding="utf-8")
        else:
            self._edit_document(path)

    def _edit_document(self, path: Path) -> None:
        """Structural edits through the round-trip reader (a file it cannot read stays as it is)."""
        try:
            document = _yaml.load(path)
        except Exception:  # the mutator is not under test: an unreadable file is left alone
            return
        if self.kind == "delete-key":
            keys = _keys(document)
            if keys:
                mapping, key = keys[self.index % len(keys)]
                del mapping[key]
                path.write_text(_yaml.dump_text(document), encoding="utf-8")
            return
        scalars = _scalars(document)
        if not scalars:
            return
        if self.kind == "scalar":
            container, key = scalars[self.index % len(scalars)]
            container[key] = SENTINEL
            text = _yaml.dump_text(document).replace(SENTINEL, self.value, 1)
        else:  # alias: one scalar anchored, a later one referring to it
            first = self.index % len(scalars)
            second = (first + 1 + len(self.value)) % len(scalars)
            first, second = sorted((first, second))
            for index, mark in ((first, SENTINEL + "a"), (second, SENTINEL + "b")):
                container, key = scalars[index]
                container[key] = mark
            text = _yaml.dump_text(document).replace(SENTINEL + "a", "&fz anchored", 1)
            text = text.replace(SENTINEL + "b", "*fz", 1)
        path.write_text(text, encoding="utf-8")


@st.composite
def mutations(draw: st.DrawFn) -> Mutation:
    kind = draw(
        st.sampled_from(
            [
                "scalar", "scalar", "scalar", "delete-key", "duplicate-key", "alias", "empty", "comment-out",
                "rename-yaml", "symlink-passwd", "truncate", "insert-bytes", "directory", "delete", "trailing-tab",
                "crlf", "bom",
            ]
        )
    )
    file = draw(st.sampled_from(FILES))
    index = draw(st.integers(min_value=0, max_value=100_000))
    value = draw(HOSTILE_SCALARS) if kind in {"scalar", "alias"} else ""
    data = b""
    if kind == "insert-bytes":
        data = draw(
            st.one_of(
                st.binary(min_size=1, max_size=16),
                st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\r", b"\t", b"\xef\xbb\xbf"]),
            )
        )
    return Mutation(kind, file, index, value, data)


@_settings(100)
@given(changes=st.lists(mutations(), min_size=1, max_size=3))
@example(changes=[Mutation("scalar", "tenants/hcc.yml", 5, "yes")])
@example(changes=[Mutation("symlink-passwd", "tenants/hcc.yml")])
@example(changes=[Mutation("scalar", "site.yml", 0, "x" * 2000)])
@example(changes=[Mutation("delete", "tenants/so-tttt.yml")])
def _mutated_site_keeps_contract(changes: list[Mutation]) -> None:
    EXAMPLES["validate-mutated"] += 1
    with fresh_site() as root:
        for change in changes:
            change.apply(root)
        checked = hatang("validate", root)
        assert_contract(checked, (0, 1, 2))  # 1: flows and deployed services disagree in a valid site
        refused = checked.exit_code == 2
        plan = hatang("plan", root, "--format", "json")
        assert_contract(plan, (0, 2))
        assert (plan.exit_code == 2) == refused, f"validate exit {checked.exit_code}, plan {plan.exit_code}"
        before = snapshot(root)
        approve = hatang("tenant", "approve", "-i", root, f"--by={BY}", "--", "phuong-duc-xuan")
        assert_contract(approve, (0, 2))
        if approve.exit_code:
            assert snapshot(root) == before, "a refused approve wrote to the site"
        else:
            assert not refused, f"approve accepted a site validate refused:\n{checked.stderr[:2000]}"
            assert check_site(root) == []
    assert not Path("/tmp/hatang-fuzz-pwned").exists(), "a YAML tag ran a command"


def test_mutated_site_files_keep_the_contract() -> None:
    _mutated_site_keeps_contract()
    assert EXAMPLES["validate-mutated"] > 0


# --------------------------------------------------------------------------- (b) generated arguments

HOSTILE_ARGS = (
    "", " ", "yes", "no", "on", "off", "No", "~", "null", "1:20", "0x1F", "1e3", "-1", "0", "65536", "true",
    "[]", "{}", "x" * 2000, "y" * 256, "a\nb: c", "a\rb", "\x00", "\x1b[31mred", "[bold]x[/bold]", "'", '"', "&a", "*a",
    "!!python/object/apply:os.system ['id']", "# c", "a #b", "-", "--", "--help", "../../etc/passwd",
    "/etc/passwd", "../site", "so-tttt", "admin", "\u2028", "\x85", "\ufeff", "\udcff", "Ủy ban", "A <a@b.cd>",
    "<>", "a <b>", "x <a@b.cd", "app:gov,dmz,internet", "app:bogus", ":", "a:b:c", "٣", "a\x85b", "a\ufffeb",
    "\x0cleading form feed",
)
ARG = st.one_of(st.sampled_from(HOSTILE_ARGS), TEXTS)


def _either(valid: str) -> st.SearchStrategy[str]:
    return st.one_of(st.just(valid), ARG)


VALID_NEW: dict[str, Any] = {
    "code": "so-xd",
    "agency": "so-khcn",
    "name": "Sở Xây dựng",
    "level": "2",
    "profile": "S",
    "contact": ["Nguyễn An <an@example.org>"],
    "network": ["app:gov"],
    "application": [],
    "reason": "new system",
    "by": BY,
}
"""A request `tenant new` accepts; each example makes one to three of its arguments hostile."""


@st.composite
def new_arguments(draw: st.DrawFn) -> dict[str, Any]:
    args = dict(VALID_NEW)
    for key in draw(st.sets(st.sampled_from(sorted(VALID_NEW)), min_size=1, max_size=3)):
        if key in {"contact", "network", "application"}:
            args[key] = draw(st.lists(ARG, min_size=0 if key == "application" else 1, max_size=2))
        else:
            args[key] = draw(ARG)
    return args


def new_argv(root: Path, args: dict[str, Any]) -> list[str | Path]:
    argv: list[str | Path] = ["tenant", "new", "-i", root]
    for key, value in args.items():
        for item in value if isinstance(value, list) else [value]:
            argv.append(f"--{key}={item}")  # '=': a value starting with '-' stays a value
    return argv


def assert_request_reads_back(root: Path, args: dict[str, Any]) -> None:
    """The request written by `tenant new` holds exactly the strings given (after Text's strip)."""
    tenant = load_site(root).tenant(args["code"])
    assert tenant is not None, f"no tenant {args['code']!r} after `tenant new` exited 0"
    assert tenant.name == text_of(args["name"])
    assert tenant.agency == args["agency"] and tenant.quota_profile == args["profile"]
    assert tenant.security_level == int(args["level"])
    assert tenant.history[-1].reason == text_of(args["reason"])
    if args["by"]:
        assert tenant.history[-1].by == text_of(args["by"])
    people = [c.rstrip()[:-1].split("<", 1) for c in args["contact"] if c]
    assert [(c.name, c.email) for c in tenant.contacts] == [(text_of(p.strip()), e.strip()) for p, e in people]
    assert [n.name for n in tenant.networks] == [n.partition(":")[0].strip() for n in args["network"] if n]
    assert list(tenant.applications) == list(args["application"])


@_settings(100)
@given(args=new_arguments())
@example(args={"code": "no", "agency": "so-khcn", "name": "1:20", "level": "2", "profile": "S",
               "contact": ["A <a@b.cd>"], "network": ["on"], "application": [], "reason": "No", "by": BY})
@example(args={"code": "so-xd", "agency": "so-khcn", "name": "Sở Xây dựng", "level": "2", "profile": "S",
               "contact": ["x" * 2000], "network": ["app"], "application": [], "reason": "r", "by": BY})
def _tenant_new_with_any_arguments(args: dict[str, Any]) -> None:
    EXAMPLES["tenant-new-hostile"] += 1
    with fresh_site() as root:
        before = snapshot(root)
        result = hatang(*new_argv(root, args))
        assert_contract(result, (0, 2))
        if result.exit_code:
            assert snapshot(root) == before, "a refused `tenant new` wrote to the site"
            return
        assert check_site(root) == []
        assert_request_reads_back(root, args)


def test_tenant_new_with_any_arguments_keeps_the_contract() -> None:
    _tenant_new_with_any_arguments()
    assert EXAMPLES["tenant-new-hostile"] > 0


FREE_TEXT = TEXTS.filter(lambda s: text_of(s) is not None)
NEW_CODES = st.from_regex(SLUG_PATTERN, fullmatch=True).filter(
    lambda c: len(c) <= 40 and c not in SAMPLE_TENANTS and c not in RESERVED_PROJECT_NAMES and c not in LEDGER_CODES
)


@st.composite
def valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    """Arguments the schema accepts, with arbitrary text where the schema takes free text."""
    name = draw(FREE_TEXT.filter(lambda s: text_of(s) not in SAMPLE_NAMES))
    person = draw(FREE_TEXT.filter(lambda s: "<" not in s and text_of(s.strip()) is not None))
    return {
        "code": draw(NEW_CODES),
        "agency": "so-khcn",
        "name": name,
        "level": draw(st.sampled_from(["1", "2", "3"])),
        "profile": "S",
        "contact": [f"{person} <an@example.org>"],
        "network": [draw(st.sampled_from(["app", "app:gov", "web:dmz", "on", "no", "null"]))],
        "application": [],
        "reason": draw(FREE_TEXT),
        "by": draw(FREE_TEXT),
    }


@_settings(50)
@given(args=valid_requests())
def _valid_request_round_trips(args: dict[str, Any]) -> None:
    EXAMPLES["tenant-new-round-trip"] += 1
    with fresh_site() as root:
        created = hatang(*new_argv(root, args))
        assert_contract(created, (0,))
        assert check_site(root) == []
        assert_request_reads_back(root, args)
        approved = hatang("tenant", "approve", "-i", root, f"--by={args['by']}", f"--reason={args['reason']}",
                          "--", args["code"])
        assert_contract(approved, (0,))
        assert check_site(root) == []
        assert_request_reads_back(root, args)  # approving kept every string as it was


def test_valid_request_reads_back_exactly() -> None:
    _valid_request_round_trips()
    assert EXAMPLES["tenant-new-round-trip"] > 0


@_settings(80)
@given(
    command=st.sampled_from(["approve", "activate", "retire", "show"]),
    code=st.one_of(st.sampled_from(SAMPLE_TENANTS), ARG),
    reason=st.one_of(st.none(), st.just("merged"), ARG),
    by=st.one_of(st.just(BY), ARG),
)
@example(command="show", code="x" * 2000, reason=None, by=BY)
@example(command="approve", code="phuong-duc-xuan", reason="\udcff", by=BY)
def _lifecycle_with_any_arguments(command: str, code: str, reason: str | None, by: str) -> None:
    EXAMPLES["tenant-lifecycle"] += 1
    with fresh_site() as root:
        before = snapshot(root)
        argv: list[str | Path] = ["tenant", command, "-i", root]
        if command != "show":
            argv.append(f"--by={by}")
        if reason is not None and command != "show":
            argv.append(f"--reason={reason}")
        result = hatang(*argv, "--", code)
        assert_contract(result, (0, 2))  # retire without --reason: a usage error, 2
        if result.exit_code or command == "show":
            assert snapshot(root) == before, f"`tenant {command}` wrote to the site"
            return
        assert check_site(root) == []
        tenant = load_site(root).tenant(code)
        assert tenant is not None
        if snapshot(root) != before:  # it changed something: the history says who and why, as given
            default = {"approve": "approved", "activate": "deployed"}.get(command, "")
            assert tenant.history[-1].reason == text_of(reason or default)
            if by:
                assert tenant.history[-1].by == text_of(by)


def test_lifecycle_commands_with_any_arguments_keep_the_contract() -> None:
    _lifecycle_with_any_arguments()
    assert EXAMPLES["tenant-lifecycle"] > 0


# --------------------------------------------------------------------------- (c) sequences of commands

SEQUENCE_CODES = ("phuong-duc-xuan", "phuong-phan-dinh-phung", "so-tc", "so-tttt", "hcc", "no", "on", "null", "so-xd")
STEPS = st.tuples(st.sampled_from(["new", "approve", "approve", "activate", "retire", "add-network"]),
                  st.sampled_from(SEQUENCE_CODES))


def _add_network(root: Path, code: str, name: str) -> None:
    """A reviewer's hand edit: one more network in a request, then `approve` allocates it."""
    path = root / "tenants" / f"{code}.yml"
    if not path.is_file():
        return
    before = path.read_bytes()
    document = _yaml.load(path)
    entry = CommentedMap([("name", name), ("access", CommentedSeq())])
    entry.fa.set_flow_style()
    document["networks"].append(entry)
    path.write_text(_yaml.dump_text(document), encoding="utf-8")
    result = hatang("tenant", "approve", "-i", root, f"--by={BY}", "--", code)
    assert_contract(result, (0, 2))
    if result.exit_code:
        path.write_bytes(before)  # refused (retired tenant, no room left): the reviewer drops the edit


def _run_step(root: Path, step: int, command: str, code: str) -> None:
    before = snapshot(root)
    ledger = (root / LEDGER_FILE).read_text(encoding="utf-8")
    if command == "add-network":
        _add_network(root, code, f"n{step}")
        return
    if command == "new":
        argv: list[str | Path] = new_argv(
            root,
            {"code": code, "agency": "so-khcn", "name": f"Dự án {code} {step}", "level": "2", "profile": "S",
             "contact": ["An <an@example.org>"], "network": ["app:gov"], "reason": "No", "by": BY},
        )
    else:
        argv = ["tenant", command, "-i", root, f"--by={BY}", "--reason=on", "--", code]
    result = hatang(*argv)
    assert_contract(result, (0, 2))
    if result.exit_code:
        assert snapshot(root) == before, f"refused step {step} `{command} {code}` wrote to the site"
    assert (root / LEDGER_FILE).read_text(encoding="utf-8").startswith(ledger), "the ledger is append-only"


@_settings(20)
@given(steps=st.lists(STEPS, min_size=1, max_size=8))
@example(steps=[("approve", "phuong-duc-xuan"), ("approve", "phuong-duc-xuan")])
@example(steps=[("new", "no"), ("approve", "no"), ("retire", "no"), ("new", "no"), ("approve", "phuong-duc-xuan")])
@example(steps=[("approve", "phuong-duc-xuan"), ("add-network", "phuong-duc-xuan"), ("approve", "so-xd")])
def _command_sequences_never_share_addresses(steps: list[tuple[str, str]]) -> None:
    EXAMPLES["command-sequence"] += 1
    with fresh_site() as root:
        owners: dict[Network, str] = {}
        for index, (command, code) in enumerate(steps):
            _run_step(root, index, command, code)
            for prefix, owner, _ in live_allocations(root):
                assert owners.setdefault(prefix, owner) == owner, f"{prefix} moved from {owners[prefix]} to {owner}"
        assert check_site(root) == []
        assert_no_shared_addresses(root)


def test_command_sequences_never_share_addresses() -> None:
    _command_sequences_never_share_addresses()
    assert EXAMPLES["command-sequence"] > 0


# --------------------------------------------------------------------------- (d) concurrent writers


def _requested_site(root: Path, extra: int) -> list[str]:
    """Add `extra` requested tenants to the site; return every requested code."""
    for index in range(extra):
        request = NewTenant(
            code=f"so-race-{index}",
            agency="so-khcn",
            name=f"Dự án chạy đua {index}",
            security_level=2,
            quota_profile="S",
            contacts=({"name": "An", "email": "an@example.org", "role": "requester"},),
            networks=({"name": "app", "access": ["gov"]}, {"name": "web", "access": []}),
        )
        create_tenant(root, request, BY, "race")
    return [t.code for t in load_site(root).tenants if t.state.value == "requested"]


def _run_together(commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    runs = []
    for command, process in zip(commands, processes, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        runs.append(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    return runs


@pytest.mark.parametrize("attempt", range(2))
def test_concurrent_approvals_give_distinct_prefixes(tmp_path: Path, attempt: int) -> None:
    EXAMPLES["concurrent-approve"] += 1
    root = tmp_path / "thainguyen"
    shutil.copytree(SAMPLE, root)
    codes = _requested_site(root, 2)[:4]
    assert len(codes) == 4
    runs = _run_together([[str(HATANG), "tenant", "approve", code, "-i", str(root), "--by", BY] for code in codes])
    for run in runs:
        assert run.returncode == 0 and "Traceback" not in run.stderr, f"{run.args}: {run.returncode}\n{run.stderr}"
    site = load_site(root)
    prefixes = [site.tenant(code).allocation.ipv4 for code in codes]  # type: ignore[union-attr]
    assert len(set(prefixes)) == len(codes), f"two approvals got the same prefix: {prefixes}"
    assert check_site(root) == []
    assert_no_shared_addresses(root)
    assert not [p.name for p in root.rglob("*.tmp")], "a writer left a temporary file"


def test_concurrent_approvals_of_one_tenant_allocate_once(tmp_path: Path) -> None:
    EXAMPLES["concurrent-approve"] += 1
    root = tmp_path / "thainguyen"
    shutil.copytree(SAMPLE, root)
    runs = _run_together(
        [[str(HATANG), "tenant", "approve", "phuong-duc-xuan", "-i", str(root), "--by", BY] for _ in range(3)]
    )
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stderr for r in runs]
    assert sum("(no change)" not in r.stdout for r in runs) == 1, [r.stdout for r in runs]
    assert check_site(root) == []
    assert_no_shared_addresses(root)


# --------------------------------------------------------------------------- regression corpus (issue 11)


def _replace(file: str, old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {file}"
        path.write_text(text.replace(old, new, count), encoding="utf-8")

    return change


def _write(file: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / file).write_text(text, encoding="utf-8")


def _comment_out(file: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / file
        path.write_text("".join(f"# {line}" for line in path.read_text(encoding="utf-8").splitlines(True)))

    return change


def _rename(old: str, new: str) -> Callable[[Path], None]:
    return lambda root: (root / old).rename(root / new)


def _symlink_passwd(file: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        (root / file).unlink()
        (root / file).symlink_to(PASSWD)

    return change


def _tenants_is_a_file(root: Path) -> None:
    shutil.rmtree(root / "tenants")
    (root / "tenants").write_text("code: so-tttt\n", encoding="utf-8")


def _replace_by_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)
"""The billion laughs in under 1 KB: 9^9 strings once expanded."""

F = r"\(fix: [^()]*(\([^()]*\)[^()]*)*\)"
"""The end of a located message: `(fix: ...)`, brackets inside allowed."""

CORPUS: list[tuple[str, Callable[[Path], None], str]] = [
    # (id, edit of the sample site, a stderr line `validate` must print, after "thainguyen/")
    (
        "duplicate-key-in-tenant-file",
        _replace("tenants/hcc.yml", "agency: ttpvhcc\n", "agency: ttpvhcc\nagency: so-tttt\n"),
        rf"tenants/hcc\.yml:5: (agency: )?duplicate key 'agency' \(first at line 4\).* {F}",
    ),
    (
        "security-level-yes",
        _replace("tenants/hcc.yml", "security_level: 3", "security_level: yes"),
        rf"tenants/hcc\.yml:6: security_level: .*'yes'.* {F}",
    ),
    (
        "flow-ports-yes",
        _replace("flows.yml", "ports: [22]", "ports: [yes]"),
        rf"flows\.yml:8: flows\.0\.ports\.0: .*'yes'.* {F}",
    ),
    (
        "port-range-from-0",
        _replace("flows.yml", "ports: [22]", "ports: ['0-100']"),
        rf"flows\.yml:8: flows\.0\.ports\.0: .* {F}",
    ),
    ("alias-bomb", _write("zones.yml", BOMB), rf"zones\.yml:\d+: .*anchor and alias.* {F}"),
    ("alias-bomb-in-tenant", _write("tenants/hcc.yml", BOMB), rf"tenants/hcc\.yml:\d+: .*anchor and alias.* {F}"),
    ("empty-pools", _write("pools.yml", ""), rf"pools\.yml: the file is empty \(or only comments\) {F}"),
    ("comment-only-zones", _comment_out("zones.yml"), rf"zones\.yml: the file is empty \(or only comments\) {F}"),
    (
        "tenant-file-named-yaml",
        _rename("tenants/hcc.yml", "tenants/hcc.yaml"),
        r"tenants/hcc\.yaml: is not a tenant request file .*\(fix: rename it to hcc\.yml\b.*\)",
    ),
    ("emptied-tenant-file", _write("tenants/hcc.yml", ""), rf"tenants/hcc\.yml: the file is empty.* {F}"),
    (
        "deleted-retired-tenant-file",
        lambda root: (root / "tenants" / "so-tttt.yml").unlink(),
        rf"ledger\.yml:5: allocations\.0: 10\.64\.0\.0/22 is recorded for tenant 'so-tttt', whose file "
        rf"tenants/so-tttt\.yml is missing {F}",
    ),
    (
        "tenant-file-symlink-to-passwd",
        _symlink_passwd("tenants/hcc.yml"),
        rf"tenants/hcc\.yml: is a symbolic link; site files are never followed {F}",
    ),
    ("site-file-symlink-to-passwd", _symlink_passwd("zones.yml"), rf"zones\.yml: is a symbolic link.* {F}"),
    ("tenants-is-a-file", _tenants_is_a_file, rf"tenants: is not a folder {F}"),
    ("ledger-is-a-folder", lambda root: _replace_by_folder(root / LEDGER_FILE), rf"ledger\.yml: .+ {F}"),
    (
        "tenant-file-is-a-folder",
        lambda root: _replace_by_folder(root / "tenants" / "hcc.yml"),
        rf"tenants/hcc\.yml: .+ {F}",
    ),
    (
        "invalid-utf8",
        lambda root: (root / "tenants" / "hcc.yml").write_bytes(b"code: hcc\nname: \xff\xfe\n"),
        rf"tenants/hcc\.yml:2: is not UTF-8 text.* {F}",
    ),
]


@pytest.mark.parametrize(("change", "line"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_corpus_is_refused_with_a_located_message(
    site_copy: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[Path], None], line: str
) -> None:
    monkeypatch.chdir(site_copy.parent)
    change(site_copy)
    started = time.monotonic()
    result = hatang("validate", "thainguyen")
    assert time.monotonic() - started < 10
    assert_contract(result, (2,))
    lines = result.stderr.splitlines()
    assert any(re.fullmatch(f"thainguyen/{line}", text) for text in lines), result.stderr
    assert "nothing was changed" in result.stderr
    # the writers refuse the same site (and write nothing), plan agrees with validate
    before = snapshot(site_copy)
    approve = hatang("tenant", "approve", "phuong-duc-xuan", "-i", "thainguyen", "--by", BY)
    assert_contract(approve, (2,))
    assert snapshot(site_copy) == before
    assert_contract(hatang("plan", "thainguyen"), (2,))


def test_corpus_alias_bomb_is_cheap(tmp_path: Path) -> None:
    """1 KB of nested aliases: refused in a process limited to 1 GiB of memory, within seconds."""
    root = tmp_path / "thainguyen"
    shutil.copytree(SAMPLE, root)
    (root / "tenants" / "hcc.yml").write_text(BOMB, encoding="utf-8")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    started = time.monotonic()
    run = subprocess.run([str(HATANG), "validate", str(root)], capture_output=True, text=True, timeout=60,
                         preexec_fn=limit, check=False)
    assert time.monotonic() - started < 20
    assert run.returncode == 2, run.stderr
    assert "anchor and alias" in run.stderr and "MemoryError" not in run.stderr


def test_corpus_emptied_tenant_file_frees_no_address(site_copy: Path) -> None:
    held = [e.prefix for e in load_site(site_copy).ledger or () if e.tenant == "hcc"]
    (site_copy / "tenants" / "hcc.yml").write_text("", encoding="utf-8")
    before = snapshot(site_copy)
    result = hatang("tenant", "approve", "phuong-duc-xuan", "-i", site_copy, "--by", BY)
    assert_contract(result, (2,))
    assert snapshot(site_copy) == before
    # and once the file is gone altogether, allocation still steers clear of what the ledger holds
    (site_copy / "tenants" / "hcc.yml").unlink()
    site = load_site(site_copy)
    allocation = allocate(site, site.tenant("phuong-duc-xuan"))  # type: ignore[arg-type]
    given_out = [prefix for prefix, _ in flatten(allocation)]
    assert held and not any(a.overlaps(b) for a in given_out for b in held if a.version == b.version)


def test_corpus_ten_megabyte_name_keeps_stderr_small(site_copy: Path) -> None:
    path = site_copy / "tenants" / "hcc.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"\nname: [^\n]*", "\nname: " + "x" * 10_000_000, text, count=1), encoding="utf-8")
    result = hatang("validate", site_copy)
    assert_contract(result, (2,))
    assert len(result.stderr) < 2000, len(result.stderr)
    assert re.search(r"tenants/hcc\.yml:5: name: String should have at most 255 characters \(got 'x{10,80}…\)",
                     result.stderr), result.stderr


def test_corpus_ambiguous_words_written_by_tenant_new_read_back(site_copy: Path) -> None:
    """`tenant new --reason No --code no --network on --name 1:20`, then every command still works."""
    args = {"code": "no", "agency": "so-khcn", "name": "1:20", "level": "2", "profile": "S",
            "contact": ["An <an@example.org>"], "network": ["on"], "application": [], "reason": "No", "by": "off"}
    assert_contract(hatang(*new_argv(site_copy, args)), (0,))
    assert_request_reads_back(site_copy, args)
    for argv in (
        ["validate", site_copy],
        ["plan", site_copy],
        ["tenant", "list", "-i", site_copy],
        ["tenant", "show", "no", "-i", site_copy],
        ["tenant", "approve", "no", "-i", site_copy, "--by", "yes"],
        ["tenant", "activate", "no", "-i", site_copy, "--by", "~", "--reason", "null"],
        ["tenant", "retire", "no", "-i", site_copy, "--by", "0x1F", "--reason", "1e3"],
        ["validate", site_copy],
    ):
        assert_contract(hatang(*argv), (0,))
    history = load_site(site_copy).tenant("no").history  # type: ignore[union-attr]
    assert [(h.by, h.reason) for h in history] == [("off", "No"), ("yes", "approved"), ("~", "null"), ("0x1F", "1e3")]
    assert check_site(site_copy) == []


def test_corpus_plan_resources_on_cross_file_error_exits_2(site_copy: Path) -> None:
    _replace("tenants/hcc.yml", "agency: ttpvhcc", "agency: nobody")(site_copy)
    result = hatang("plan", "--resources", site_copy)
    assert_contract(result, (2,))
    assert "tenants/hcc.yml:4: agency: unknown agency 'nobody'" in result.stderr


# --------------------------------------------------------------------------- corpus: found by the fuzzer


def test_found_non_utf8_argument_is_refused_without_traceback(tmp_path: Path) -> None:
    """A byte that is not UTF-8 on the command line (a Latin-1 terminal) is bad input, not a crash."""
    root = tmp_path / "thainguyen"
    shutil.copytree(SAMPLE, root)
    before = snapshot(root)
    argv = [os.fsencode(HATANG), b"tenant", b"new", b"-i", os.fsencode(root), b"--code", b"so-xd", b"--agency",
            b"so-khcn", b"--name", b"S\xf4 X\xe2y d\xf9ng", b"--level", b"2", b"--profile", b"S", b"--contact",
            b"An <an@example.org>", b"--network", b"app", b"--by", BY.encode()]
    run = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    stderr = run.stderr.decode("utf-8", "replace")
    assert run.returncode == 2 and "Traceback" not in stderr, stderr[-2000:]
    assert snapshot(root) == before


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("name", "Sở\rXây dựng"),  # the header comment `# Tenant request of <name>.` broke on these
        ("name", "Sở\x85Xây dựng"),
        ("name", "Sở\u2028Xây dựng"),
        ("name", "Sở\x0bXây dựng"),
        ("name", "Sở\ufffeXây dựng"),  # printable to the schema, not to YAML: valid, yet refused
        ("reason", "Đề nghị\x85cấp dự án"),  # NEL written raw in single quotes read back as a space: exit 0
        ("by", "an\x85@example.org"),
        ("contact", ["Nguyễn\x85An <an@example.org>"]),
    ],
)
def test_found_text_is_kept_exactly_or_refused_by_its_field(site_copy: Path, key: str, value: Any) -> None:
    """Text the schema accepts is written so that it reads back exactly; text it refuses is refused
    naming the field. Never exit 0 with another value on disk, never a YAML error about a file the
    user did not write."""
    args = {**VALID_NEW, key: value}
    text = value[0].split("<")[0].strip() if key == "contact" else value
    before = snapshot(site_copy)
    result = hatang(*new_argv(site_copy, args))
    if text_of(text) is None:
        assert_contract(result, (2,))
        assert snapshot(site_copy) == before
        field = {"contact": "contacts.0.name", "by": "history.0.by", "reason": "history.0.reason"}.get(key, key)
        assert f": {field}: " in result.stderr or f"--{key}" in result.stderr, result.stderr
    else:
        assert_contract(result, (0,))
        assert check_site(site_copy) == []
        assert_request_reads_back(site_copy, args)


def test_found_surrogate_in_an_argument_is_refused_without_traceback(site_copy: Path) -> None:
    """What Python makes of a non-UTF-8 byte in argv (surrogateescape), passed in-process."""
    before = snapshot(site_copy)
    result = hatang(*new_argv(site_copy, {**VALID_NEW, "name": "Sở X\udcf4y dựng"}))
    assert_contract(result, (2,))
    assert snapshot(site_copy) == before


def test_found_trailing_tab_validate_and_approve_agree(site_copy: Path) -> None:
    """`state: requested<TAB>`: libyaml (validate) accepts it, ruamel (the editor) raised YamlSyntaxError."""
    _replace("tenants/phuong-duc-xuan.yml", "state: requested\n", "state: requested\t\n")(site_copy)
    checked = hatang("validate", site_copy)
    assert_contract(checked, (0, 2))
    before = snapshot(site_copy)
    approved = hatang("tenant", "approve", "phuong-duc-xuan", "-i", site_copy, "--by", BY)
    assert_contract(approved, (0, 2))
    assert approved.exit_code == checked.exit_code, approved.stderr
    if approved.exit_code:
        assert snapshot(site_copy) == before


@pytest.mark.parametrize("by", [" ", "y" * 256], ids=["blank", "256-chars"])
@pytest.mark.parametrize("command", ["approve", "activate"])
def test_found_invalid_by_is_refused_without_traceback(site_copy: Path, command: str, by: str) -> None:
    """`--by ' '` or 256 characters: approve built a LedgerEntry with it and raised pydantic's ValidationError."""
    code = {"approve": "phuong-duc-xuan", "activate": "so-tc"}[command]
    before = snapshot(site_copy)
    result = hatang("tenant", command, code, "-i", site_copy, "--by", by)
    assert_contract(result, (2,))
    assert snapshot(site_copy) == before


def test_found_overlong_code_is_not_echoed(site_copy: Path) -> None:
    """`tenant new --code <2000 chars>` printed the whole code in the path of the message (2,278 chars)."""
    result = hatang(*new_argv(site_copy, {**VALID_NEW, "code": "x" * 2000}))
    assert_contract(result, (2,))


def test_found_huge_retire_grace_days_is_refused_not_crashing(site_copy: Path) -> None:
    """`retire_grace_days: 99999999999` passed validate and crashed `plan --resources` (OverflowError)."""
    _replace("site.yml", "target_date:", "retire_grace_days: 99999999999\ntarget_date:")(site_copy)
    checked = hatang("validate", site_copy)
    planned = hatang("plan", "--resources", site_copy)
    assert_contract(planned, (0, 1, 2))
    assert_contract(checked, (2,))
    assert planned.exit_code == 2
