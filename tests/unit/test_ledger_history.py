"""The ledger is append-only: `hatang validate` compares it with the ledger committed at a base revision."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from infra import ledger_history
from infra.cli import app
from infra.errors import HatangError
from infra.ledger_history import check_append_only
from infra.site import display_path
from infra.tenants import approve_tenant, create_tenant
from infra.validate import check_site
from tests.conftest import LOCAL_STATE, SAMPLE
from tests.unit.test_tenants import _new

runner = CliRunner()
AT = datetime(2026, 12, 1, 9, 0, tzinfo=timezone(timedelta(hours=7)))
NOTE = "note: ledger.yml append-only check not done"
SITE = Path("inventories") / "thainguyen"
LEDGER = "ledger.yml"


@pytest.fixture(autouse=True)
def _hermetic_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git configuration, and no repository above the test's folder."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=60)
    return result.stdout.strip()


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def make_repo(repo: Path) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "user.email", "test@example.org")
    git(repo, "config", "commit.gpgsign", "false")
    (repo / ".gitignore").write_text(".hatang-cache/\n.hatang.lock\n", encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding a copy of the sample site in inventories/thainguyen, committed."""
    top = tmp_path / "repo"
    make_repo(top)
    shutil.copytree(SAMPLE, top / SITE, ignore=LOCAL_STATE)
    commit_all(top, "site")
    return top


@pytest.fixture
def site(repo: Path) -> Path:
    return repo / SITE


# --------------------------------------------------------------------------- editing the ledger


def split(root: Path) -> tuple[str, list[str]]:
    """The ledger as its text up to `allocations:` and one text block per entry."""
    head, marker, body = (root / "ledger.yml").read_text(encoding="utf-8").partition("allocations:\n")
    assert marker and body.startswith("  - "), "the sample ledger is in the layout hatang writes"
    return head + marker, re.split(r"(?m)^(?=  - )", body)[1:]


def join(root: Path, head: str, blocks: list[str]) -> None:
    (root / "ledger.yml").write_text(head + "".join(blocks), encoding="utf-8")


def entry_line(root: Path, index: int) -> int:
    """1-based line at which entry `index` starts."""
    lines = (root / "ledger.yml").read_text(encoding="utf-8").splitlines()
    starts = [number for number, line in enumerate(lines, 1) if line.startswith("  - ")]
    return starts[index]


def problems(root: Path, base: str | None = None) -> list[str]:
    return [str(p) for p in check_append_only(root, base).problems]


def validate(root: Path, *args: str) -> Result:
    result = runner.invoke(app, ["validate", str(root), *args])
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


# --------------------------------------------------------------------------- what passes


def test_unchanged_ledger_passes_without_a_note(site: Path) -> None:
    result = validate(site)
    assert result.exit_code == 0, result.stderr
    assert "valid (8 zones" in result.stdout
    assert NOTE not in result.stderr
    assert check_append_only(site) == ledger_history.AppendOnly()


def test_approval_appends_and_passes_against_the_base(site: Path) -> None:
    _, before = split(site)
    create_tenant(site, _new(), "a@example.org", "new", at=AT)
    approve_tenant(site, "so-xd", "b@example.org", at=AT)
    _, after = split(site)
    assert len(after) > len(before) and after[: len(before)] == before
    assert problems(site) == []
    result = validate(site, "--ledger-base", "HEAD")
    assert result.exit_code == 0, result.stderr


def test_a_new_layout_with_the_same_entries_is_no_change(site: Path) -> None:
    path = site / "ledger.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump(data, default_flow_style=None, width=4096), encoding="utf-8")
    assert not path.read_text(encoding="utf-8").startswith("#"), "the layout really changed"
    assert problems(site) == []
    assert validate(site).exit_code == 0


def test_a_ledger_new_since_the_base_has_nothing_to_keep(repo: Path, site: Path) -> None:
    text = (site / "ledger.yml").read_text(encoding="utf-8")
    (site / "ledger.yml").unlink()
    commit_all(repo, "a site from before the ledger")
    (site / "ledger.yml").write_text(text, encoding="utf-8")  # what `hatang ledger init` would write
    assert check_append_only(site) == ledger_history.AppendOnly()
    result = validate(site)
    assert result.exit_code == 0, result.stderr
    assert NOTE not in result.stderr


