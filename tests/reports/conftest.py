"""Fixtures of the report tests: the sample site, and a copy of it with a git history built here."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventories" / "thainguyen"

# The sample's applications on the province cloud, in the order the history moves them there.
CLOUD_APPS = (
    "qlvb", "cong-ttdt", "thu-cong-vu", "giai-quyet-tthc", "lgsp",
    "du-lieu-dung-chung", "du-lieu-mo", "ban-do-so", "thainguyen-id", "yte-tu-xa",
)
"""Ten of the sample's eleven cloud applications; hoc-tap-truc-tuyen stays planned throughout."""

C1 = datetime.fromisoformat("2026-01-01T00:00:00+07:00")
C2 = datetime.fromisoformat("2026-04-02T00:00:00+07:00")  # C1 + 91 days
C3 = datetime.fromisoformat("2026-07-02T00:00:00+07:00")  # C1 + 182 days


def git(root: Path, *args: str, when: datetime | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.isoformat()
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args],
        cwd=root, env=env, check=True, capture_output=True, text=True,
    ).stdout


def applications(on_cloud: int) -> str:
    """applications.yml of the sample with only the first `on_cloud` of CLOUD_APPS on the cloud."""
    document: dict[str, Any] = yaml.safe_load((SAMPLE / "applications.yml").read_text(encoding="utf-8"))
    for app in document["applications"]:
        if app["hosting"] == "cloud" and app["id"] not in CLOUD_APPS[:on_cloud]:
            app["hosting"] = "planned"
            app.pop("tenant")
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


@pytest.fixture
def history_site(tmp_path: Path) -> Path:
    """The sample site in a git repository with a known history of applications.yml.

    C1: 0 of 17 on the province cloud (1 on a provider); C2 (+91 days): 5; a commit with a tenant
    file that fails the schema and one with broken YAML in applications.yml; C3 (+182 days): 10,
    the bad tenant file removed. The working tree is C3.
    """
    repo = tmp_path / "repo"
    site = repo / "inventories" / "tn"
    shutil.copytree(SAMPLE, site)
    git(repo, "init", "-q", "-b", "main")
    (site / "applications.yml").write_text(applications(0), encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "C1", when=C1)
    (site / "applications.yml").write_text(applications(5), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "C2", when=C2)
    bad = site / "tenants" / "bad.yml"
    bad.write_text((site / "tenants" / "so-yte.yml").read_text(encoding="utf-8")
                   .replace("code: so-yte", "code: bad").replace("security_level: 3", "security_level: 9"),
                   encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bad tenant", when=C2.replace(day=10))
    (site / "applications.yml").write_text("applications:\n  - id: [unclosed\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "broken yaml", when=C2.replace(day=11))
    (site / "applications.yml").write_text(applications(10), encoding="utf-8")
    bad.unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "C3", when=C3)
    return site
