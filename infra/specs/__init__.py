"""What the cloud should hold, derived from the site model: pure views, no Pulumi, no I/O.

- `cloud` — the platform and tenant specs (networks, routers, security groups, quotas, roles,
  tags) the Pulumi components map to resources one to one, and the cloud audit expects to find.
- `flavors` — the SCS flavor naming scheme and the standard flavor set (pure data).

Both the Pulumi programs (`infra.stacks`) and the cloud audit (`infra.audit.cloud`) read these;
neither imports the other.
"""
