"""The Molecule scenarios of the baseline, firewall and netzones roles, run as part of the test suite.

Each is a full create/converge/idempotence/verify/destroy cycle on test-host containers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra import testhosts

pytestmark = pytest.mark.hosts

ROLES = Path(__file__).resolve().parents[3] / "roles"
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("role", ["baseline", "firewall", "netzones"])
def test_molecule_scenario_passes(role: str) -> None:
    testhosts.ensure_image()  # the scenarios use localhost/hatang-testhost:latest
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        "PY_COLORS": "0",
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [str(BIN / "molecule"), "test"],
        cwd=ROLES / role,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