def test_site_at_the_top_of_its_repository(tmp_path: Path) -> None:
    top = tmp_path / "thainguyen"
    shutil.copytree(SAMPLE, top, ignore=LOCAL_STATE)
    make_repo(top)
    commit_all(top, "site")
    head, blocks = split(top)
    join(top, head, blocks[1:])
    (found,) = [p for p in problems(top) if "allocations.0:" in p]
    assert found.startswith(f"{display_path(top / LEDGER)}:{entry_line(top, 0)}: allocations.0: entry 0 at HEAD")


# --------------------------------------------------------------------------- what fails


def test_deleting_entries_with_their_tenant_file_is_caught(site: Path) -> None:
    """The hole this check closes: the other rules accept the site once both are gone."""
    head, blocks = split(site)
    kept = [b for b in blocks if 'tenant: "so-tttt"' not in b]
    assert len(blocks) - len(kept) == 3
    join(site, head, kept)
    (site / "tenants" / "so-tttt.yml").unlink()
    assert check_site(site) == [], "without the history every other rule passes"
    found = problems(site)
    assert len(found) == 3, found
    first_line = entry_line(site, 0)
    assert found[0].startswith(
        f"{display_path(site / LEDGER)}:{first_line}: allocations.0: entry 0 at HEAD, line {first_line} "
        "(10.64.0.0/22 for tenant 'so-tttt') was removed (fix: a prefix once handed out stays recorded; "
        "the ledger is append-only: put the entry back as it was (git show HEAD:inventories/thainguyen/ledger.yml"
    )
    result = validate(site)
    assert result.exit_code == 2
    assert result.stderr.count("was removed") == 3
    assert "3 problem(s); nothing was changed." in result.stderr


def test_deleted_entry_in_the_middle_names_its_line(site: Path) -> None:
    head, blocks = split(site)
    line = entry_line(site, 10)
    join(site, head, blocks[:10] + blocks[11:])
    (found,) = problems(site)
    assert re.match(rf".*ledger\.yml:{line}: allocations\.10: entry 10 at HEAD, line {line} \(.*\) was removed", found)


def test_truncated_tail_is_every_entry_removed(site: Path) -> None:
    head, blocks = split(site)
    join(site, head, blocks[:-2])
    found = problems(site)
    assert [f"allocations.{len(blocks) - 2}:", f"allocations.{len(blocks) - 1}:"] == [
        re.search(r"allocations\.\d+:", p).group(0)  # type: ignore[union-attr]
        for p in found
    ]
    assert all("was removed" in p for p in found)


@pytest.mark.parametrize(
    ("field", "old", "new"),
    [
        ("prefix", '"10.64.0.0/24"', '"10.64.1.0/24"'),
        ("tenant", '"so-tttt"', '"so-tc"'),
        ("at", '"2026-04-05T10:00:00+07:00"', '"2026-04-05T03:00:00+00:00"'),  # the same instant, rewritten
        ("by", '"ttdl@sokhcn.thainguyen.example"', '"someone@else.example"'),
    ],
)
def test_edited_entry_is_reported_with_what_changed(site: Path, field: str, old: str, new: str) -> None:
    head, blocks = split(site)
    assert f"    {field}: {old}\n" in blocks[1] or f"  - {field}: {old}\n" in blocks[1]
    blocks[1] = blocks[1].replace(f"{field}: {old}", f"{field}: {new}")
    join(site, head, blocks)
    (found,) = problems(site)
    line = entry_line(site, 1)
    assert f"ledger.yml:{line}: allocations.1: entry 1 at HEAD, line {line} (" in found
    assert f"was edited: {field} was '{old[1:-1]}', now '{new[1:-1]}'" in found
    assert "(fix: entries are never edited;" in found
    result = validate(site)
    assert result.exit_code == 2 and "was edited" in result.stderr


