"""The Pulumi programs of the cloud: components and programs rendering the specs of `infra.specs`.

What each component should create is derived from the site model in `infra.specs` (pure, no
Pulumi), which the cloud audit reads too. Layout here (one concern per module):

- `platform_components`, `tenant_components` — Pulumi components mapping a spec to resources
  one to one; no config, environment or file I/O inside.
- `platform`, `tenants` — each program's `main()`: reads config, loads the site, does lookups.
- `policies` — the CrossGuard rules (importable; the pack in `pulumi/policy` constructs them).
- `mockrun` — runs both programs under the SDK's mocks and returns every registered resource.

The Pulumi projects in `pulumi/platform` and `pulumi/tenants` only call `main()`.
"""
