"""Static checks of roles/baseline: documented variables, control coverage, container safety.

The behaviour on hosts is tested by the role's Molecule scenario (roles/baseline/molecule/default).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from infra.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "baseline"
# Task names start with one or more control ids, then " | ".
TASK_IDS = re.compile(r"^((?:HT-[A-Z]+-\d{2} )+)\| ")


def _load(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _tasks() -> list[dict[str, object]]:
    tasks: list[dict[str, object]] = []
    for path in sorted((ROLE / "tasks").glob("*.yml")):
        tasks.extend(_load(path) or [])
    return tasks


def _control_ids() -> set[str]:
    """The controls the catalogue says the role implements (`implemented_by`)."""
    return {c.id for c in load_catalogue().controls if "roles/baseline" in c.implemented_by}


def test_baseline_argument_specs_cover_every_default() -> None:
    defaults = _load(ROLE / "defaults" / "main.yml")
    specs = _load(ROLE / "meta" / "argument_specs.yml")
    options = specs["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    for name, option in options.items():
        assert option.get("description"), name
        assert option.get("type"), name
        assert option.get("default") == defaults[name], name


def test_baseline_defaults_are_role_prefixed() -> None:
    assert all(name.startswith("baseline_") for name in _load(ROLE / "defaults" / "main.yml"))


def test_baseline_tasks_implement_every_control_of_the_catalogue_naming_it() -> None:
    implemented: set[str] = set()
    for task in _tasks():
        match = TASK_IDS.match(" ".join(str(task.get("name", "")).split()))
        if match:
            implemented.update(match.group(1).split())
    wanted = _control_ids()
    assert wanted, "no control of the catalogue names roles/baseline"
    assert sorted(wanted - implemented) == []
    assert sorted(implemented - wanted) == []


def test_baseline_net_sysctl_extras_are_net_keys() -> None:
    defaults = _load(ROLE / "defaults" / "main.yml")
    assert all(key.startswith("net.") for key in defaults["baseline_sysctl_net_extra"])


def test_baseline_never_applies_kernel_sysctls_in_a_container() -> None:
    # Every task that applies a sysctl file either loads the net.* file or is gated on not
    # running in a container; and the role never runs `sysctl --system` / `-p` without a file.
    text = (ROLE / "tasks" / "sysctl.yml").read_text(encoding="utf-8")
    assert "--system" not in text
    for task in _load(ROLE / "tasks" / "sysctl.yml"):
        argv = (task.get("ansible.builtin.command") or {}).get("argv", [])
        if "--load" in argv:
            if "baseline_sysctl_net_file" in str(argv):
                continue
            assert "not (_baseline_in_container | bool)" in task["when"], task["name"]
    for task in _tasks():
        assert "ansible.posix.sysctl" not in task, task["name"]


def test_baseline_blocks_the_kernel_modules_of_the_catalogue() -> None:
    """The role's default list is the control's parameter: a module added to one is added to both."""
    (control,) = [c for c in load_catalogue().controls if c.id == "HT-KMOD-01"]
    defaults = _load(ROLE / "defaults" / "main.yml")
    assert defaults["baseline_kmod_blocked"] == list(control.parameters["modules"])


def test_baseline_never_unloads_kernel_modules_in_a_container() -> None:
    for task in _load(ROLE / "tasks" / "kmod.yml"):
        if "community.general.modprobe" in task:
            assert "not (_baseline_in_container | bool)" in task["when"], task["name"]


def test_baseline_handlers_use_listen_topics() -> None:
    for handler in _load(ROLE / "handlers" / "main.yml"):
        assert handler.get("listen", "").startswith("baseline "), handler["name"]


def test_baseline_readme_lists_every_variable() -> None:
    readme = (ROLE / "README.md").read_text(encoding="utf-8")
    options = _load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert [name for name in options if f"`{name}`" not in readme] == []