def test_reordered_entries_are_reported(site: Path) -> None:
    head, blocks = split(site)
    blocks[3], blocks[4] = blocks[4], blocks[3]
    join(site, head, blocks)
    assert check_site(site) == [], "a reordering alone passes every other rule"
    found = problems(site)
    assert found and all("entries are never reordered" in p for p in found), found
    result = validate(site)
    assert result.exit_code == 2 and "entries are never reordered" in result.stderr


def test_entry_inserted_before_committed_ones_is_reported(site: Path) -> None:
    create_tenant(site, _new(), "a@example.org", "new", at=AT)
    approve_tenant(site, "so-xd", "b@example.org", at=AT)
    head, blocks = split(site)
    committed = sum('"so-xd"' not in b for b in blocks)
    assert committed < len(blocks) and all('"so-xd"' in b for b in blocks[committed:])
    join(site, head, [blocks[committed], *blocks[:committed], *blocks[committed + 1 :]])
    found = problems(site)
    assert any("allocations.0:" in p and "is added before entry 0 at HEAD" in p for p in found), found


def test_merge_request_check_needs_the_target_branch(repo: Path, site: Path) -> None:
    """A branch that commits the deletion passes against HEAD; CI gives the target branch."""
    git(repo, "checkout", "-q", "-b", "feature")
    head, blocks = split(site)
    join(site, head, [b for b in blocks if 'tenant: "so-tttt"' not in b])
    (site / "tenants" / "so-tttt.yml").unlink()
    commit_all(repo, "drop so-tttt")
    assert validate(site).exit_code == 0, "against its own HEAD the branch changed nothing"
    result = validate(site, "--ledger-base", "main")
    assert result.exit_code == 2
    assert (
        "entry 0 at main, line" in result.stderr and "git show main:inventories/thainguyen/ledger.yml" in result.stderr
    )
    merge_base = git(repo, "merge-base", "main", "HEAD")
    assert validate(site, "--ledger-base", merge_base).exit_code == 2


def test_deleted_ledger_file_is_reported_twice_over(site: Path) -> None:
    (site / "ledger.yml").unlink()
    existing = [str(p) for p in check_site(site)]
    assert any("ledger.yml: missing: the allocation ledger" in p for p in existing), existing
    (found,) = problems(site)
    assert found.endswith(
        "ledger.yml: deleted, but HEAD records 57 allocation(s) in it (fix: the ledger is never removed: restore it "
        "with `git checkout HEAD -- inventories/thainguyen/ledger.yml` and keep its entries)"
    )
    result = validate(site)
    assert result.exit_code == 2
    assert "deleted, but HEAD records 57" in result.stderr and "missing: the allocation ledger" in result.stderr


def test_other_problems_and_history_problems_come_together(site: Path) -> None:
    hcc = site / "tenants" / "hcc.yml"
    hcc.write_text(hcc.read_text(encoding="utf-8").replace("agency: ttpvhcc", "agency: nobody"), encoding="utf-8")
    head, blocks = split(site)
    join(site, head, blocks[:-1])
    result = validate(site)
    assert result.exit_code == 2
    assert "unknown agency 'nobody'" in result.stderr and "was removed" in result.stderr


def test_long_values_are_cut_in_messages(site: Path) -> None:
    head, blocks = split(site)
    blocks[0] = blocks[0].replace('"ttdl@sokhcn.thainguyen.example"', '"' + "x" * 200 + '"')  # Text allows 255
    join(site, head, blocks)
    (found,) = problems(site)
    assert "x" * 58 + "…" in found and "x" * 60 not in found


