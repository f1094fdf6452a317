"""The packaged host checks run under plain pytest, as docs/audit.md tells an auditor, and a
verifier parametrized with `check_id` gets that check's fixture (the Molecule verifiers do).

Both run pytest in a child process against this machine (`--hosts=local://`, read-only checks).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from infra.catalogue import load_catalogue
from tests.conftest import AIO


def _pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pytest", "-p", "infra.audit.plugin", "-p", "no:cacheprovider", "-q", *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


def test_audit_plugin_runs_the_packaged_checks_with_plain_pytest(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    proc = _pytest(
        "--pyargs", "infra.audit.hosts", "--hosts=local://",
        "--hatang-site", str(AIO), "--hatang-host", "aio1",
        "--hatang-checks", "only_root_has_uid0,password_max_age",
        "--hatang-results", str(results),
        cwd=tmp_path,
    )  # fmt: skip
    assert results.is_file(), proc.stdout + proc.stderr
    checks = {c["check_id"]: c for c in json.loads(results.read_text(encoding="utf-8"))["checks"]}
    assert sorted(checks) == ["only_root_has_uid0", "password_max_age"]
    assert {c["result"] for c in checks.values()} <= {"pass", "fail"}, checks
    limit = load_catalogue().control("HT-AUTH-04").parameters["max"]
    assert checks["password_max_age"]["expected"] == {"PASS_MAX_DAYS": f"1..{limit}", "accounts": {}}


def test_audit_plugin_check_fixture_follows_the_check_id_parameter(tmp_path: Path) -> None:
    (tmp_path / "test_verifier.py").write_text(
        "import pytest\n"
        "\n"
        "@pytest.mark.parametrize('check_id', ['password_max_age', 'sshd_max_auth_tries_limited'])\n"
        "def test_control(check, check_id):\n"
        "    assert check.id == check_id\n"
        "    print(check.id, dict(check.params))\n",
        encoding="utf-8",
    )
    results = tmp_path / "results.json"
    proc = _pytest(
        "-s", "test_verifier.py", "--hosts=local://", "--hatang-site", str(AIO), "--hatang-host", "aio1",
        "--hatang-results", str(results), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    catalogue = load_catalogue()
    assert f"password_max_age {dict(catalogue.control('HT-AUTH-04').parameters)}" in proc.stdout
    assert f"sshd_max_auth_tries_limited {dict(catalogue.control('HT-SSH-07').parameters)}" in proc.stdout
    recorded = [c["check_id"] for c in json.loads(results.read_text(encoding="utf-8"))["checks"]]
    assert sorted(recorded) == ["password_max_age", "sshd_max_auth_tries_limited"]
