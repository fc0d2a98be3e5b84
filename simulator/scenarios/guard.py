"""The bound on what a timeline plays between two events, kept while it is played.

A run plans its timeline where it sends its events, one emit at a time: the steps between two emits are planned
without a pause. `checks.silent_problems` refuses a repeat that would play more than MAX_SILENT of them where the
steps show it. What no check of the steps can see is caught here, when the run gets there: an emit behind a branch
that is almost never picked, a count that a parameter makes 0, a `repeat {for}` whose waits have become too small
to move a time that far from the start (with an emit in each pass too). Without it such a run planned those
steps forever, holding the process that sends (a server stopped answering, even to be stopped).
"""

from __future__ import annotations

from simulator.errors import FieldError
from simulator.scenarios.checks import MAX_SILENT
from simulator.scenarios.document import ScenarioInvalid
from simulator.scenarios.model import Repeat, Step, field_path, walk_paths

# A repeat being played: the guard's count when it began, the offset it began at, the step, and the repeat it is
# inside (None for one that is not), a chain from the innermost out. One is made each time a repeat begins: a plain
# tuple, made in a third of a named one's time (a repeat inside a repeat begins again in every pass).
Open = tuple[int, float, Repeat, "Open | None"]
# Passes in a row of a `repeat {for}` that leave the time where it was, each emitting, before the run ends with the
# repeat's error: its end is never reached (see `Guard.still`).
MAX_STILL_PASSES = 1_000


class Guard:
    """Counts the steps the timeline of bound `steps` plays (`played`, one per step) and the count at its last
    emit; `check` is called once a step passes `alarm`, MAX_SILENT steps after the last emit. `source` is the file
    the steps are from."""

    __slots__ = ("alarm", "played", "since", "source", "steps")

    def __init__(self, source: str, steps: tuple[Step, ...]) -> None:
        self.played = 0
        self.since = 0
        self.alarm = MAX_SILENT
        self.source = source
        self.steps = steps

    def emitted(self) -> None:
        self.since = self.played
        self.alarm = self.played + MAX_SILENT

    def check(self, inside: Open | None, t: float) -> None:
        """Raise ScenarioInvalid if a repeat around the step being played (`inside`, the innermost) has played
        more than MAX_SILENT steps since it began or since the last emit, whichever is later: naming the
        outermost that began since the last emit, else the innermost (each of those has played them all).
        Steps outside any repeat are as many as the file has at most: they are not bounded here."""
        chain: list[Open] = []
        while inside is not None:
            chain.append(inside)
            inside = inside[3]
        if not chain or self.played - max(self.since, chain[-1][0]) <= MAX_SILENT:
            return
        _, began_at, step, _ = next((o for o in reversed(chain) if o[0] >= self.since), chain[0])
        message = _SILENT
        if step.for_seconds is not None and t == began_at:
            message = _STILL.format(t)
        self._refuse(step, message)

    def still(self, step: Repeat, t: float) -> None:
        """Raise ScenarioInvalid for a `repeat: {for: ...}` whose last MAX_STILL_PASSES passes left the time
        where it was: each emitted, so `check` never saw it, and it never reached its end."""
        self._refuse(step, _NOT_MOVING.format(MAX_STILL_PASSES, t))

    def _refuse(self, step: Repeat, message: str) -> None:
        # Its path is found when it is needed: each repeat of bound steps is an object of its own (`runner.bind`
        # makes one per place, an alias's included), and the timeline carries no paths while it plays.
        path = next((p for p, each in walk_paths(self.steps) if each is step), ("steps",))
        error = FieldError(field_path((*path, "repeat")), message, self.source, step.line)
        raise ScenarioInvalid(self.source, [error])


_SILENT = (
    f"this repeat played more than {MAX_SILENT} steps without emitting an event (an emit among its steps is never "
    "or almost never reached): expected an emit its steps reach, or one longer wait"
)
_STILL = (
    f"this repeat played more than {MAX_SILENT} steps without emitting an event or moving the time ({{:g}} s into "
    "the timeline, where a wait shorter than the time can tell apart moves it no further), so repeat {{for: ...}} "
    "would never end: expected longer waits"
)
_NOT_MOVING = (
    "this repeat played {} passes in a row without moving the time ({:g} s into the timeline, where a wait shorter "
    "than the time can tell apart moves it no further), so repeat {{for: ...}} would never end: expected longer waits"
)