def test_git_hook_variables_do_not_redirect_the_check(
    tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    make_repo(other)
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    head, blocks = split(site)
    join(site, head, blocks[1:])
    assert any("was removed" in p for p in problems(site))


# --------------------------------------------------------------------------- when nothing is compared


def test_outside_git_passes_with_one_note(site_copy: Path) -> None:
    checked = check_append_only(site_copy)
    assert checked.problems == () and checked.skipped is not None
    assert checked.skipped.startswith("not in a git work tree")
    result = validate(site_copy)
    assert result.exit_code == 0, result.stderr
    assert "valid (8 zones" in result.stdout
    notes = [line for line in result.stderr.splitlines() if line]
    assert len(notes) == 1 and notes[0].startswith(f"{NOTE}: not in a git work tree"), notes


def test_without_git_installed_passes_with_one_note(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-git"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert check_append_only(site) == ledger_history.AppendOnly(skipped="git is not installed")
    result = validate(site)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == f"{NOTE}: git is not installed"


def test_unborn_head_passes_with_a_note(tmp_path: Path) -> None:
    top = tmp_path / "fresh"
    make_repo(top)
    shutil.copytree(SAMPLE, top / SITE, ignore=LOCAL_STATE)
    result = validate(top / SITE)
    assert result.exit_code == 0, result.stderr
    assert f"{NOTE}: HEAD has no commit yet" in result.stderr


def test_unreadable_committed_ledger_is_a_note_not_a_pass_in_silence(repo: Path, site: Path) -> None:
    text = (site / "ledger.yml").read_text(encoding="utf-8")
    (site / "ledger.yml").write_text("allocations: [unclosed\n", encoding="utf-8")
    commit_all(repo, "broken ledger")
    (site / "ledger.yml").write_text(text, encoding="utf-8")
    result = validate(site)
    assert result.exit_code == 0, result.stderr
    assert f"{NOTE}: the ledger committed at HEAD does not read (line" in result.stderr


# --------------------------------------------------------------------------- --ledger-base errors


@pytest.mark.parametrize("rev", ["no-such-branch", "-x", "HEAD~99"])
def test_unknown_ledger_base_is_a_clear_error(site: Path, rev: str) -> None:
    result = validate(site, f"--ledger-base={rev}")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: --ledger-base {rev}: no such commit in the git repository holding ")
    assert "(fix: give a branch, tag or commit the checkout has; in CI fetch it first" in result.stderr
    with pytest.raises(HatangError, match="no such commit"):
        check_append_only(site, rev)


def test_ledger_base_outside_git_is_an_error_not_a_silent_pass(site_copy: Path) -> None:
    result = validate(site_copy, "--ledger-base", "origin/main")
    assert result.exit_code == 2
    assert (
        "error: --ledger-base origin/main: cannot compare the ledger with it: not in a git work tree" in result.stderr
    )


def test_a_hung_git_is_an_error_with_exit_2(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "slow-bin"
    bin_dir.mkdir()
    fake = bin_dir / "git"
    fake.write_text("#!/bin/sh\nexec sleep 5\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(ledger_history, "GIT_TIMEOUT", 0.3)
    result = validate(site)
    assert result.exit_code == 2
    assert "error: git rev-parse did not answer within 0.3 s while checking the ledger's history" in result.stderr


# --------------------------------------------------------------------------- the installed command


def test_console_script_reports_removed_entries(site: Path) -> None:
    head, blocks = split(site)
    join(site, head, blocks[:5] + blocks[6:])
    hatang = Path(sys.executable).with_name("hatang")
    run = subprocess.run(
        [str(hatang), "validate", str(site), "--ledger-base", "main"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert re.search(
        r"ledger\.yml:\d+: allocations\.5: entry 5 at main, line \d+ \(.*\) was removed \(fix: ", run.stderr
    )
    no_git = subprocess.run(
        [str(hatang), "validate", str(site), "--ledger-base", "main"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "PATH": "/nonexistent"},
    )
    assert no_git.returncode == 2 and "Traceback" not in no_git.stdout + no_git.stderr
    assert "error: --ledger-base main: cannot compare the ledger with it: git is not installed" in no_git.stderr


def test_a_line_appended_to_the_last_committed_entry_is_an_edit(repo: Path, site: Path) -> None:
    """Appending is only safe a whole entry at a time: a trailing `network:` would change the last one."""
    head, blocks = split(site)
    last = max(i for i, b in enumerate(blocks) if "network:" not in b)
    join(site, head, blocks[: last + 1])
    commit_all(repo, "a ledger ending with a tenant prefix")
    ledger = site / "ledger.yml"
    ledger.write_text(ledger.read_text(encoding="utf-8") + '    network: "app"\n', encoding="utf-8")
    (found,) = problems(site)
    assert f"allocations.{last}: entry {last} at HEAD" in found and "was edited: network was None, now 'app'" in found
