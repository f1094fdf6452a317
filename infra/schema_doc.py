"""Render the site-model reference (docs/site-model.md) from the pydantic models' descriptions.

The field descriptions in infra/schema.py are the only text; this keeps the document from drifting.
Run `python -m infra.schema_doc > docs/site-model.md` after changing the schema (a test checks it).
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from infra import schema

FILES: list[tuple[str, str, list[type[BaseModel]]]] = [
    ("site.yml", "The site itself.", [schema.SiteInfo, schema.SiteServices, schema.Uplink]),
    ("zones.yml", "`zones:` a list of zones.", [schema.Zone, schema.Provider]),
    ("flows.yml", "`flows:` the allowed traffic; endpoints are zone names, `tenants` or `any`.", [schema.Flow]),
    ("hosts.yml", "`groups:` by name, and `hosts:` a list.", [schema.HostGroup, schema.HostSpec]),
    ("capacity.yml", "Hardware and overcommit.", [schema.Capacity, schema.Overcommit, schema.GroupCapacity]),
    ("pools.yml", "Tenant address pools.", [schema.Pools]),
    ("profiles.yml", "`profiles:` by name.", [schema.Profile, schema.QuotaCompute, schema.QuotaNetwork,
                                               schema.QuotaVolume]),
    ("agencies.yml", "`agencies:` a list.", [schema.Agency]),
    ("applications.yml", "`applications:` a list.", [schema.Application]),
    ("tenants/<code>.yml", "One request per file.", [schema.TenantRequest, schema.Contact, schema.TenantNetwork,
                                                      schema.StateChange, schema.TenantAllocation]),
    ("ledger.yml", "`allocations:` every prefix ever handed out; append-only, written by `hatang tenant approve` "
                   "(`hatang ledger init` builds it once from the files and git history).", [schema.LedgerEntry]),
]


def _type(annotation: object) -> str:
    text = str(annotation).replace("typing.", "").replace("ipaddress.", "").replace("infra.schema.", "")
    text = re.sub(r"Annotated\[str, StringConstraints\(.*?\)\]", "str", text)
    text = re.sub(r"Annotated\[int, FieldInfo\(.*?metadata=\[.*?\]\)\]", "int", text)
    text = re.sub(r"Annotated\[str, AfterValidator\(func=<function _service_name.*?>\)\]", "service", text)
    text = re.sub(r"Annotated\[int \| str, PlainValidator\(.*?mode=None\)\]", "int or 'low-high'", text)
    return text.replace("<class '", "").replace("'>", "").replace("datetime.", "")


def render() -> str:
    lines = [
        "# Site model reference",
        "",
        "Generated from `infra/schema.py` by `python -m infra.schema_doc`; do not edit by hand.",
        "Unknown keys are errors. Codes and names are lower-case ASCII slugs (2-63 characters).",
        "Files are read strictly (YAML 1.2 core schema): only `true`/`false` are booleans (`yes`, `no`, `on`",
        "are text), a number is never written in quotes nor a boolean where a number goes, a key may not be",
        "written twice, anchors/aliases and symbolic links are refused, and an empty file is an error.",
        "",
    ]
    for file, intro, models in FILES:
        lines += [f"## `{file}`", "", intro, ""]
        for model in models:
            lines += [f"### {model.__name__}", "", "| field | type | required | description |", "|---|---|---|---|"]
            for name, field in model.model_fields.items():
                key = field.alias or name
                required = "yes" if field.is_required() else f"no (default `{field.default!r}`)"
                description = (field.description or "").replace("|", "\\|")
                kind = _type(field.annotation).replace("|", "\\|")
                lines.append(f"| `{key}` | {kind} | {required} | {description} |")
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
