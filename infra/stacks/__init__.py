"""The Pulumi programs of the cloud: specs derived from the site model, components, programs.

Layout (one concern per module):

- `flavors` — the SCS flavor naming scheme and the standard flavor set (pure data).
- `spec` — what each component should create, derived from a `Site` (pure, no Pulumi).
- `platform_components`, `tenant_components` — Pulumi components mapping a spec to resources
  one to one; no config, environment or file I/O inside.
- `platform`, `tenants` — each program's `main()`: reads config, loads the site, does lookups.
- `policies` — the CrossGuard rules (importable; the pack in `pulumi/policy` constructs them).
- `mockrun` — runs both programs under the SDK's mocks and returns every registered resource.

The Pulumi projects in `pulumi/platform` and `pulumi/tenants` only call `main()`.
"""
