"""Fixtures and hooks of the host checks come from the plugin, so the CLI and plain pytest agree."""

from infra.audit.plugin import *  # noqa: F403
