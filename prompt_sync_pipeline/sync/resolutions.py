"""How a user settles a conflict: the ``--keep-charter`` / ``--keep-opik`` choices, checked.

A name given to either flag is

- a prompt (``forseti.persona``): that side's text wins for this prompt;
- a composite (``forseti-persona-charter``): with ``charter``, the rebuild from the charter
  replaces Opik's version (also a malformed one, or the other writer's in a write race); with
  ``opik``, Opik's version of that composite wins for every part it holds;
- ``PROMPT=COMPOSITE`` (``forseti.persona=forseti-persona-category``), ``--keep-opik`` only: when
  composites in Opik disagree on a shared prompt, the version in that composite wins.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..errors import UsageError

if TYPE_CHECKING:
    from .config import SyncConfig

Side = Literal["charter", "opik"]


class ResolutionError(UsageError):
    """A ``--keep-*`` choice names nothing the configuration knows, or contradicts another."""


@dataclass(frozen=True)
class Resolutions:
    """The user's choices, checked against the configuration (see ``parse``)."""

    prompts: Mapping[str, Side] = field(default_factory=dict)
    composites: Mapping[str, Side] = field(default_factory=dict)
    # prompt -> the composite whose Opik version of it wins
    winners: Mapping[str, str] = field(default_factory=dict)

    def for_prompt(self, prompt: str) -> Side | None:
        return self.prompts.get(prompt)

    def for_composite(self, composite: str) -> Side | None:
        return self.composites.get(composite)

    def winner(self, prompt: str) -> str | None:
        """The composite whose Opik version of ``prompt`` the user chose, if any."""
        return self.winners.get(prompt)

    def __bool__(self) -> bool:
        return bool(self.prompts or self.composites or self.winners)


NONE = Resolutions()


def parse(
    config: SyncConfig, *, charter: Iterable[str] = (), opik: Iterable[str] = ()
) -> Resolutions:
    """The choices of ``--keep-charter`` and ``--keep-opik``; unknown or contradictory ones raise."""
    known_prompts = sorted(config.individual_names())
    known_composites = list(config.composites)
    prompts: dict[str, Side] = {}
    composites: dict[str, Side] = {}
    winners: dict[str, str] = {}

    def choose(table: dict[str, Side], key: str, side: Side) -> None:
        if table.get(key, side) != side:
            raise ResolutionError(f"{key!r} given to both --keep-charter and --keep-opik")
        table[key] = side

    def win(prompt: str, composite: str) -> None:
        if winners.get(prompt, composite) != composite:
            raise ResolutionError(
                f"{prompt!r}: only one composite's version can win, "
                f"not {prompt}={winners[prompt]} and {prompt}={composite}"
            )
        winners[prompt] = composite

    for name in charter:
        if name in known_composites:
            choose(composites, name, "charter")
        elif name in known_prompts:
            choose(prompts, name, "charter")
        else:
            raise ResolutionError(_unknown("--keep-charter", name, known_prompts, known_composites))
    for name in opik:
        prompt, sep, composite = name.partition("=")
        if sep:
            users = config.composites_using(prompt)
            if not users:
                raise ResolutionError(_unknown("--keep-opik", prompt, known_prompts, []))
            if composite not in users:
                raise ResolutionError(
                    f"--keep-opik {name}: {composite!r} does not use {prompt!r}; choose one of "
                    + ", ".join(f"{prompt}={c}" for c in users)
                )
            win(prompt, composite)
        elif name in known_composites:
            choose(composites, name, "opik")  # also settles a write race on it
            for part in config.composites[name].parts().values():
                win(part, name)
        elif name in known_prompts:
            choose(prompts, name, "opik")
        else:
            raise ResolutionError(_unknown("--keep-opik", name, known_prompts, known_composites))
    for prompt in winners:
        if prompts.get(prompt) == "charter":
            raise ResolutionError(f"{prompt!r} given to both --keep-charter and --keep-opik")
    for composite, side in composites.items():
        if side == "charter" and composite in winners.values():
            raise ResolutionError(f"{composite!r} given to both --keep-charter and --keep-opik")
    return Resolutions(prompts, composites, winners)


def _unknown(option: str, name: str, prompts: list[str], composites: list[str]) -> str:
    close = difflib.get_close_matches(name, [*prompts, *composites], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    valid = f"prompts: {', '.join(prompts)}"
    if composites:
        valid += f"; composites: {', '.join(composites)}"
    return f"{option} {name}: no such prompt or composite in the configuration{hint} ({valid})"
