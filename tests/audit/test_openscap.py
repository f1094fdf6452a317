"""CIS Level 1 - Server, measured by OpenSCAP from Debian's packages, on a hardened test host.

One test host (the role-test lab copied as `oscap`, on 10.193.0.0/16 and fd99:a5::/32, beside
the lab and the other copies) gets Debian's scanner (openscap-scanner, ssg-debderived,
ssg-debian; and linux-base, which every real host has); `oscap xccdf eval` runs inside it
before and after playbooks/hardening.yml.
Every rule still failing (or not checked) afterwards must be a row of docs/cis-openscap.md's
table, with its category; a row whose rule now passes fails too, so the table stays current.

Debian's scap-security-guide 0.1.76 (trixie) has no Debian 13 content and no CIS profile for
Debian; its only CIS Level 1 - Server profiles are the Ubuntu ones in ssg-debderived. We run
the Ubuntu 24.04 one (the nearest CIS benchmark: Debian's own CIS benchmark derives from
Ubuntu's) and tell oscap, through an extra CPE dictionary, that this Debian 13 host is the
content's platform; without it every rule is "notapplicable". docs/cis-openscap.md says more.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import testhosts
from infra.site import Site
from tests.audit.test_hardening_proof import HOST, lab_copy, playbook
from tests.conftest import REPO

pytestmark = pytest.mark.hosts

DOC = REPO / "docs" / "cis-openscap.md"
# linux-base: SSG's marker of "a system with a kernel" (platform system_with_kernel, on the ssh,
# services, cron, logging, accounts... groups). Every real Debian host has it (each linux-image
# depends on it); a container image has none, and without it ~150 of the profile's rules are
# "notapplicable" instead of evaluated.
PACKAGES = ("openscap-scanner", "ssg-debderived", "ssg-debian", "linux-base")
CONTENT = "/usr/share/xml/scap/ssg/content"
WORK = "/root/oscap"
PROFILE_PREFIX = "xccdf_org.ssgproject.content_profile_"
RULE_PREFIX = "xccdf_org.ssgproject.content_rule_"
XCCDF = "{http://checklists.nist.gov/xccdf/1.2}"

# (datastream, profile, CPE name of the content's platform)
CIS = ("ssg-ubuntu2404-ds.xml", "cis_level1_server", "cpe:/o:canonical:ubuntu_linux:24.04::~~lts~~~")
ANSSI = ("ssg-debian12-ds.xml", "anssi_bp28_intermediary", "cpe:/o:debian:debian_linux:12")

CATEGORIES = {"container", "role", "waived", "todo"}
# Results that need a row in the table; "notapplicable" and "notselected" need none.
LISTED = {"fail", "error", "unknown", "notchecked"}

SHIM_OVAL = """<?xml version="1.0" encoding="utf-8"?>
<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5"
    xmlns:oval="http://oval.mitre.org/XMLSchema/oval-common-5"
    xmlns:ind="http://oval.mitre.org/XMLSchema/oval-definitions-5#independent">
  <generator><oval:schema_version>5.11.2</oval:schema_version>
    <oval:timestamp>2026-12-03T00:00:00</oval:timestamp></generator>
  <definitions>
    <definition id="oval:hatang.debian13:def:1" version="1" class="inventory">
      <metadata><title>Debian 13</title><description>/etc/debian_version is 13.x</description></metadata>
      <criteria><criterion test_ref="oval:hatang.debian13:tst:1"/></criteria>
    </definition>
  </definitions>
  <tests>
    <ind:textfilecontent54_test id="oval:hatang.debian13:tst:1" version="1" check="all"
        check_existence="at_least_one_exists" comment="Debian 13">
      <ind:object object_ref="oval:hatang.debian13:obj:1"/>
    </ind:textfilecontent54_test>
  </tests>
  <objects>
    <ind:textfilecontent54_object id="oval:hatang.debian13:obj:1" version="1">
      <ind:filepath>/etc/debian_version</ind:filepath>
      <ind:pattern operation="pattern match">^13\\.[0-9]+$</ind:pattern>
      <ind:instance datatype="int">1</ind:instance>
    </ind:textfilecontent54_object>
  </objects>
