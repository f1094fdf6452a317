"""The session's workspace beside the state (infra._engine_session.Workspace), without the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import engine
from infra.site import load_site
from tests.conftest import AIO


def test_prepare_keeps_the_passphrase_private_and_the_project_pointing_at_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `up`, `refresh` and `destroy` write before the engine runs (a preview writes it in its copy)."""
    monkeypatch.setenv("HATANG_STATE_DIR", str(tmp_path / "state"))
    workspace = engine.Workspace.of(load_site(AIO))
    workspace.prepare("platform")
    passphrase = workspace.passphrase_file.read_bytes()
    assert workspace.passphrase_file.stat().st_mode & 0o777 == 0o600
    assert (workspace.project_dir("platform") / "Pulumi.yaml").read_text(encoding="utf-8").endswith(
        f"main: {engine.REPO / 'pulumi' / 'platform'}\n"
    )
    workspace.prepare("platform")
    assert workspace.passphrase_file.read_bytes() == passphrase, "the passphrase of the state's secrets was replaced"
