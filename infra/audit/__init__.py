"""Audit hosts against a profile of the control catalogue, and report the evidence.

site = load_site("inventories/aio")
result = run_audit(site, "old-level3", targets(site, ["aio1"], Connection.SSH))
# a test host: targets(site, ["aio1"], Connection.PODMAN, containers={"aio1": "hatang-aio-aio1"})
write_reports(result, Path("reports/aio"))
result.verdict    # compliant, compliant_with_unchecked, non_compliant, not_verified, error
result.exit_code  # 0 compliant (with unchecked controls too, unless strict), 1 non-compliant,
                  # 2 error or nothing verified
"""

from infra.audit._facts import AllowedFlow, HostFacts, UnknownHostError, host_facts
from infra.audit._model import (
    UNCHECKED,
    AuditResult,
    CheckResult,
    ControlResult,
    HostResult,
    Outcome,
    Verdict,
    judge,
)
from infra.audit._runner import (
    CHECKS_DIR,
    ChecksNotFoundError,
    Connection,
    LimitError,
    Target,
    UnknownControlError,
    remote_command,
    run_audit,
    select_hosts,
    targets,
)

__all__ = [
    "CHECKS_DIR",
    "UNCHECKED",
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
    "Verdict",
    "host_facts",
    "judge",
    "remote_command",
    "run_audit",
    "select_hosts",
    "targets",
]
