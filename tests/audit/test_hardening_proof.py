"""The proof of issue 4: audit fails un-hardened, passes after the playbook, and fails again on
every control we break on the hardened host.

One test host (a controller of a copy of the role-test lab site, moved to its own address
ranges) is started with `hatang testhosts`; playbooks/hardening.yml (baseline + firewall) is
applied through the site inventory; `run_audit` is the engine behind `hatang audit hosts`.
Breaking applies the first violating variant of every control (infra/catalogue/violations/host,
never a kernel-wide setting) at once; one audit then shows each broken control failing, one test
per control. Every variant, evasions included, is proven on its own by test_host_violations.py.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import testhosts
from infra.audit import AuditResult, Connection, Outcome, run_audit, targets
from infra.catalogue import HostVariant, Scope, load_catalogue, load_host_violations
from infra.site import Site
from infra.validate import load_valid_site
from tests.conftest import REPO

pytestmark = pytest.mark.hosts

LAB = REPO / "tests" / "roles" / "network" / "lab"
HOST = "ctl01"
PROFILE = "new-level3"
PLAYBOOK = REPO / "playbooks" / "hardening.yml"

# Each control's first violating variant (infra/catalogue/violations/host/<id>.yml): a shell
# script that breaks it on a hardened Debian 13 host. Only net.* sysctls are written live (they
# belong to the container's network namespace); kernel.* only in files. All the other variants,
# evasions included, are proven one round at a time by test_host_violations.py.
# HT-AUDIT-01 (auditd running) and HT-FILE-04 (the temporary folders' mounts) need a VM and are
# "not checkable" in a container, so they cannot be shown to fail here; HT-FILE-04's variants
# cannot even be applied in one (mount is refused).
NEEDS_VM = {"HT-AUDIT-01", "HT-FILE-04"}
FIRST: dict[str, HostVariant] = {
    c: v.variants[0] for c, v in load_host_violations().items() if not (c in NEEDS_VM and v.variants[0].needs_vm)
}
ONLY_A_VM_SHOWS = frozenset(
    {"HT-AUDIT-01", "HT-AUDIT-02", "HT-AUDIT-03", "HT-AUDIT-04", "HT-NET-07", "HT-KMOD-01", "HT-FILE-04"}
)
"""What a hardened container leaves "not checkable": auditd, the loaded audit rules, live kernel.*
sysctls, the loaded kernel modules, the temporary folders' mounts (tests/vm/test_vm_host.py shows them
on a VM)."""


# A user the hardened host lists in cron.allow can still use crontab(1) (setgid crontab, it reads
# cron.allow as that group): HT-FILE-02 restricts cron, it must not lock out those it lists.
CRONTAB_BY_A_LISTED_USER = """
set -e
useradd -M -s /usr/sbin/nologin cron-proof
cp -p /etc/cron.allow /root/cron.allow.kept
echo cron-proof >> /etc/cron.allow
runuser -u cron-proof -- crontab -l 2>&1 || true
cp -p /root/cron.allow.kept /etc/cron.allow
userdel cron-proof
"""


def _automated_host_controls() -> list[str]:
    profile = load_catalogue().profile(PROFILE)
    return sorted(c.id for c in profile.controls_in(Scope.HOST) if c.status.value == "automated")


def lab_copy(parent: Path, name: str, ipv4: str, ipv6: str) -> Site:
    """The lab site renamed `name`, its 10.199. and fd99:ab: ranges moved to `ipv4` and `ipv6`
    (e.g. "10.197." and "fd99:ad:"), so that it runs beside the lab and the other copies."""
    root = parent / name
    shutil.copytree(LAB, root)
    for path in root.rglob("*.yml"):
        text = path.read_text(encoding="utf-8").replace("10.199.", ipv4).replace("fd99:ab:", ipv6)
        path.write_text(re.sub(r"^name: lab$", f"name: {name}", text, flags=re.M), encoding="utf-8")
    return load_valid_site(root)


INVENTORY_IMPORTS = (
    "import sys, infra.ansible_inventory; print(*sorted(m.__file__ for n, m in sys.modules.items()"
    " if n.partition('.')[0] == 'infra' and getattr(m, '__file__', None)), sep='\\n')"
)


def inventory_code() -> list[Path]:
    """The project's code a hardened state depends on besides the roles and playbooks: the modules
    the inventory plugin imports (listed by importing it in a fresh interpreter) and the service
    catalogue's data. The audit, the CLI and the labs do not change what the playbooks do, so
    editing them keeps a cached hardened state (a VM's takes minutes to rebuild)."""
    listed = subprocess.run([sys.executable, "-c", INVENTORY_IMPORTS], cwd=REPO, capture_output=True, text=True,
                            check=True)  # fmt: skip
    modules = {Path(line) for line in listed.stdout.splitlines()}
    assert modules and all(path.is_relative_to(REPO / "infra") for path in modules), listed.stdout
    return sorted(modules | {path for path in (REPO / "infra" / "services").rglob("*") if path.is_file()})


def hardening_digest(site: Site, code: list[Path], seed: str = "") -> str:
    """12 hex digits naming a hardened state kept between runs: `seed` (the base image), ansible.cfg,
    the `code` it depends on (the inventory plugin's modules), the hardening roles and playbooks,
    the inventory plugin and the site."""
    digest = hashlib.sha256(seed.encode())
    paths = [REPO / "ansible.cfg", *code]
    for folder in ("roles/baseline", "roles/firewall", "playbooks", "plugins"):
        paths += sorted((REPO / folder).rglob("*"))
    paths += sorted(site.root.rglob("*"))
    for path in paths:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(site.root if path.is_relative_to(site.root) else REPO)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


SITE_MIRROR = "http://mirror.dc.proof.example/debian"
"""The proof site's own Debian mirror, as a real site's: out of the test hosts' reach."""


@pytest.fixture(scope="module")
def proof_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The lab site renamed `proof`, on 10.194.0.0/16 and fd99:a6::/32 so it runs beside the lab and the
    cluster lab (10.197.0.0/16, on the other worker), with a mirror of its own that only the lab's
    override (`testhosts.LAB_APT_MIRROR`) gets past."""
    site = lab_copy(tmp_path_factory.mktemp("proof"), "proof", "10.194.", "fd99:a6:")
    path = site.root / "site.yml"
    text = path.read_text(encoding="utf-8")
    assert "apt_mirror: http://deb.debian.org/debian" in text
    path.write_text(text.replace("apt_mirror: http://deb.debian.org/debian", f"apt_mirror: {SITE_MIRROR}"),
                    encoding="utf-8")
    return load_valid_site(site.root)


@pytest.fixture(scope="module")
def host(proof_site: Site) -> Iterator[str]:
    testhosts.ensure_image()
    testhosts.up(proof_site, limit=HOST)
    try:
        yield testhosts.container_name(proof_site.name, HOST)
    finally:
        testhosts.down(proof_site.name)


def playbook(site: Site) -> subprocess.CompletedProcess[str]:
    return testhosts.run_playbook(site, [PLAYBOOK], "--limit", HOST, timeout=2400)


def audit(site: Site, lab_mirror: str | None = testhosts.LAB_APT_MIRROR, only: set[str] | None = None) -> AuditResult:
    """The host audit of the test host: as `hatang audit hosts --connection podman` runs it (the lab's
    mirror expected), or with `lab_mirror=None` as a real site's host is audited (the site's mirror)."""
    lab = testhosts.containers(site.name, [HOST])
    return run_audit(site, PROFILE, targets(site, [HOST], Connection.PODMAN, containers=lab, lab_apt_mirror=lab_mirror),
                     only=only)


def break_script(variants: tuple[HostVariant, ...]) -> str:
    """One shell script: each variant in its own `set -e` subshell, preceded by a marker line
    (record separator + its id) and followed by its exit status."""
    parts = ["exec </dev/null"]
    for variant in variants:
        parts.append(f"printf '\\036hatang-variant {variant.id}\\n'")
        parts.append(f'( set -e\n{variant.script}) 2>&1\necho "rc=$?"')
    return "\n".join(parts) + "\n"


def apply_variants(container: str, variants: tuple[HostVariant, ...]) -> dict[str, tuple[int, str]]:
    """Run the variants' scripts as root in the container: variant id -> (exit status, output).

    The script is copied in first, so that a command reading stdin cannot eat the rest of it.
    """
    copy = ["podman", "exec", "-i", container, "sh", "-c", "cat > /root/hatang-violations.sh"]
    subprocess.run(copy, input=break_script(variants), text=True, capture_output=True, check=True)
    done = subprocess.run(
        ["podman", "exec", container, "sh", "/root/hatang-violations.sh"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return variant_results(done.stdout)


def variant_results(stdout: str) -> dict[str, tuple[int, str]]:
    """What `break_script` printed: variant id -> (exit status, output)."""
    found: dict[str, tuple[int, str]] = {}
    for chunk in stdout.split("\x1e")[1:]:
        head, _, body = chunk.partition("\n")
        statuses = [line for line in body.splitlines() if line.startswith("rc=")]
        found[head.removeprefix("hatang-variant ").strip()] = (int(statuses[-1][3:]) if statuses else -1, body)
    return found


def outcomes(result: AuditResult) -> dict[str, Outcome]:
    (host,) = result.hosts
    return {r.control.id: r.outcome for r in host.controls}


@pytest.fixture(scope="module")
def stages(proof_site: Site, host: str) -> dict[str, object]:
    """before audit -> playbook -> after audit -> playbook again -> break -> broken audit."""
    before = audit(proof_site)
    first = playbook(proof_site)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    after = audit(proof_site)
    as_real_site = audit(proof_site, lab_mirror=None, only={"HT-PKG-01"})
    second = playbook(proof_site)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    crontab = subprocess.run(["podman", "exec", host, "sh", "-c", CRONTAB_BY_A_LISTED_USER], capture_output=True,
                             text=True, check=False, timeout=120)
    applied = apply_variants(host, tuple(FIRST[c] for c in sorted(FIRST)))
    failed = {v: out[-1000:] for v, (rc, out) in applied.items() if rc != 0}
    assert not failed and len(applied) == len(FIRST), failed or sorted(applied)
    broken = audit(proof_site)
    return {"before": before, "after": after, "second": second, "broken": broken, "as_real_site": as_real_site,
            "crontab": crontab}


def test_audit_fails_before_hardening(stages: dict[str, object]) -> None:
    before = stages["before"]
    assert isinstance(before, AuditResult)
    failed = [c for c, o in outcomes(before).items() if o == Outcome.FAIL]
    assert before.exit_code == 1
    assert len(failed) >= 30, f"only {len(failed)} controls failed on an un-hardened host: {failed}"


def test_audit_passes_after_playbook(stages: dict[str, object]) -> None:
    after = stages["after"]
    assert isinstance(after, AuditResult)
    found = outcomes(after)
    bad = {c: o.value for c, o in found.items() if o not in (Outcome.PASS, Outcome.NOT_CHECKABLE)}
    assert not bad, f"controls not met after hardening: {bad}"
    assert after.exit_code == 0
    not_checkable = sorted(c for c, o in found.items() if o == Outcome.NOT_CHECKABLE)
    print(f"not checkable in a container (need a VM): {', '.join(not_checkable)}")
    assert set(not_checkable) <= ONLY_A_VM_SHOWS


def test_lab_mirror_is_accepted_only_for_test_hosts(stages: dict[str, object]) -> None:
    """The site's own mirror is out of reach, so the test host's sources name the lab's: the audit
    of test hosts accepts it (and says so in its evidence), a real site's audit would not."""
    after, real = stages["after"], stages["as_real_site"]
    assert isinstance(after, AuditResult) and isinstance(real, AuditResult)
    assert outcomes(after)["HT-PKG-01"] == Outcome.PASS
    assert after.meta["lab_apt_mirror"] == {HOST: testhosts.LAB_APT_MIRROR}
    assert outcomes(real) == {"HT-PKG-01": Outcome.FAIL} and real.exit_code == 1
    assert "lab_apt_mirror" not in real.meta


