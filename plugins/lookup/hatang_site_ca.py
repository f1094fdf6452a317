"""Ansible lookup: the site CA's certificate, or a server certificate it signs.

A shim: the logic lives in infra/pki.py, unit-tested without Ansible. A lookup runs where Ansible
runs, whatever connection the hosts use, so the CA's key never leaves that machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: hatang_site_ca
short_description: The site CA (made on first use) and the certificates it signs
description:
  - "C(ca): the CA certificate (PEM), made with its key in O(dir) on first use."
  - "C(cert): a server certificate for O(csr), signed by the CA; O(current) again while it still fits
    (same CA, key, subject and names, more than 30 days left)."
options:
  _terms: {description: "C(ca) or C(cert)", required: true}
  dir: {description: The site CA's folder on the machine running Ansible, required: true}
  common_name: {description: The CA's name when it is made, default: hatang site CA}
  ca_days: {description: The CA's lifetime in days when it is made, default: 3650}
  csr: {description: "C(cert): the host's certificate signing request (PEM)"}
  current: {description: "C(cert): the host's certificate in place (PEM), if any", default: ""}
  days: {description: "C(cert): the certificate's lifetime in days", default: 365}
"""


class LookupModule(LookupBase):  # type: ignore[misc]
    def run(self, terms: list[str], variables: Any = None, **kwargs: Any) -> list[str]:
        from infra.errors import HatangError
        from infra.pki import issue, site_ca

        if terms not in (["ca"], ["cert"]):
            raise AnsibleLookupError(f"hatang_site_ca: ask for 'ca' or 'cert', not {terms!r}")
        try:
            ca = site_ca(
                Path(kwargs["dir"]).expanduser(),
                str(kwargs.get("common_name", "hatang site CA")),
                int(kwargs.get("ca_days", 3650)),
            )
            if terms == ["ca"]:
                return [ca.pem]
            return [issue(ca, str(kwargs["csr"]), str(kwargs.get("current") or ""), int(kwargs.get("days", 365)))]
        except KeyError as exc:
            raise AnsibleLookupError(f"hatang_site_ca: missing option {exc}") from exc
        except HatangError as exc:
            raise AnsibleLookupError(f"hatang_site_ca: {exc}") from exc
