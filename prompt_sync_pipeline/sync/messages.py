"""Every remedy a run prints: the fix-it commands and the texts around them.

The run's ``Fixes`` knows how its user runs prompt-sync (the CLI with its ``--config``, the
same for a Dagster run of that configuration), so no message can forget it. Logic elsewhere
returns typed outcomes and calls these functions to word them.
"""

from __future__ import annotations

import errno
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .formatting import chat_text, indent, version_label

if TYPE_CHECKING:
    from .decide import PartChange
    from .formatting import Versioned


@dataclass(frozen=True)
class Fixes:
    """How the run's user settles a problem.

    From the CLI: commands with the run's prefix, ``prompt-sync`` or ``prompt-sync --config PATH``.
    In a Dagster run (``for_dagster``): the instance's jobs, to launch from the UI's launchpad with
    the run config to paste; what only the CLI can do (``--rebuild-state``) stays a command.
    """

    prefix: str = "prompt-sync"
    # A Dagster run: the job that takes keep_opik / keep_charter as run config, the sync job,
    # and the promote and rollback jobs.
    resolve_job: str | None = None
    sync_job: str | None = None
    promote_job: str | None = None
    rollback_job: str | None = None

    @classmethod
    def for_config(cls, config_path: str | Path | None) -> Fixes:
        if not config_path:
            return cls()
        return cls(f"prompt-sync --config {shlex.quote(str(config_path))}")

    @classmethod
    def for_dagster(
        cls,
        config_path: str | Path,
        *,
        resolve_job: str,
        sync_job: str,
        promote_job: str,
        rollback_job: str,
    ) -> Fixes:
        prefix = cls.for_config(config_path).prefix
        return cls(
            prefix,
            resolve_job=resolve_job,
            sync_job=sync_job,
            promote_job=promote_job,
            rollback_job=rollback_job,
        )

    def command(self, *args: str) -> str:
        """A command to copy as is, in backticks."""
        return "`" + " ".join([self.prefix, *map(shlex.quote, args)]) + "`"

    def launch(self, job: str, run_config: Mapping[str, object] | None = None) -> str:
        """A Dagster job to launch, with the run config to paste in the launchpad (YAML)."""
        if not run_config:
            return f"`{job}`"
        fields = ", ".join(f"{key}: {json.dumps(value)}" for key, value in run_config.items())
        return f"`{job}` (run config `{{{fields}}}`)"

    def keep_charter(self, name: str) -> str:
        if self.resolve_job:
            return self.launch(self.resolve_job, {"keep_charter": [name]})
        return self.command("sync", "--keep-charter", name)

    def keep_opik(self, name: str) -> str:
        if self.resolve_job:
            return self.launch(self.resolve_job, {"keep_opik": [name]})
        return self.command("sync", "--keep-opik", name)

    def keep_charter_once(self) -> str:
        """After editing the charter by hand: how to push that edit over Opik's, once."""
        if self.resolve_job:
            return f"launch `{self.resolve_job}` with keep_charter once"
        return "run `--keep-charter` once"

    def promote(self, composite: str, environment: str, version: str, **option: object) -> str:
        """Promote ``version`` again with one more option: ``force=True`` or ``gate="mean"``."""
        if self.promote_job:
            asked = {"composite": composite, "environment": environment, "version": version}
            return self.launch(self.promote_job, {**asked, **option})
        flags = [
            arg
            for name, value in option.items()
            for arg in ([f"--{name}"] if value is True else [f"--{name}", str(value)])
        ]
        args = ["promote", composite, "--environment", environment, "--version", version]
        return self.command(*args, *flags)

    def rollback_to(self, composite: str, environment: str) -> str:
        """Move ``environment`` to a version the user names (``vN`` stays for them to fill)."""
        if self.rollback_job:
            asked = {"composite": composite, "environment": environment, "version": "vN"}
            return self.launch(self.rollback_job, asked)
        return self.command("rollback", composite, "--environment", environment, "--to", "vN")

    def rebuild_state(self) -> str:
        return self.command("sync", "--rebuild-state")

    def sync(self) -> str:
        if self.sync_job:
            return self.launch(self.sync_job)
        return self.command("sync")


