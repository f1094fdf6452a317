"""`pulumi preview` of the aio stacks with a local file backend (only where the CLI is installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.pulumi_cli


_MISSING = [
    what
    for what, absent in (
        ("the pulumi CLI is not on PATH", shutil.which("pulumi") is None),
        ("OS_CLOUD is not set (the provider needs the AIO cloud)", not os.environ.get("OS_CLOUD")),
    )
    if absent
]


@pytest.mark.skipif(bool(_MISSING), reason=f"{'; '.join(_MISSING)}: `pulumi preview` of the aio stack was NOT run")
def test_pulumi_preview_aio_platform_with_file_backend(tmp_path: Path) -> None:
    env = {**os.environ, "PULUMI_BACKEND_URL": f"file://{tmp_path}", "PULUMI_CONFIG_PASSPHRASE": "test",
           "HATANG_INVENTORY": "inventories/aio"}
    project = REPO / "pulumi" / "platform"
    subprocess.run(["pulumi", "stack", "select", "--create", "aio", "-C", str(project)], env=env, check=True)
    result = subprocess.run(["pulumi", "preview", "--non-interactive", "-C", str(project), "-s", "aio",
                             "--policy-pack", str(REPO / "pulumi" / "policy")],
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