def test_second_playbook_run_changes_nothing(stages: dict[str, object]) -> None:
    second = stages["second"]
    assert isinstance(second, subprocess.CompletedProcess)
    recap = [line for line in second.stdout.splitlines() if re.search(r"\bok=\d+", line)]
    assert recap and all(" changed=0 " in f"{line} " for line in recap), "\n".join(recap)


def test_a_user_cron_allow_lists_can_use_crontab(stages: dict[str, object]) -> None:
    crontab = stages["crontab"]
    assert isinstance(crontab, subprocess.CompletedProcess)
    assert crontab.returncode == 0 and "no crontab for cron-proof" in crontab.stdout, crontab.stdout + crontab.stderr


def test_every_automated_control_has_a_breaker() -> None:
    missing = sorted(set(_automated_host_controls()) - set(FIRST) - NEEDS_VM)  # NEEDS_VM's: tests/vm
    assert not missing, f"automated controls without a violating variant: {missing}"


@pytest.mark.parametrize("control", sorted(set(FIRST) - NEEDS_VM))
def test_broken_control_fails_the_audit(stages: dict[str, object], control: str) -> None:
    broken = stages["broken"]
    assert isinstance(broken, AuditResult)
    outcome = outcomes(broken)[control]
    assert outcome == Outcome.FAIL, f"{control} broken ({FIRST[control].id}: {FIRST[control].why}) but {outcome}"
    assert broken.exit_code == 1