def unusable_state(path: Path, problem: str, fixes: Fixes, first: str = "") -> str:
    """A state file that can't be used: what is wrong, ``first`` thing to try, and the way out
    that always works."""
    rebuild = (
        f"run {fixes.rebuild_state()} to rebuild it from Opik's provenance records "
        "(or restore the file from git)"
    )
    return f"{path}: {problem}; " + (f"{first} or {rebuild}" if first else rebuild)


def conflict_help(
    composite: str, conflicts: dict[str, list[PartChange]], charter: Path, fixes: Fixes
) -> str:
    """What a composite's conflicts are, and each command that settles one."""
    lines = []
    for prompt, changes in sorted(conflicts.items()):
        mine = [c for c in changes if c.composite == composite] or changes[:1]
        for change in mine:
            lines.append(
                f"conflict on {prompt!r} ({change.why}). The charter {charter} has:\n"
                f"{indent(change.local)}\n"
                f"Opik's {change.composite} {change.remote_label} has:\n{indent(change.remote)}"
            )
        if len({c.remote for c in changes}) > 1:
            # Keeping "Opik's text" is ambiguous: the user must name whose version wins.
            choices = " or ".join(
                fixes.keep_opik(f"{prompt}={c.composite}")
                for c in sorted(changes, key=lambda c: c.composite)
            )
            lines.append(
                f"Composites in Opik hold different versions of {prompt!r}. Keep one with "
                f"{choices}, or keep the charter's with {fixes.keep_charter(prompt)}."
            )
        else:
            lines.append(
                f"Resolve with {fixes.keep_charter(prompt)} or {fixes.keep_opik(prompt)}, or edit "
                f"the charter's {prompt!r} to the text you want and {fixes.keep_charter_once()}."
            )
    return "\n".join(lines)


def drift_conflict(prompts: Sequence[str], composites: Sequence[str], fixes: Fixes) -> str:
    """The persona-drift check's description of a conflict."""
    first = prompts[0] if prompts else "PROMPT"
    return (
        f"Conflict on {', '.join(prompts)} in {', '.join(composites)}: changed in the charter "
        "and in Opik since the last sync (or differently in several composites). Nothing "
        f"containing it is pushed; resolve with {fixes.keep_charter(first)} or "
        f"{fixes.keep_opik(first)}."
    )


def write_race(
    composite: str,
    ours: Versioned,
    theirs: Versioned,
    ours_template: str | None,
    theirs_template: str | None,
    charter: Path,
    fixes: Fixes,
) -> str:
    """A write race: both texts, and how to keep either."""
    unread = "(could not be read)"
    ours_text = chat_text(ours_template) if ours_template is not None else unread
    theirs_text = chat_text(theirs_template) if theirs_template is not None else unread
    return (
        f"write race on {composite!r}: another writer saved {version_label(theirs)} while this "
        f"copy wrote {version_label(ours)}, which now hides it (Opik has no compare-and-set). "
        f"This copy ({charter}) wrote:\n{indent(ours_text)}\n"
        f"The other writer saved:\n{indent(theirs_text)}\n"
        f"Keep this copy's version with {fixes.keep_charter(composite)}, or take the other one "
        f"with {fixes.keep_opik(composite)} (restores it as the newest version; the pull then "
        "adopts it)."
    )


def charter_changed(problem: str, fixes: Fixes) -> str:
    """Someone saved the charter while the run worked: the pull was left for the next run."""
    return f"{problem}; Opik's change is still there: run {fixes.sync()} again"


def not_pulled(composite: str, version: Versioned, malformed: str | None, fixes: Fixes) -> str:
    """Why a push left a composite alone: Opik holds a change the pull did not bring in."""
    if malformed is not None:
        return (
            f"Opik's version can't be split into the charter's parts ({malformed}); fix it in "
            f"Opik, or replace it with {fixes.keep_charter(composite)}"
        )
    return f"changed in Opik since the last sync ({version_label(version)}): pull first"


def stale_individual(version: Versioned, unpulled: Mapping[str, str], fixes: Fixes) -> str:
    """An individual prompt changed in Opik that no pull could bring into the charter."""
    where = f"changed in Opik since the last sync ({version_label(version)})"
    if not unpulled:
        return f"{where}: pull first ({fixes.sync()})"
    names = ", ".join(f"{name} ({kind})" for name, kind in sorted(unpulled.items()))
    noun = "composite" if len(unpulled) == 1 else "composites"
    fix = " or ".join(
        f"fix {name} in Opik or {fixes.keep_charter(name)}" for name in sorted(unpulled)
    )
    return f"{where}; its {noun} {names} can't be pulled: {fix}"


