"""The one place that runs podman: errors carry the command and podman's own message."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from infra.errors import HatangError

__all__ = ["PodmanError", "podman", "podman_json"]


class PodmanError(HatangError):
    """A podman (or image build) command failed."""


def podman(
    *args: str, check: bool = True, timeout: float | None = 300
) -> subprocess.CompletedProcess[str]:
    """Run `podman ARGS`; with `check`, raise PodmanError naming the command on failure."""
    argv = ["podman", *args]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    except FileNotFoundError as exc:
        raise PodmanError("podman is not installed (run scripts/bootstrap)") from exc
    except subprocess.TimeoutExpired as exc:
        raise PodmanError(f"{' '.join(argv[:4])} did not finish within {timeout} s") from exc
    if check and result.returncode != 0:
        message = (result.stderr or result.stdout).strip()
        raise PodmanError(f"{' '.join(argv[:4])} failed (exit {result.returncode}): {message}")
    return result


def podman_json(*args: str) -> Any:
    """Run a podman command that prints JSON and parse it (empty output is an empty list)."""
    out = podman(*args).stdout.strip()
    return json.loads(out) if out else []
