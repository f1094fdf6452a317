"""The host checks: one testinfra function `test_<check id>(host, check)` per host check id of the
control catalogue (`infra/catalogue/controls/host.yml`).

`hatang audit hosts` runs them (`infra.audit.run_audit`, one pytest process per host); an auditor
can run them with plain pytest as well, with the plugin that gives them their `check` fixture:

    pytest -p infra.audit.plugin --pyargs infra.audit.hosts --hosts=ssh://ADDRESS \\
        --hatang-site inventories/<site> --hatang-host <host> --hatang-profile old-level3

Rules for a check: thin over testinfra's `host` fixture (reads through `_host`, which caches what
several checks need); expected values come from `check.facts` (the site model) and `check.params`
(the control's thresholds), never written in the check; it calls `check.expect(observed,
expected, ok)`; when the host cannot show the state (a container: auditd, kernel.* sysctls) it
calls `check.not_checkable(reason)`, never passes.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

__all__ = ["check_functions"]


def check_functions() -> dict[str, Callable[..., Any]]:
    """Check id -> its function `test_<check id>` in the modules of this package."""
    found: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("test_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            for name, function in inspect.getmembers(module, inspect.isfunction):
                if name.startswith("test_") and function.__module__ == module.__name__:
                    found[name.removeprefix("test_")] = function
    return found
