"""The command groups are imported when used, and listed as before."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from infra.cli import app
from infra.commands import GROUPS


def test_commands_groups_not_imported_at_start() -> None:
    code = "import sys, infra.cli; print(sorted(m for m in sys.modules if m.startswith('infra.commands.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert not any(f"'{module}'" in loaded for module in GROUPS.values())


def test_commands_help_lists_every_group_in_order() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    listed = [line.split()[1] for line in result.output.splitlines() if line.startswith("│ ") and len(line.split()) > 2]
    assert [name for name in listed if name in GROUPS] == list(GROUPS)


def test_commands_group_runs_when_called() -> None:
    result = CliRunner().invoke(app, ["ledger", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "init" in result.output
