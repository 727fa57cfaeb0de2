"""``prompt-sync check``: the configuration, the charter and the state file, checked offline
(``sync.check``), every problem listed; ``--online`` also asks Opik once for access and the
project. Exit 0; 2 when the files have a problem; 1 when only Opik can't be used."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import ExitCode, UsageError
from ..sync import messages
from ..sync.check import Checked, Problem, check_offline, state_problems
from .session import Session


@dataclass
class Online:
    """What Opik said: its address, the workspace and what it holds of the project."""

    url: str = ""
    workspace: str = ""
    project_exists: bool | None = None
    in_opik: int = 0
    managed: int = 0
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "workspace": self.workspace,
            "project_exists": self.project_exists,
            "prompts_in_opik": self.in_opik,
            "prompts_managed": self.managed,
        }


def run(session: Session, *, online: bool) -> int:
    checked = check_offline(session.config_path, fixes=session.fixes)
    reached = _ask_opik(checked, session) if online and checked.config is not None else None
    problems = checked.problems + (reached.problems if reached else [])
    if problems:
        # Only Opik's answer is wrong: exit 1, as for any run that can't use Opik.
        opik_only = all(p.where == "Opik" for p in problems)
        code = ExitCode.FAILED if opik_only else ExitCode.USAGE
        count = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
        return session.fail(
            f"{count} found (nothing was changed)",
            code,
            messages.hint("opik" if opik_only else "check", session.fixes),
            details=[str(p) for p in problems],
            tail=":",
            problems=[{"where": p.where, "message": p.message} for p in problems],
        )
    summary = _summary(checked, reached)
    if session.as_json:
        print(json.dumps({"ok": True, "problems": [], **summary}, indent=2, ensure_ascii=False))
    else:
        for line in _lines(summary, online):
            print(line)
    return ExitCode.OK


def _ask_opik(checked: Checked, session: Session) -> Online:
    """One access check (the project's lookup), the project's listing, and the state file
    checked against the workspace Opik uses."""
    from ..opik.errors import OpikError
    from ..opik.project import OpikProject

    assert checked.config is not None
    config = checked.config
    reached = Online(managed=len(config.composites) + len(config.individual_names()))
    try:
        with OpikProject.connect(config.opik) as opik:
            session.journal.connected(opik)
            reached.url, reached.workspace = opik.url, opik.workspace
            opik.check_access()
            reached.project_exists = opik.project_exists
            listing = opik.prompts.list_prompts()
    except UsageError as exc:  # OPIK_URL_OVERRIDE is not a URL: already listed offline
        if not any(p.where == "environment" for p in checked.problems):
            reached.problems.append(Problem("environment", str(exc)))
        return reached
    except OpikError as exc:
        reached.problems.append(Problem("Opik", str(exc)))
        return reached
    names = set(config.composites) | config.individual_names()
    reached.in_opik = len(names & set(listing))
    reached.problems += state_problems(config, session.fixes, reached.workspace)
    return reached


def _summary(checked: Checked, reached: Online | None) -> dict[str, Any]:
    config, charter = checked.config, checked.charter
    assert config is not None and charter is not None
    state = config.state_path
    return {
        "config": str(checked.config_path),
        "charter": str(config.charter),
        "prompts": len(charter.prompts),
        "composites": len(config.composites),
        "state": str(state) if state.exists() else None,
        "online": reached.to_json() if reached else None,
    }


def _lines(summary: dict[str, Any], online: bool) -> list[str]:
    lines = [
        f"configuration: {summary['config']}: valid",
        f"charter: {summary['charter']}: {summary['prompts']} prompts, "
        f"{summary['composites']} composites",
        f"state: {summary['state']}: valid"
        if summary["state"]
        else "state: no sync state file yet (the first sync writes it)",
    ]
    reached = summary["online"]
    if reached is None:
        lines.append("Opik: not asked (offline; `--online` checks access and the project)")
    elif reached["project_exists"]:
        lines.append(
            f"Opik: {reached['url']} answers; project in workspace {reached['workspace']!r} "
            f"holds {reached['prompts_in_opik']} of the {reached['prompts_managed']} prompts"
        )
    else:
        lines.append(
            f"Opik: {reached['url']} answers; the project doesn't exist in workspace "
            f"{reached['workspace']!r} yet (the first sync creates it)"
        )
    lines.append("no problem found" + (" (offline)" if not online else ""))
    return lines
