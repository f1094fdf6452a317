"""Audit a cloud against a profile's cloud controls, through the OpenStack APIs (openstacksdk).

conn = connect("hatang-aio", Path(".hatang/aio/clouds.yaml"))
result = run_cloud_audit(load_valid_site("inventories/aio"), "old-level3", conn, cloud_name="hatang-aio")
write_reports(result, Path("reports/aio-cloud"))   # infra.audit.report: JSON, JUnit, HTML
result.exit_code  # 0 compliant and no drift, 1 non-compliant or drift, 2 error

Read-only checks are pure functions over a snapshot of the cloud (`_checks`); Keystone's
lockout, TLS and tenant isolation are proven live with throwaway users (`_probes`).
"""

from infra.audit.cloud._checks import DRIFT_CHECK, PURE_CHECKS, Drift, drift
from infra.audit.cloud._expected import Expected, expected_from_site
from infra.audit.cloud._probes import PROBE_USER_PREFIX, Prober
from infra.audit.cloud._runner import (
    CHECKS,
    CloudAuditResult,
    CloudError,
    OvnSource,
    connect,
    run_checks,
    run_cloud_audit,
)
from infra.audit.cloud._snapshot import Snapshot, take_snapshot

__all__ = [
    "CHECKS",
    "DRIFT_CHECK",
    "PROBE_USER_PREFIX",
    "PURE_CHECKS",
    "CloudAuditResult",
    "CloudError",
    "Drift",
    "Expected",
    "OvnSource",
    "Prober",
    "Snapshot",
    "connect",
    "drift",
    "expected_from_site",
    "run_checks",
    "run_cloud_audit",
    "take_snapshot",
]
