"""Ansible lookup: a cephx key from the secrets folder, made on first use.

A shim: the logic lives in infra/cephx.py, unit-tested without Ansible. A lookup runs where Ansible
runs, so every host that needs a key gets the same one from the one secrets folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: hatang_cephx_key
short_description: A cephx key kept in the secrets folder (made on first use)
options:
  _terms: {description: The key file's path on the machine running Ansible, required: true}
"""


class LookupModule(LookupBase):  # type: ignore[misc]
    def run(self, terms: list[str], variables: Any = None, **kwargs: Any) -> list[str]:
        from infra.cephx import CephxError, cephx_key

        try:
            return [cephx_key(Path(term).expanduser()) for term in terms]
        except CephxError as exc:
            raise AnsibleLookupError(f"hatang_cephx_key: {exc}") from exc
