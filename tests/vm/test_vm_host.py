"""The VM test host (issue 15): the controls a container cannot show, on a Debian 13 VM.

A container shares the machine's kernel: no auditd, no loaded audit rules, no `kernel.*`
sysctls or kernel modules of its own, so HT-AUDIT-01..04, HT-NET-07 and HT-KMOD-01 are "not
checkable" there. Here the host
is a VM (infra/testhosts/vm.py: QEMU's emulation, its own kernel and network):

1. it is provisioned as an installer would: the NIC named after the mgmt zone (the host
   firewall matches `iifname "mgmt"`), the host's mgmt addresses, its name; one reboot proves it;
2. playbooks/hardening.yml is applied over SSH as to a real site's host (the admin account,
   sudo), then the VM is powered off and its disk kept: the hardened state;
3. `hatang audit hosts --connection ssh --ssh-config ... --sudo` audits it: every control of the
   profile passes, none "not checkable";
4. rounds: each boots a fresh VM from the hardened disk, applies one variant of each of the VM's
   controls (infra/catalogue/violations/host: their `needs_vm` variants, which the container
   proof leaves to this test, and their first), audits those controls: each variant fails.

Cost is printed (`-s`): image build (once per recipe), boots, hardening, audits, rounds.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from infra.audit import AuditResult, Connection, Outcome, run_audit, targets
from infra.catalogue import HostVariant, load_host_violations, plan_rounds
from infra.site import Site
from infra.testhosts import vm
from tests.audit.test_hardening_proof import (
    HOST,
    ONLY_A_VM_SHOWS,
    PROFILE,
    break_script,
    hardening_digest,
    inventory_code,
    lab_copy,
    variant_results,
)
from tests.audit.test_host_violations import Applied, _observed
from tests.vm._vmlab import disk_copy, playbook

VM_CONTROLS = tuple(sorted(ONLY_A_VM_SHOWS))
"""What only a VM shows: auditd, the loaded audit rules, live kernel.* sysctls, loaded modules."""

VIOLATIONS = load_host_violations()
ON_THE_VM = {
    c: replace(VIOLATIONS[c], variants=tuple(v for i, v in enumerate(VIOLATIONS[c].variants) if v.needs_vm or i == 0))
    for c in VM_CONTROLS
}
"""Each VM control's `needs_vm` variants, and its first: the others fail by what a container shows
too (the files), and are proven there (tests/audit/test_host_violations.py)."""
ROUNDS = plan_rounds(ON_THE_VM)
VARIANTS = [pytest.param(v, id=v.id) for members in ROUNDS for v in members]
MAC = "52:54:00:19:51:11"

pytestmark = pytest.mark.vm


def test_every_needs_vm_variant_is_proven_here() -> None:
    """A variant marked needs_vm is skipped by the container proof: it must belong to a control
    this test runs, or it is proven nowhere."""
    orphans = sorted(
        v.id for c in VIOLATIONS.values() for v in c.variants if v.needs_vm and c.control not in VM_CONTROLS
    )
    assert not orphans


@dataclass
class Lab:
    site: Site
    image: vm.VmImage
    workdir: Path
    hardened: Path
    timings: dict[str, float]
    cli: subprocess.CompletedProcess[str] | None = None


def _mgmt(site: Site) -> tuple[IPv4Interface, str, str]:
    """The mgmt zone's gateway (as QEMU's address on the VM's network), and the host's addresses."""
    zone = next(z for z in site.zones if z.kind.value == "mgmt")
    host = next(h for h in site.hosts if h.name == HOST)
    assert zone.gateway4 is not None
    return (
        IPv4Interface(f"{zone.gateway4}/{zone.ipv4.prefixlen}"),
        f"{host.ipv4[zone.name]}/{zone.ipv4.prefixlen}",
        f"{host.ipv6[zone.name]}/{zone.ipv6.prefixlen}",
    )


def _provision_script(site: Site) -> str:
    """What an installer does before Ansible: name the NIC after its zone, give the host its mgmt
    addresses and its name.

    Duplicate address detection of the IPv6 address takes seconds, as on a busy segment: at every
    boot the address is tentative when the services start, so a sshd that does not wait for it
    (HT-SSH-13 names it in ListenAddress) does not listen on it, and the audit fails."""
    gateway, address4, address6 = _mgmt(site)
    dns = gateway.network.network_address + 3  # QEMU's resolver on the VM's own network
    return f"""set -e
printf '[Match]\\nMACAddress={MAC}\\n[Link]\\nName=mgmt\\n' > /etc/systemd/network/10-mgmt.link
printf '[Match]\\nName=mgmt\\n[Network]\\nAddress=%s\\nAddress=%s\\nGateway=%s\\nDNS=%s\\nIPv6AcceptRA=no\\n%s\\n' \\
  {address4} {address6} {gateway.ip} {dns} IPv6DuplicateAddressDetection=5 > /etc/systemd/network/40-mgmt.network
