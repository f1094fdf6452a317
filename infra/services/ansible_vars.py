"""The catalogue as Ansible variables: what the roles need to fit together, rendered once.

The site inventory adds these to group `all`, so no playbook or role restates a port, an endpoint
URL, a database, a queue user or a secret. Values that depend on the host or the play stay
Jinja expressions, evaluated by Ansible where used: the api-zone address (`hatang_api_address`),
the scheme and backend address the TLS switch decides (`_hatang_scheme`,
`_hatang_backend_address`, `_hatang_tls`, `_hatang_cacert`; playbooks/vars/openstack.yml) and the
secrets folder (`_hatang_secrets`; playbooks/vars/secrets.yml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.services._model import Catalogue, Secret, Service

__all__ = ["CACHE", "DATABASE", "MESSAGING", "PASSWORD_TAIL", "generated_password", "platform_vars", "secret_lookup"]

DATABASE, MESSAGING, CACHE = "mariadb", "rabbitmq", "memcached"
"""The catalogue's services every other service reaches (their roles own the variables)."""

PASSWORD_TAIL = "-Hk7"
"""Appended to every generated password: it then satisfies keystone_password_regex (upper, lower,
digit) whatever the random part drew."""
_PASSWORD = (
    "{{{{ lookup('ansible.builtin.password', _hatang_secrets ~ '/{file}', length=28, "
    "chars=['ascii_letters', 'digits']) }}}}" + PASSWORD_TAIL
)
"""Generated on first use in the secrets folder, read back later."""
_KEY = (
    "{{{{ lookup('ansible.builtin.password', _hatang_secrets ~ '/{file}', length=32, "
    "chars=['ascii_letters', 'digits']) | b64encode }}}}"
)
"""32 random characters (190 bits), base64-encoded: a key-encryption key."""
_CEPHX = "{{{{ lookup('hatang_cephx_key', _hatang_secrets ~ '/{file}') }}}}"
"""A Ceph key (infra/cephx.py), made on first use in the secrets folder."""


def generated_password(secrets_dir: Path, file: str) -> str:
    """A password as the roles use it: the secrets folder's file (written by the lookup) and the tail."""
    return (secrets_dir / file).read_text(encoding="utf-8").strip() + PASSWORD_TAIL


def secret_lookup(secret: Secret) -> str:
    """The Jinja expression that generates the secret into the secrets folder, or reads it back."""
    return {"key": _KEY, "cephx": _CEPHX}.get(secret.kind, _PASSWORD).format(file=secret.file)


def _secrets(service: Service) -> list[Secret]:
    role = service.role
    out = [Secret(variable=f"{DATABASE}_{role}_password", file=f"db-{role}")] if service.databases else []
    if service.messaging:
        out.append(Secret(variable=f"{MESSAGING}_{role}_password", file=f"mq-{role}"))
    if service.service_user:
        out.append(Secret(variable=f"{role}_service_password", file=f"ks-{role}"))
    return out + list(service.secrets)


def _own_port(name: str, service: Service) -> int | None:
    """The port behind `<role>_port`: the first port of the service named after its role."""
    return service.all_ports[0] if name.replace("-", "_") == service.role and service.all_ports else None


def _service_vars(name: str, service: Service, catalogue: Catalogue) -> dict[str, Any]:
    role = service.role
    out: dict[str, Any] = {}
    port = _own_port(name, service)
    if port is not None:
        out[f"{role}_port"] = port
        fronted = "{{ _hatang_backend_address }}" if service.fronted_port else "{{ hatang_api_address }}"
        out[f"{role}_bind_address"] = fronted
    # loopback ports too: their clients on the same host need the number as much as remote ones
    out.update({f"{role}_{key}_port": port for key, port in service.named_ports.items()})
    if service.port_range:
        out[f"{name.replace('-', '_')}_port_range"] = list(service.port_range)
    if service.fronted_port:
        path = service.api.path if service.api else "/"
        url = f"{{{{ _hatang_scheme }}}}://{{{{ hatang_api_endpoint }}}}:{service.fronted_port}{path}"
        out[f"{role}_public_url"] = url
        out[f"{role}_proxy_headers"] = "{{ _hatang_tls }}"
        out[f"{role}_cacert"] = "{{ _hatang_cacert }}"
        if role != "keystone":  # every other service reaches Keystone and its cache the same way
            out[f"{role}_memcache_servers"] = "{{ keystone_memcache_servers }}"
            out[f"{role}_keystone_url"] = "{{ keystone_internal_url }}"
            out[f"{role}_region"] = "{{ keystone_region }}"
    if service.api is not None:
        out[f"{role}_catalog_entry"] = {  # registered by openstack_api_service (register)
            "name": service.api.name or name,
            "type": service.api.type,
            "description": service.description,
        }
    if service.databases:
        out[f"{role}_db_host"] = "{{ hatang_api_endpoint }}"
        out[f"{role}_db_password"] = f"{{{{ {DATABASE}_{role}_password }}}}"
    if service.messaging:
        mq = catalogue.services[MESSAGING].all_ports[0]
        # every broker of the cluster: oslo.messaging moves to the next when one goes away
        out[f"{role}_transport_url"] = (
            f"rabbit://{{% for c in hatang_controllers %}}{role}:{{{{ {MESSAGING}_{role}_password }}}}"
            f"@{{{{ c.address }}}}:{mq}{{{{ '' if loop.last else ',' }}}}{{% endfor %}}/"
        )
        # replicated queues when there are several brokers (what OpenStack 2025.1 recommends)
        out[f"{role}_rabbit_quorum_queue"] = "{{ hatang_controllers | length > 1 }}"
    for secret in _secrets(service):
        out[secret.variable] = secret_lookup(secret)
    return out


def platform_vars(catalogue: Catalogue) -> dict[str, Any]:
    """Every variable the catalogue decides, by name (group `all` of the site inventory)."""
    services = catalogue.services
    out: dict[str, Any] = {
        "tls_front_ports": {name: s.fronted_port for name, s in services.items() if s.fronted_port},
        f"{DATABASE}_databases": [
            {"name": db, "user": s.role, "password": f"{{{{ {DATABASE}_{s.role}_password }}}}"}
            for s in services.values()
            for db in s.databases
        ],
        f"{MESSAGING}_users": [
            {"name": s.role, "password": f"{{{{ {MESSAGING}_{s.role}_password }}}}"}
            for s in services.values()
            if s.messaging
        ],
        # one cache per controller: the clients spread keys over them and skip a dead one
        "keystone_memcache_servers": (
            f"{{{{ hatang_controllers | map(attribute='address') | map('regex_replace', '$', "
            f"':{services[CACHE].all_ports[0]}') | list }}}}"
        ),
        # where clients reach the APIs and the database: the controllers' shared address, if several
        "hatang_api_endpoint": "{{ hatang_api_vip or hatang_api_address }}",
    }
    for name, service in services.items():
        out.update(_service_vars(name, service, catalogue))
    return out
