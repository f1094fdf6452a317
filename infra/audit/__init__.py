"""Audit hosts against a profile of the control catalogue, and report the evidence.

site = load_site("inventories/aio")
result = run_audit(site, "old-level3", targets(site, ["aio1"], Connection.PODMAN))
write_reports(result, Path("reports/aio"))
result.exit_code  # 0 compliant, 1 non-compliant, 2 error
"""

from infra.audit._facts import AllowedFlow, HostFacts, UnknownHostError, host_facts
from infra.audit._model import AuditResult, CheckResult, ControlResult, HostResult, Outcome
from infra.audit._runner import (
    CHECKS_DIR,
    ChecksNotFoundError,
    Connection,
    LimitError,
    Target,
    UnknownControlError,
    run_audit,
    select_hosts,
    targets,
)

__all__ = [
    "CHECKS_DIR",
    "AllowedFlow",
    "AuditResult",
    "CheckResult",
    "ChecksNotFoundError",
    "Connection",
    "ControlResult",
    "HostFacts",
    "HostResult",
    "LimitError",
    "Outcome",
    "Target",
    "UnknownControlError",
    "UnknownHostError",
    "host_facts",
    "run_audit",
    "select_hosts",
    "targets",
]
