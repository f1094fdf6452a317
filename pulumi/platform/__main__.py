"""Pulumi program of the platform stack; the code lives in infra.stacks.platform."""

from infra.stacks.platform import main

main()