def type_switch_behind(
    switch: str,
    composite: str,
    behind: Sequence[str],
    shared: Sequence[str],
    remote_type: str,
    fixes: Fixes,
) -> str:
    """A template-type switch only some of the composites sharing its prompts made in Opik."""
    verb = "is" if len(behind) == 1 else "are"
    return (
        f"{switch}, but {', '.join(behind)} (sharing {', '.join(shared)}) {verb} not "
        f"{remote_type!r} in Opik: switch every one of them in Opik, or keep the charter's type "
        f"with {fixes.keep_charter(composite)}"
    )


def write_failed(path: Path, error: OSError) -> str:
    """A file of the charter's copy that could not be written (it is as it was)."""
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        todo = "free some disk space"
    elif error.errno in (errno.EPERM, errno.EACCES, errno.EROFS):
        todo = (
            f"make {path.name} and its directory writable (an immutable file: "
            f"`chattr -i {shlex.quote(str(path))}`)"
        )
    else:
        todo = "fix the cause"
    return (
        f"could not write {path} ({reason}); the file is as it was (writes are atomic): "
        f"{todo}, then run again"
    )


def lock_unavailable(lock_path: Path, error: OSError) -> str:
    """The charter's lock file can't be created: a read-only checkout."""
    reason = error.strerror or str(error)
    return (
        f"cannot create the charter's lock file {lock_path} ({reason}): sync, pull and push "
        "need write access to the charter's directory; `plan` and `check` work without it"
    )


# -- how a command ended early (the command line words these) ----------------------------------

DEBUG_VAR = "PROMPT_SYNC_DEBUG"


def written_before(written: Sequence[str]) -> str:
    """What a run that ended early had written (each file whole: writes are atomic)."""
    if not written:
        return "nothing was written"
    return "before it, the run wrote " + "; ".join(written)


def interrupted(written: Sequence[str], again: str) -> str:
    """Ctrl-C: what the run had written; no file is ever half-written."""
    if not written:
        return "interrupted; nothing half-written (nothing was written)"
    return f"interrupted; nothing half-written ({written_before(written)}); run {again} to finish"


def internal_error(error: BaseException, written: Sequence[str]) -> str:
    """A bug, raised in the middle of a run: named as one, with what the run had written."""
    detail = " ".join(str(error).split())
    name = type(error).__name__
    return (
        f"internal error (a bug in prompt-sync): {name}{': ' + detail if detail else ''}; "
        f"{written_before(written)}, and no file is half-written; run again with "
        f"{DEBUG_VAR}=1 for the traceback, and report it"
    )


Hint = Literal[
    "usage", "check", "config", "charter", "lock", "read-only", "state", "names", "input",
    "checkout", "opik", "refused", "write", "interrupted", "internal",
]  # fmt: skip


def hint(kind: Hint, fixes: Fixes, command: str = "") -> str:
    """What to do about an error of this kind, for ``--json``'s ``hint`` (the message itself
    already says it to a person)."""
    help_command = fixes.command(*([command] if command else []), "--help")
    check = fixes.command("check")
    return {
        "usage": f"see {help_command}",
        "check": f"fix each problem listed, then run {check} again",
        "config": f"fix the configuration; {check} lists every problem",
        "charter": f"fix the charter (or restore it from git); {check} lists every problem",
        "lock": "wait for the other run to finish, or raise lock_timeout_seconds",
        "read-only": (
            f"{fixes.command('plan')} and {check} work here; sync where the charter's "
            "directory is writable"
        ),
        "state": f"do what the error says, or run {fixes.rebuild_state()}",
        "names": "use one of the names the error lists",
        "input": "fix what the error names, then run again",
        "checkout": "commit or stash the charter's edits as the error says, then run again",
        "opik": (
            "check that Opik runs, and OPIK_URL_OVERRIDE, OPIK_API_KEY and OPIK_WORKSPACE; "
            f"{fixes.command('check', '--online')} tests the access"
        ),
        "refused": "the error says why and what would allow it",
        "write": "free disk space, or make the charter's files writable, then run again",
        "interrupted": f"run {fixes.command(command or 'sync')} again: nothing is half-written",
        "internal": f"a bug in prompt-sync: run again with {DEBUG_VAR}=1 and report the traceback",
    }[kind]
