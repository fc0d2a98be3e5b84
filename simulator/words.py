"""The words of a yes-or-no value, in a `--param`, a scenario's `${flag}` and the command line's switches alike.

A module of its own so that the command line reads them without importing the scenarios' parser and checks."""

from __future__ import annotations

ON_WORDS = ("1", "true", "yes", "on")
OFF_WORDS = ("0", "false", "no", "off")