</oval_definitions>
"""


def shim_dictionary(cpe: str) -> str:
    """A CPE dictionary that maps the content's platform `cpe` to "this host is Debian 13"."""
    return f"""<?xml version="1.0"?>
<cpe-list xmlns="http://cpe.mitre.org/dictionary/2.0">
  <cpe-item name="{cpe}">
    <title xml:lang="en-us">Debian 13, evaluated with this content</title>
    <check system="http://oval.mitre.org/XMLSchema/oval-definitions-5"
        href="debian13-cpe-oval.xml">oval:hatang.debian13:def:1</check>
  </cpe-item>
</cpe-list>
"""


def _shim_path(scan: tuple[str, str, str]) -> str:
    return f"{WORK}/cpe-{scan[1]}.xml"


def _write(container: str, path: str, text: str) -> None:
    argv = ["podman", "exec", "-i", container, "sh", "-c", f"cat > {path}"]
    subprocess.run(argv, input=text, text=True, capture_output=True, check=True)


def install_scanner(container: str) -> None:
    """Install Debian's scanner, its content and linux-base in the host, and the CPE shims."""
    script = (
        "export DEBIAN_FRONTEND=noninteractive; "
        f"apt-get install -y --no-install-recommends {' '.join(PACKAGES)} >/tmp/oscap-apt.log 2>&1 "
        "|| { apt-get update >/dev/null 2>&1 && "
        f"apt-get install -y --no-install-recommends {' '.join(PACKAGES)} >/tmp/oscap-apt.log 2>&1; }}; "
        f"rc=$?; mkdir -p {WORK}; tail -5 /tmp/oscap-apt.log; exit $rc"
    )
    done = subprocess.run(
        ["podman", "exec", container, "sh", "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _write(container, f"{WORK}/debian13-cpe-oval.xml", SHIM_OVAL)
    for scan in (CIS, ANSSI):
        _write(container, _shim_path(scan), shim_dictionary(scan[2]))


def oscap_argv(scan: tuple[str, str, str], arf: str) -> list[str]:
    """`oscap xccdf eval` of one profile, results as ARF in `arf` (run it in WORK: `podman exec -w`)."""
    datastream, profile, _ = scan
    return [
        "oscap",
        "xccdf",
        "eval",
        "--cpe",
        _shim_path(scan),
        "--profile",
        PROFILE_PREFIX + profile,
        "--results-arf",
        arf,
        f"{CONTENT}/{datastream}",
    ]


def scan(container: str, what: tuple[str, str, str], name: str) -> dict[str, str]:
    """Run one profile in the host: rule id (without its prefix) -> result."""
    arf = f"{WORK}/{name}.xml"
    done = subprocess.run(
        ["podman", "exec", "-w", WORK, container, *oscap_argv(what, arf)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    # 0: all passed, 2: some rule failed; anything else is the scanner failing.
    assert done.returncode in (0, 2), done.stdout[-2000:] + done.stderr[-2000:]
    text = subprocess.run(["podman", "exec", container, "cat", arf], capture_output=True, check=True).stdout
    return parse_arf(text)


def parse_arf(arf: bytes) -> dict[str, str]:
    """Rule results of an ARF (or XCCDF results) document: rule id -> pass/fail/notapplicable/..."""
    found: dict[str, str] = {}
    for result in ET.fromstring(arf).iter(f"{XCCDF}rule-result"):
        outcome = result.find(f"{XCCDF}result")
        assert outcome is not None and outcome.text
        found[result.get("idref", "").removeprefix(RULE_PREFIX)] = outcome.text
    return found


def table(doc: Path = DOC) -> dict[str, tuple[str, str]]:
    """docs/cis-openscap.md's table: rule -> (result, category). Rows: | `rule` | result | category | why |"""
    rows: dict[str, tuple[str, str]] = {}
    for line in doc.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\|\s*`([a-z0-9_-]+)`\s*\|\s*(\w+)\s*\|\s*(\w+)\s*\|", line)
        if match:
            rule, result, category = match.groups()
            assert rule not in rows, f"{doc.name}: rule {rule} listed twice"
            rows[rule] = (result, category)
    return rows


def counts(results: dict[str, str]) -> Counter[str]:
    return Counter(r for r in results.values() if r != "notselected")


@pytest.fixture(scope="module")
def oscap_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return lab_copy(tmp_path_factory.mktemp("oscap"), "oscap", "10.193.", "fd99:a5:")


@pytest.fixture(scope="module")
def host(oscap_site: Site) -> Iterator[str]:
    testhosts.ensure_image()
    testhosts.up(oscap_site, limit=HOST)
    try:
        yield testhosts.container_name(oscap_site.name, HOST)
    finally:
        testhosts.down(oscap_site.name)


@pytest.fixture(scope="module")
def results(oscap_site: Site, host: str) -> dict[str, dict[str, str]]:
    """CIS results before and after the playbook, ANSSI-BP-028 intermediary after."""
    install_scanner(host)
    before = scan(host, CIS, "cis-before")
    done = playbook(oscap_site)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    after = scan(host, CIS, "cis-after")
    anssi = scan(host, ANSSI, "anssi-after")
    for name, found in (("CIS L1 server, before", before), ("CIS L1 server, after", after), ("ANSSI", anssi)):
        print(f"{name}: {dict(sorted(counts(found).items()))}")
    return {"before": before, "after": after, "anssi": anssi}


def test_table_rows_are_well_formed() -> None:
    rows = table()
    assert rows, f"no rows in {DOC.name}'s table"
    bad = {rule: row for rule, row in rows.items() if row[0] not in LISTED or row[1] not in CATEGORIES}
    allowed = f"results one of {sorted(LISTED)}, categories one of {sorted(CATEGORIES)}"
    assert not bad, f"{DOC.name}: {allowed}: {bad}"


def test_scanner_evaluated_rules(results: dict[str, dict[str, str]]) -> None:
    for name in ("before", "after", "anssi"):
        found = counts(results[name])
        assert found["pass"] + found["fail"] >= 50, f"{name}: the scanner decided too few rules: {dict(found)}"


def test_hardening_reduces_failures(results: dict[str, dict[str, str]]) -> None:
    before = {r for r, o in results["before"].items() if o == "fail"}
    after = {r for r, o in results["after"].items() if o == "fail"}
    # A rule the playbook itself makes fail must be a `todo` row (the role should not break CIS).
    rows = table()
    made = {r: rows.get(r, ("", "unlisted"))[1] for r in sorted(after - before)}
    print(f"fixed by the playbook: {len(before - after)}; made to fail by it: {made}")
    assert len(after) < len(before), f"{len(before)} failures before hardening, {len(after)} after"
    assert all(category == "todo" for category in made.values()), f"the playbook made these fail: {made}"


def test_every_remaining_failure_is_in_the_table(results: dict[str, dict[str, str]]) -> None:
    rows = table()
    unlisted = {r: o for r, o in results["after"].items() if o in LISTED and rows.get(r, ("", ""))[0] != o}
    assert not unlisted, f"add these to {DOC.name}'s table (result as shown): {unlisted}"


def test_no_listed_rule_now_passes(results: dict[str, dict[str, str]]) -> None:
    after = results["after"]
    stale = {r: after.get(r, "absent") for r in table() if after.get(r) not in LISTED}
    assert not stale, f"remove these rows from {DOC.name}'s table (now): {stale}"
