"""Start the CrossGuard pack (called only by pulumi/policy/__main__.py: it blocks serving gRPC)."""

from __future__ import annotations

import os
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

from infra.stacks.policies import make_policies
from infra.validate import load_valid_site

__all__ = ["PACK_NAME", "serve"]

PACK_NAME = "hatang"


def serve() -> None:
    """Load the site named by $HATANG_INVENTORY (relative to the repository root) and serve."""
    inventory = os.environ.get("HATANG_INVENTORY")
    if not inventory:
        raise SystemExit("set HATANG_INVENTORY to the site folder, e.g. inventories/aio")
    path = Path(inventory)
    if not path.is_absolute():
        path = Path(__file__).resolve().parents[2] / path
    site = load_valid_site(path)
    PolicyPack(
        name=PACK_NAME,
        policies=make_policies(site),
        enforcement_level=EnforcementLevel.MANDATORY,
        description=f"hatang mandatory rules for site {site.name}",
    )
