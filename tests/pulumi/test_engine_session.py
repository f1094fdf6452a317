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


_ENGINE_LINES = """\
platform |  +  pulumi:providers:openstack openstack create error: Preview failed: 1 error occurred:
platform |  +  pulumi:pulumi:Stack hatang-platform-aio create Traceback (most recent call last):
platform |  +  pulumi:pulumi:Stack hatang-platform-aio create   File "/v/resource.py", line 1340, in do_rpc
platform |  +  pulumi:pulumi:Stack hatang-platform-aio create     return monitor.RegisterResource(req)
platform |  +  pulumi:pulumi:Stack hatang-platform-aio create            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
platform |  +  pulumi:pulumi:Stack hatang-platform-aio create   File "/v/grpc/_channel.py", line 1168, in __call__
platform |  +  pulumi:pulumi:Stack hatang-platform-aio create error: preview failed
    Traceback (most recent call last):
      File "/v/grpc/_channel.py", line 1168, in __call__
        return _end_unary_response_blocking(state, call, False, None)
        ~~~~~~~~~~~~~~~~~~~~~~~~~~~~^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
    error: preview failed
Resources:
    + 1 to create
"""


def test_engine_lines_lose_the_language_hosts_tracebacks_and_keep_the_errors() -> None:
    """The language host's traceback comes and goes with timing (CI saw it): never shown either way."""
    shown: list[str] = []
    keep = engine.WithoutTracebacks(shown.append)
    for line in _ENGINE_LINES.splitlines():
        keep(line)
    assert shown == [
        "platform |  +  pulumi:providers:openstack openstack create error: Preview failed: 1 error occurred:",
        "platform |  +  pulumi:pulumi:Stack hatang-platform-aio create error: preview failed",
        "    error: preview failed",
        "Resources:",
        "    + 1 to create",
    ]
