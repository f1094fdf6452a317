"""PAM decisions of the host checks (HT-AUTH-01/02/03/06), as pure functions over file texts.

PAM stacks are read as Linux-PAM assembles them (comments, `\\` continuations, `@include`,
`include` and `substack`, `[value=action]` controls) and judged as it runs them (see
`pam_guarded`); module options as the modules read them (`faillock_settings`,
`pwquality_settings`, `pwhistory_settings`). Unit-tested against the texts that evade them in
tests/unit/test_host_evasions.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from infra.audit import probes
from infra.audit._finding import Finding, to_int

__all__ = [
    "PamError",
    "PamReader",
    "PamRule",
    "faillock_finding",
    "faillock_settings",
    "nullok_lines",
    "pam_guarded",
    "pam_rules",
    "pam_runs_unskipped",
    "pwhistory_finding",
    "pwhistory_settings",
    "pwquality_finding",
    "pwquality_settings",
]

PamReader = Callable[[str], str | None]
"""Reads a host file: its text, None when it is absent or unreadable."""


class PamError(ValueError):
    """A PAM stack that cannot be read the way the host would read it."""


_KEYWORD_CONTROLS: dict[str, dict[str, str]] = {
    # Linux-PAM's _pam_parse_control / pam.conf(5): what the keywords stand for
    "required": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "bad"},
    "requisite": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "die"},
    "sufficient": {"success": "done", "new_authtok_reqd": "done", "default": "ignore"},
    "optional": {"success": "ok", "new_authtok_reqd": "ok", "default": "ignore"},
}
_FAILURE_CODE = {"auth": "auth_err", "account": "perm_denied", "password": "authtok_err", "session": "session_err"}
_PAM_TYPES = frozenset(_FAILURE_CODE)
_MAX_INCLUDE_DEPTH = 16
_MAX_PATHS = 20000


@dataclass(frozen=True)
class PamRule:
    """One module line of a flattened stack."""

    kind: str
    control: str
    actions: Mapping[str, str]
    module: str
    """Base name of the module (`pam_unix.so`), whatever path the line gave."""
    args: tuple[str, ...]
    where: str
    """`file:line` of the line."""
    substack: int = 0
    """Nesting depth of `substack` lines (0: the service's own stack)."""

    def action(self, code: str) -> str:
        """The action for a return code; unnamed codes take `default` (itself `bad` if absent)."""
        return self.actions.get(code, self.actions.get("default", "bad"))

    def arg(self, name: str) -> str | None:
        """The value of the last `name=value` argument, None when absent."""
        value = None
        for word in self.args:
            if word.startswith(name + "="):
                value = word.split("=", 1)[1]
        return value

    def describe(self) -> str:
        return f"{self.where} `{self.kind} {self.control} {' '.join((self.module, *self.args))}`"


def _pam_logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines as Linux-PAM assembles them: `#` starts a comment anywhere, a trailing `\\` joins the
    next line (after the comment is cut), blank lines are skipped."""
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined = (pending + line).strip()
        pending = ""
        if joined:
            yield start, joined
    if pending.strip():
        yield start, pending.strip()


_PAM_TOKEN = re.compile(r"\[(?:[^\]\\]|\\.)*\]|\S+")


def _parse_control(control: str, where: str) -> dict[str, str]:
    if control in _KEYWORD_CONTROLS:
        return dict(_KEYWORD_CONTROLS[control])
    if not (control.startswith("[") and control.endswith("]")):
        raise PamError(f"{where}: unknown control {control!r}")
    actions: dict[str, str] = {}
    for item in control[1:-1].split():
        key, sep, value = item.partition("=")
        if not sep or not value:
            raise PamError(f"{where}: malformed control item {item!r}")
        actions[key.lower()] = value.lower()
    return actions


def pam_rules(service: str, kind: str, read: PamReader, *, directory: str = "/etc/pam.d") -> list[PamRule]:
    """The flattened `kind` stack of a PAM service, as Linux-PAM builds it.

    `@include F` and `include` splice F's lines of the same type; `substack` splices them one
    level deeper (`PamRule.substack`). Module paths are reduced to their base names; a leading
    `-` on the type (module may be missing) is dropped: the module is treated as present.

    Args:
        service: a file name in `directory` (`common-auth`, `sshd`) or an absolute path.
        kind: `auth`, `account`, `password` or `session`.
        read: reads a file of the host (None when absent or unreadable).
        directory: where relative names are looked up.

    Returns:
        The rules in execution order.

    Raises:
        PamError: the file (or an included file) is absent or unreadable, includes nest too
            deep, or a line is malformed. Linux-PAM refuses such stacks, and so does the audit.
    """
    return _pam_rules(service, kind, read, directory, 0, 0)


def _pam_path(name: str, directory: str) -> str:
    return name if name.startswith("/") else f"{directory}/{name}"


def _pam_rules(name: str, kind: str, read: PamReader, directory: str, depth: int, sub: int) -> list[PamRule]:
    if depth > _MAX_INCLUDE_DEPTH:
        raise PamError(f"{name}: includes nest deeper than {_MAX_INCLUDE_DEPTH} (a loop?)")
    path = _pam_path(name, directory)
    text = read(path)
    if text is None:
        raise PamError(f"{path}: absent or not readable")
    rules: list[PamRule] = []
    for number, line in _pam_logical_lines(text):
        where = f"{path}:{number}"
        words = _PAM_TOKEN.findall(line)
        if words[0] == "@include":
            if len(words) < 2:
                raise PamError(f"{where}: @include without a file")
            rules += _pam_rules(words[1], kind, read, directory, depth + 1, sub)
            continue
        if len(words) < 3:
            raise PamError(f"{where}: expected `type control module [args]`, got {line!r}")
        line_kind = words[0].lstrip("-").lower()
        if line_kind not in _PAM_TYPES:
            raise PamError(f"{where}: unknown type {words[0]!r}")
        if line_kind != kind:
            continue
        control = words[1]
        if control.lower() in {"include", "substack"}:
            deeper = sub + (control.lower() == "substack")
            rules += _pam_rules(words[2], kind, read, directory, depth + 1, deeper)
            continue
        actions = _parse_control(control.lower() if not control.startswith("[") else control, where)
        module = words[2].rsplit("/", 1)[-1]
        rules.append(PamRule(line_kind, control, actions, module, tuple(words[3:]), where, sub))
    return rules


def _outcomes(rule: PamRule, target: Callable[[PamRule], bool], unprivileged: bool) -> tuple[str, ...]:
    failure = _FAILURE_CODE[rule.kind]
    if rule.module == "pam_permit.so":
        return ("success",)
    if rule.module == "pam_deny.so" or (unprivileged and rule.module == "pam_rootok.so"):
        return (failure,)
    if target(rule):
        return ("success", failure)
    named = [code for code in rule.actions if code not in {"default", "success", failure}]
    return ("success", failure, *named)


@dataclass(frozen=True)
class _Path:
    success: bool
    ran: tuple[tuple[int, str], ...]
    exit: int | None
    """Index of the rule that ended the stack early (`done`/`die`), None at the end."""
    jumps: tuple[int, ...]


def _paths(rules: Sequence[PamRule], target: Callable[[PamRule], bool], unprivileged: bool) -> Iterator[_Path]:
    """Every way through the stack, each module returning each outcome it can return.

    Follows Linux-PAM's _pam_dispatch_aux: `ok` marks success unless a failure was recorded,
    `bad` records a failure, `die` records it and stops, `done` stops with what is recorded,
    `N` skips N lines, `reset` forgets; the stack succeeds only when success was recorded.
    `unprivileged`: the program runs with the caller's real uid (su), so pam_rootok fails for
    everyone but root; a daemon (sshd, login) runs as root and pam_rootok succeeds for anyone.
    A substack's `done`/`die` are treated as ending the whole stack (conservative: it can only
    make a skipped module visible, never hide one).
    """
    count = 0

    def walk(
        i: int, impression: bool | None, ran: tuple[tuple[int, str], ...], jumps: tuple[int, ...]
    ) -> Iterator[_Path]:
        nonlocal count
        if i >= len(rules):
            count += 1
            if count > _MAX_PATHS:
                raise PamError(f"stack too complex to evaluate (> {_MAX_PATHS} paths)")
            yield _Path(impression is True, ran, None, jumps)
            return
        rule = rules[i]
        seen: set[str] = set()
        for outcome in _outcomes(rule, target, unprivileged):
            action = rule.action(outcome)
            if action in seen and not target(rule):
                continue  # same action, same continuation: one path stands for both
            seen.add(action)
            now = impression
            step = (*ran, (i, outcome))
            if action in {"ok", "done"}:
                now = impression is not False
                if action == "done":
                    yield _Path(now is True, step, i, jumps)
                    continue
            elif action in {"bad", "die"}:
                now = False
                if action == "die":
                    yield _Path(False, step, i, jumps)
                    continue
            elif action == "reset":
                now = None
            elif action.isdigit():
                yield from walk(i + 1 + int(action), now, step, (*jumps, i))
                continue
            yield from walk(i + 1, now, step, jumps)

    yield from walk(0, None, (), ())


def pam_guarded(
    rules: Sequence[PamRule], target: Callable[[PamRule], bool], label: str, *, unprivileged_caller: bool = False
) -> list[str]:
    """Why the stack can succeed without `target` passing (empty list: it cannot).

    The module guards the stack when, on every way through it that ends in success, a target
    line ran and returned success, and no target line failed. So a line that is commented out,
    `optional`, `[default=ignore]`, after a `sufficient pam_permit.so`, or jumped over by
    `[success=N]`, does not guard it.
    """
    if not any(target(r) for r in rules):
        return [f"{label} is not in the stack"]
    problems: list[str] = []
    for path in _paths(rules, target, unprivileged_caller):
        if not path.success:
            continue
        ran = [(rules[i], outcome) for i, outcome in path.ran if target(rules[i])]
        failed = [rule for rule, outcome in ran if outcome != "success"]
        if failed:
            problems.append(
                f"{label} fails and the stack still succeeds: {failed[0].describe()} has a control that ignores failure"
            )
        elif not ran:
            if path.exit is not None:
                cause = f"{rules[path.exit].describe()} ends the stack with success before it"
            elif skipping := [j for j in path.jumps if _jumps_over(rules, j, target)]:
                cause = f"{rules[skipping[0]].describe()} jumps over it"
            else:
                cause = "it is never reached"
            problems.append(f"the stack succeeds without running {label}: {cause}")
        if problems:
            break
    return problems


def nullok_lines(stacks: Mapping[str, Sequence[PamRule]]) -> list[str]:
    """The pam_unix lines of these stacks that let an account with an empty password in (`nullok`,
    Debian's older `nullok_secure`), each once however many stacks include it."""
    found: dict[str, str] = {}
    for rules in stacks.values():
        for rule in rules:
            if rule.module == "pam_unix.so" and {"nullok", "nullok_secure"} & set(rule.args):
                found.setdefault(rule.where, f"{rule.describe()} lets an empty password in (nullok)")
    return list(found.values())


def pam_runs_unskipped(rules: Sequence[PamRule], target: Callable[[PamRule], bool], label: str) -> list[str]:
    """Why a stack may end in success without `target` running (empty list: it cannot), judged line
    by line for stacks with too many ways through them for `pam_guarded` (session stacks of many
    `optional` modules): a target line whose failure fails the stack (`required`, `requisite`),
    before which no line can end the stack (`done`, as `sufficient` does) and no jump passes it."""
    candidates = [i for i, rule in enumerate(rules) if target(rule)]
    if not candidates:
        return [f"{label} is not in the stack"]
    problems: list[str] = []
    for index in candidates:
        rule = rules[index]
        ender = next((r for r in rules[:index] if "done" in r.actions.values()), None)
        jumper = next((r for j, r in enumerate(rules[:index]) if _jumps_over(rules, j, target)), None)
        if rule.action(_FAILURE_CODE[rule.kind]) not in ("bad", "die"):
            problems.append(f"{label} fails and the stack still succeeds: {rule.describe()} ignores its failure")
        elif ender is not None:
            problems.append(f"the stack succeeds without running {label}: {ender.describe()} can end it first")
        elif jumper is not None:
            problems.append(f"the stack succeeds without running {label}: {jumper.describe()} jumps over it")
        else:
            return []
    return problems[:1]


_CREDENTIAL_MODULES = frozenset({
    "pam_unix.so", "pam_sss.so", "pam_ldap.so", "pam_krb5.so", "pam_winbind.so", "pam_userdb.so",
    "pam_pwdfile.so", "pam_radius_auth.so", "pam_tacplus.so", "pam_oath.so", "pam_u2f.so",
    "pam_google_authenticator.so", "pam_yubico.so", "pam_pkcs11.so", "pam_systemd_home.so",
})  # fmt: skip
"""Modules that check a credential: on the wrong-password path they refuse."""


def _jumps_over(rules: Sequence[PamRule], index: int, target: Callable[[PamRule], bool]) -> bool:
    """Whether the jump of line `index` (on success or failure) can skip a target line."""
    steps = [int(a) for a in rules[index].actions.values() if a.isdigit()]
    return any(target(r) for n in steps for r in rules[index + 1 : index + 1 + n])


def _wrong_password_path(rules: Sequence[PamRule], authfail: Callable[[PamRule], bool]) -> tuple[bool, bool]:
    """(authfail ran, stack succeeded) on the wrong-password path: every credential module
    refuses, pam_deny refuses, every other module (nologin, faildelay, preauth...) succeeds."""
    impression: bool | None = None
    ran_authfail = False
    i = 0
    while i < len(rules):
        rule = rules[i]
        refuses = rule.module in _CREDENTIAL_MODULES or rule.module == "pam_deny.so" or authfail(rule)
        outcome = _FAILURE_CODE[rule.kind] if refuses else "success"
        ran_authfail = ran_authfail or authfail(rule)
        action = rule.action(outcome)
        if action in {"ok", "done"}:
            impression = impression is not False
            if action == "done":
                break
        elif action in {"bad", "die"}:
            impression = False
            if action == "die":
                break
        elif action == "reset":
            impression = None
        elif action.isdigit():
            i += int(action)
        i += 1
    return ran_authfail, impression is True


def _conf(read: PamReader, path: str) -> str:
    return read(path) or ""


# faillock's compiled-in defaults (pam_faillock(8), faillock.conf(5))
_FAILLOCK_DEFAULTS = {"deny": "3", "unlock_time": "600"}


def faillock_settings(rule: PamRule, read: PamReader) -> dict[str, str]:
    """The deny / unlock_time one pam_faillock line runs with.

    pam_faillock (args_parse) first reads its configuration file, `conf=` if the line gives one,
    else /etc/security/faillock.conf, then applies the line's own options: the PAM line wins,
    and the module's defaults (deny=3, unlock_time=600) fill what neither sets.
    `unlock_time=never` means never unlock (0).
    """
    path = rule.arg("conf") or "/etc/security/faillock.conf"
    values = dict(_FAILLOCK_DEFAULTS)
    values.update(probes.parse_keyvalues(_conf(read, path), "="))
    for word in rule.args:
        key, sep, value = word.partition("=")
        if sep and key in _FAILLOCK_DEFAULTS:
            values[key] = value
    if values["unlock_time"] == "never":
        values["unlock_time"] = "0"
    return values


def _faillock_preauth(rule: PamRule) -> bool:
    return rule.module == "pam_faillock.so" and "preauth" in rule.args


def _faillock_authfail(rule: PamRule) -> bool:
    return rule.module == "pam_faillock.so" and "authfail" in rule.args


def faillock_finding(services: Mapping[str, list[PamRule]], read: PamReader, max_deny: int, min_unlock: int) -> Finding:
    """HT-AUTH-01: every service's auth stack locks accounts after repeated failures.

    Per service: a `preauth` line guards the stack (a locked account cannot log in), an
    `authfail` line runs when the password is wrong (failures are counted) and a wrong password
    never ends in success; every faillock line runs with 1 <= deny <= max_deny and
    unlock_time 0 (never) or >= min_unlock.
    """
    problems: list[str] = []
    worst_deny: int | None = None
    worst_unlock: int | None = None
    for service, rules in services.items():
        problems += [f"{service}: {p}" for p in pam_guarded(rules, _faillock_preauth, "pam_faillock preauth")]
        if not any(_faillock_authfail(r) for r in rules):
            problems.append(f"{service}: pam_faillock authfail is not in the stack (failures are never counted)")
        else:
            ran, succeeded = _wrong_password_path(rules, _faillock_authfail)
            if not ran:
                problems.append(f"{service}: pam_faillock authfail does not run when the password is wrong")
            if succeeded:
                problems.append(f"{service}: a wrong password ends the stack in success")
        for rule in (r for r in rules if r.module == "pam_faillock.so"):
            values = faillock_settings(rule, read)
            deny, unlock = to_int(values["deny"]), to_int(values["unlock_time"])
            if deny is None or not 0 < deny <= max_deny:
                problems.append(f"{service}: {rule.where} runs with deny={values['deny']}, expected 1..{max_deny}")
            if unlock is None or not (unlock == 0 or unlock >= min_unlock):
                problems.append(
                    f"{service}: {rule.where} runs with unlock_time={values['unlock_time']}, "
                    f"expected 0 (never) or >= {min_unlock}"
                )
            if deny is not None:
                worst_deny = deny if worst_deny is None else max(worst_deny, deny)
            if unlock is not None:
                worst_unlock = unlock if worst_unlock is None else min(worst_unlock, unlock, key=_unlock_rank)
    return Finding(
        {"stacks": _stack_state(services, problems), "deny": worst_deny, "unlock_time": worst_unlock},
        {"stacks": "enforced", "deny": f"1..{max_deny}", "unlock_time": f">= {min_unlock} or 0"},
        not problems,
        tuple(problems),
    )


def _unlock_rank(value: int) -> float:
    return float("inf") if value == 0 else value


def _stack_state(services: Mapping[str, list[PamRule]], problems: list[str]) -> dict[str, str]:
    return {s: "not enforced" if any(p.startswith(f"{s}:") for p in problems) else "enforced" for s in services}


# libpwquality's compiled-in defaults (pwqprivate.h)
_PWQUALITY_DEFAULTS = {"minlen": "9", "minclass": "0", "enforcing": "1"}


def pwquality_settings(rule: PamRule, main: str | None, dropins: Sequence[str]) -> dict[str, str]:
    """The settings one pam_pwquality line runs with.

    libpwquality's pwquality_read_config reads `pwquality.conf.d/*.conf` (in strcmp order)
    FIRST and `pwquality.conf` LAST, so the main file overrides the drop-ins; pam_pwquality then
    applies the line's options over both (the PAM line wins). minlen below 6 counts as 6,
    minclass above 4 as 4 (pwquality_set_int_value).

    Args:
        rule: the pam_pwquality line.
        main: text of /etc/security/pwquality.conf (None when absent).
        dropins: texts of pwquality.conf.d/*.conf, in file-name order.
    """
    values = dict(_PWQUALITY_DEFAULTS)
    for text in (*dropins, main or ""):
        values.update(_pwquality_keys(text))
    for word in rule.args:
        key, _, value = word.partition("=")
        values[key] = value
    minlen = to_int(values.get("minlen"))
    if minlen is not None and minlen < 6:
        values["minlen"] = "6"
    minclass = to_int(values.get("minclass"))
    if minclass is not None and minclass > 4:
        values["minclass"] = "4"
    return values


def _pwquality_keys(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def pwquality_finding(
    services: Mapping[str, list[PamRule]], main: str | None, dropins: Sequence[str], key: str, minimum: int
) -> Finding:
    """HT-AUTH-02 (key minlen) / HT-AUTH-03 (key minclass): pam_pwquality guards every password
    stack, enforcing (`enforcing` not 0), with `key` >= minimum on every pwquality line."""
    problems: list[str] = []
    worst: int | None = None
    for service, rules in services.items():
        guarded = pam_guarded(rules, lambda r: r.module == "pam_pwquality.so", "pam_pwquality")
        problems += [f"{service}: {p}" for p in guarded]
        for rule in (r for r in rules if r.module == "pam_pwquality.so"):
            values = pwquality_settings(rule, main, dropins)
            value = to_int(values.get(key))
            if value is None or value < minimum:
                problems.append(f"{service}: {rule.where} runs with {key}={values.get(key)}, expected >= {minimum}")
            if values.get("enforcing") == "0":
                problems.append(f"{service}: {rule.where} runs with enforcing=0 (weak passwords only warned about)")
            if value is not None:
                worst = value if worst is None else min(worst, value)
    return Finding(
        {"stacks": _stack_state(services, problems), key: worst},
        {"stacks": "enforced", key: f">= {minimum}"},
        not problems,
        tuple(problems),
    )


def pwhistory_settings(rule: PamRule, read: PamReader) -> dict[str, str]:
    """The `remember` one pam_pwhistory line runs with.

    pam_pwhistory (parse_config_file, Linux-PAM >= 1.5) reads `conf=` or
    /etc/security/pwhistory.conf first, then the line's options: the PAM line wins; the module's
    default is remember=10.
    """
    values = {"remember": "10"}
    values.update(probes.parse_keyvalues(_conf(read, rule.arg("conf") or "/etc/security/pwhistory.conf"), "="))
    for word in rule.args:
        key, sep, value = word.partition("=")
        if sep:
            values[key] = value
    return values


def pwhistory_finding(services: Mapping[str, list[PamRule]], read: PamReader, minimum: int) -> Finding:
    """HT-AUTH-06: pam_pwhistory guards every password stack with remember >= minimum."""
    problems: list[str] = []
    worst: int | None = None
    for service, rules in services.items():
        guarded = pam_guarded(rules, lambda r: r.module == "pam_pwhistory.so", "pam_pwhistory")
        problems += [f"{service}: {p}" for p in guarded]
        for rule in (r for r in rules if r.module == "pam_pwhistory.so"):
            remember = to_int(pwhistory_settings(rule, read).get("remember"))
            if remember is None or remember < minimum:
                problems.append(f"{service}: {rule.where} runs with remember={remember}, expected >= {minimum}")
            if remember is not None:
                worst = remember if worst is None else min(worst, remember)
    return Finding(
        {"stacks": _stack_state(services, problems), "remember": worst},
        {"stacks": "enforced", "remember": f">= {minimum}"},
        not problems,
        tuple(problems),
    )
