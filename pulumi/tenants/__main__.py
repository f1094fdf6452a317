"""Pulumi program of the tenants stack; the code lives in infra.stacks.tenants."""

from infra.stacks.tenants import main

main()
