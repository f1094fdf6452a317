"""HT-FILE-03's decision on AIDE's state, from probe output written the way aide 0.19 and systemd
print it (captured on a Debian 13 test host), compliant and broken in the ways an intruder would."""

from __future__ import annotations

import pytest

from infra.audit import _aide

FULL = "l+p+u+g+s+c+m+i+b+n+acl+sha512+selinux+xattrs+ftype+e2fsattrs+caps"
WATCHED = (
    "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/sudoers", "/etc/pam.d/common-auth", "/etc/ssh/sshd_config",
    "/usr/sbin/sshd", "/usr/bin/sudo", "/usr/bin/su", "/usr/sbin/auditctl", "/usr/sbin/auditd",
    "/usr/sbin/augenrules", "/usr/sbin/ausearch", "/usr/sbin/aureport",
)  # fmt: skip


def _verdict(path: str, attrs: str = FULL) -> str:
    return (f"[x] f=overlayfs:{path}: selective rule: '/ (none) {attrs}' "
            f"(/etc/aide/aide.conf.d/99_aide_root:3: '/ 0 Full')")  # fmt: skip


def probe(
    *,
    package: str = "install ok installed",
    defaults: str = 'CONFIG="/etc/aide/aide.conf"\nCOMMAND=update\nAIDEARGS=""\n',
    database: str = "/var/lib/aide/aide.db",
    stat: str = "root root 600 1007411",
    spec: str = "@@db_spec name lname perm uid gid size ctime mtime inode attr acl sha512 xattrs",
    recorded: tuple[str, ...] = WATCHED,
    verdicts: tuple[str, ...] | None = None,
    aide_rc: int = 0,
    timer: str = "enabled\nactive\n{ path=/usr/share/aide/bin/dailyaidecheck ; argv[]=/usr/share/aide/bin/"
    "dailyaidecheck --systemdservice ; ignore_errors=no }",
) -> str:
    db_body = "" if not stat else "\n".join([stat, *([spec] if spec else []), *(f"{p} 0 100644" for p in recorded)])
    lines = verdicts if verdicts is not None else tuple(_verdict(p) for p in WATCHED)
    return (
        f"\x1epackage\n{package}\n\x1edefaults\n{defaults}\x1edatabase {database}\n{db_body}\n"
        f"\x1epaths /etc/aide/aide.conf\n" + "\n".join(lines) + f"\naide exited {aide_rc}\n\x1etimer\n{timer}\n"
    )


def test_compliant_host_passes() -> None:
    finding = _aide.aide_finding(probe())
    assert finding.ok, finding.problems


def test_the_probe_asks_about_every_watched_path() -> None:
    assert set(_aide.CRITICAL_PATHS) == set(WATCHED)
    assert all(p.replace(".", "\\.") in _aide.PROBE for p in WATCHED)


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ({"package": "deinstall ok config-files"}, "aide is not installed"),
        ({"package": "dpkg-query: no packages found matching aide"}, "aide is not installed"),
        ({"defaults": "COMMAND=init\n"}, "COMMAND=init"),
        ({"defaults": 'COMMAND=check\nAIDEARGS="--limit=^/tmp"\n'}, "AIDEARGS=--limit=^/tmp"),
        ({"defaults": "AIDEARGS=''\nAIDEARGS=\"-c /x\"\n"}, "AIDEARGS=-c /x"),
        ({"database": ""}, "names no database"),
        ({"stat": ""}, "does not exist"),
        ({"spec": "", "recorded": ()}, "is not an AIDE database"),
        ({"stat": "root root 644 1007411"}, "anyone but root"),
        ({"stat": "_aide _aide 600 1007411"}, "anyone but root"),
        ({"spec": "@@db_spec name lname perm uid gid size md5 rmd160"}, "no SHA-2/SHA-3 hash"),
        ({"recorded": WATCHED[1:]}, "does not hold /etc/passwd"),
        ({"verdicts": tuple(_verdict(p) for p in WATCHED if p != "/etc/shadow")}, "/etc/shadow is left out"),
        ({"verdicts": (*(_verdict(p) for p in WATCHED if p != "/etc/shadow"),
                       "[ ] f=overlayfs:/etc/shadow: negative rule: '!/etc/shadow$ (none)' (/etc/aide/x:1)")},
         "/etc/shadow is left out of the daily check: negative rule"),
        ({"verdicts": (*(_verdict(p) for p in WATCHED if p != "/usr/sbin/sshd"),
                       _verdict("/usr/sbin/sshd", "p+u+g"))}, "/usr/sbin/sshd is watched without s, a SHA-2"),
        ({"verdicts": (*(_verdict(p) for p in WATCHED if p != "/usr/bin/sudo"),
                       _verdict("/usr/bin/sudo", "p+u+g+s+md5"))}, "/usr/bin/sudo is watched without a SHA-2"),
        ({"verdicts": ("  ERROR: /etc/aide/aide.conf.d/10_x:1: syntax error",), "aide_rc": 17},
         "aide cannot read its configuration"),
        ({"timer": "disabled\ninactive\n{ path=/usr/share/aide/bin/dailyaidecheck ; }"}, "timer is disabled"),
        ({"timer": "enabled\ninactive\n{ path=/usr/share/aide/bin/dailyaidecheck ; }"}, "enabled and inactive"),
        ({"timer": "enabled\nactive\n{ path=/bin/true ; argv[]=/bin/true ; }"}, "does not run Debian's dailyaidecheck"),
        ({"timer": ""}, "timer is ?"),
    ],
)  # fmt: skip
def test_broken_aide_fails(broken: dict[str, object], problem: str) -> None:
    finding = _aide.aide_finding(probe(**broken))  # type: ignore[arg-type]
    assert not finding.ok
    assert any(problem in p for p in finding.problems), finding.problems


def test_empty_probe_output_fails() -> None:
    finding = _aide.aide_finding("")
    assert not finding.ok and len(finding.problems) >= 3