rm -f /etc/systemd/network/90-provisioning.network
printf '{HOST}\\n' > /etc/hostname
printf '127.0.1.1 {HOST}\\n' >> /etc/hosts
"""


def _boot(lab: Lab, name: str, *, disk: Path | None = None, snapshot: bool = True, timeout: float = 240) -> vm.Vm:
    gateway, _, _ = _mgmt(lab.site)
    return vm.boot(name, lab.image, lab.workdir / name, [vm.Nic(MAC, net=gateway)], disk=disk, snapshot=snapshot,
                   timeout=timeout)  # fmt: skip


def _audit(lab: Lab, machine: vm.Vm, only: set[str] | None = None) -> AuditResult:
    reach = targets(lab.site, [HOST], Connection.SSH, ssh_user=vm.ADMIN, ssh_config=machine.ssh_config)
    return run_audit(lab.site, PROFILE, reach, sudo=True, only=only)


def _harden(lab: Lab) -> None:
    """Provision a copy of the image's disk, reboot, apply hardening.yml, power off; then keep the
    disk (named by the inputs' digest, beside the image: a later run with the same inputs reuses it)."""
    began = time.monotonic()
    work = disk_copy(lab.image.disk, lab.workdir / "hardening.img")
    lab.timings["disk copy"] = time.monotonic() - began
    machine = _boot(lab, "install", disk=work, snapshot=False)
    try:
        lab.timings["first boot to SSH"] = machine.booted_in
        machine.ssh(_provision_script(lab.site))
        machine.poweroff()
        machine = _boot(lab, "harden", disk=work, snapshot=False)
        lab.timings["boot as provisioned"] = machine.booted_in
        began = time.monotonic()
        ran = playbook(lab.site, machine, HOST, "hardening.yml")
        lab.timings["hardening.yml over SSH"] = time.monotonic() - began
        assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
        began = time.monotonic()
        again = playbook(lab.site, machine, HOST, "hardening.yml")
        lab.timings["hardening.yml again"] = time.monotonic() - began
        recap = re.findall(r"^(\w+)\s+:.*changed=(\d+)", again.stdout, re.M)
        # what only a real host runs (auditd, augenrules, live kernel sysctls) is idempotent too
        assert again.returncode == 0 and recap == [(HOST, "0")], again.stdout[-4000:]
        machine.poweroff()
    finally:
        machine.stop()
    lab.hardened.parent.mkdir(exist_ok=True)
    for older in lab.hardened.parent.glob("*.img"):
        older.unlink()
    shutil.move(work, lab.hardened)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """The hardened VM disk, its base audit (through the CLI and the engine) and the timings."""
    root = tmp_path_factory.mktemp("vmhost")
    site = lab_copy(root, "vmhost", "10.195.", "fd99:a5:")
    timings: dict[str, float] = {}
    began = time.monotonic()
    image = vm.ensure_vm_image()
    timings["image (build or cache)"] = time.monotonic() - began
    hardened = image.folder / "hardened" / f"{hardening_digest(site, inventory_code(), _provision_script(site))}.img"
    lab = Lab(site, image, root, hardened, timings)
    if not hardened.is_file():
        _harden(lab)
    machine = _boot(lab, "audit", disk=hardened)
    try:
        timings["boot hardened"] = machine.booted_in
        began = time.monotonic()
        report = root / "report"
        lab.cli = subprocess.run(
            [str(Path(sys.executable).parent / "hatang"), "audit", "hosts", "-i", str(site.root), "-p", PROFILE,
             "-l", HOST, "-c", "ssh", "--ssh-config", str(machine.ssh_config), "--ssh-user", vm.ADMIN, "--sudo",
             "-o", str(report)],
            capture_output=True, text=True, check=False, timeout=900,
        )  # fmt: skip
        timings["level-3 audit, CLI"] = time.monotonic() - began
    finally:
        machine.stop()
    return lab


def test_the_hardened_vm_passes_every_control(lab: Lab) -> None:
    """`hatang audit hosts` reaches the VM through the ssh_config file, as the admin with sudo:
    every control of the profile passes, the five a container cannot show included."""
    print("\nVM test host timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in lab.timings.items()))
    assert lab.cli is not None
    evidence_file = lab.workdir / "report" / "evidence.json"
    assert evidence_file.is_file(), lab.cli.stdout[-3000:] + lab.cli.stderr[-2000:]
    evidence = json.loads(evidence_file.read_text(encoding="utf-8"))
    (host,) = evidence["hosts"]
    assert host["error"] is None, host["error"]
    found = {c["control_id"]: c for c in host["controls"]}
    bad = {c: (r["result"], json.dumps(r["checks"])[:400]) for c, r in found.items() if r["result"] != "pass"}
    assert not bad, f"controls not passed on the hardened VM: {bad}"
    assert set(VM_CONTROLS) <= set(found)
    assert evidence["verdict"]["status"] == "compliant" and evidence["verdict"]["unchecked_controls"] == []
    assert lab.cli.returncode == 0, lab.cli.stdout[-3000:] + lab.cli.stderr[-2000:]


def test_sshd_that_does_not_wait_for_the_network_loses_its_ipv6_address(lab: Lab) -> None:
    """Why the baseline orders sshd after network-online.target: without that drop-in, sshd starts
    before the mgmt addresses are ready (duplicate address detection takes seconds here, as the
    provisioning sets it; a minute in this variant, so that the IPv6 address is never ready in
    time). Which way the rest goes depends on the machine's speed, and both are the defect: with
    the IPv4 address up, sshd binds it only and HT-SSH-13 fails; with neither, sshd exits and the
    booted VM (its console at the login prompt) never answers SSH: locked out.
    With the drop-in, the hardened VM above passes."""
    disk = disk_copy(lab.hardened, lab.workdir / "no-network-wait.img")
    dropin = "/etc/systemd/system/ssh.service.d/hatang-listen.conf"
    edit = subprocess.run(["debugfs", "-w", "-R", f"rm {dropin}", str(disk)], capture_output=True, text=True)
    assert edit.returncode == 0 and "not found" not in edit.stderr, edit.stderr
    # The race made certain: the IPv6 address stays tentative for a minute, whatever the
    # machine's load (with 5 s a slow boot let sshd start after it, and the variant passed).
    network = "/etc/systemd/network/40-mgmt.network"
    shown = subprocess.run(["debugfs", "-R", f"cat {network}", str(disk)], capture_output=True, text=True)
    slow = re.sub(r"IPv6DuplicateAddressDetection=\d+", "IPv6DuplicateAddressDetection=60", shown.stdout)
    assert shown.returncode == 0 and slow != shown.stdout, shown.stderr
    local = lab.workdir / "40-mgmt.network"
    local.write_text(slow, encoding="utf-8")
    local.chmod(0o644)
    for command in (f"rm {network}", f"write {local} {network}"):
        edit = subprocess.run(["debugfs", "-w", "-R", command, str(disk)], capture_output=True, text=True)
        assert edit.returncode == 0 and "not found" not in edit.stderr, edit.stderr
    try:
        with _boot(lab, "no-network-wait", disk=disk, timeout=150) as machine:
            (host,) = _audit(lab, machine, only={"HT-SSH-13"}).hosts
    except vm.VmError as locked_out:
        message = str(locked_out)
        assert "SSH did not answer in time" in message or "SSH will not answer" in message, message
        assert " login:" in message or "Failed to start ssh.service" in message, message
        print(f"sshd without the drop-in: exited before the mgmt addresses existed (locked out)\n{message[-600:]}")
        return
    finally:
        disk.unlink()
    (result,) = host.controls
    assert result.outcome is Outcome.FAIL, _observed(result)
    assert "sshd does not listen there" in _observed(result), _observed(result)


@pytest.fixture(scope="module")
def rounds(lab: Lab) -> dict[str, Applied]:
    """Every round: a fresh VM from the hardened disk, its variants applied, the VM controls audited."""
    applied: dict[str, Applied] = {}
    timings = []
    for number, members in enumerate(ROUNDS):
        began = time.monotonic()
        with _boot(lab, f"round{number}", disk=lab.hardened) as machine:
            booted = time.monotonic()
            script = break_script(members)
            subprocess.run(
                ["ssh", "-F", str(machine.ssh_config), machine.alias, "sudo sh -c 'cat > /root/violations.sh'"],
                input=script, text=True, capture_output=True, check=True, timeout=60,
            )  # fmt: skip
            results = variant_results(machine.ssh("sh /root/violations.sh </dev/null", check=False, timeout=600).stdout)
            broken = time.monotonic()
            audit = _audit(lab, machine, only=set(VM_CONTROLS))
        (host,) = audit.hosts
        assert host.error is None, host.error
        by_control = {c.control.id: c for c in host.controls}
        for variant in members:
            rc, output = results.get(variant.id, (-1, "(the round's script never reached this variant)"))
            applied[variant.id] = Applied(number, rc, output, by_control.get(variant.control))
        timings.append((number, len(members), booted - began, broken - booted, time.monotonic() - broken))
    print("\nVM rounds (round, variants, boot s, break s, audit s):")
    for row in timings:
        print("  {:2d} {:3d} {:5.1f} {:5.1f} {:5.1f}".format(*row))
    return applied


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_vm_variant_fails_its_control(rounds: dict[str, Applied], variant: HostVariant) -> None:
    applied = rounds[variant.id]
    where = f"{variant.id} (VM round {applied.round})"
    assert applied.rc == 0, f"{where}: the break script failed (rc {applied.rc}):\n{applied.output[-2000:]}"
    assert applied.result is not None, f"{where}: {variant.control} is not in the audit"
    assert applied.result.outcome is Outcome.FAIL, (
        f"{where}: {variant.control} is {applied.result.outcome.value} on the VM ({_observed(applied.result)[:600]})"
    )
