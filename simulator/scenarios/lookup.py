"""The scenario a command line names: a YAML file by its path, or a scenario by its name among the built-in ones
and the `--scenarios` folders. Over the control API a scenario is only ever a name (`loader.find`)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from simulator.errors import FieldError, InvalidInput, quoted
from simulator.scenarios.document import ScenarioInvalid
from simulator.scenarios.loader import builtin_dir, claimants, find, load_file, name_clash, name_line
from simulator.scenarios.model import Scenario


def is_path(text: str | Path) -> bool:
    """Whether the command line's `text` means a file rather than a name: a YAML file name or a path with a
    folder in it (`./my-scenario`, not `my-scenario`)."""
    return isinstance(text, Path) or str(text).endswith((".yaml", ".yml")) or "/" in str(text) or os.sep in str(text)


def find_name_or_file(text: str | Path, dirs: Iterable[str | Path] = ()) -> Scenario:
    """The command line's convenience: the scenario in the file `text` when it is a path (`is_path`), else the
    scenario of that name (`find_one`). A file may not take the name of a built-in or of another file in `dirs`:
    its run would have that scenario's ids, and by name the server plays neither (`validate` refuses it too)."""
    dirs = list(dirs)
    if not is_path(text):
        return find_one(str(text), dirs)
    scenario = load_file(text)
    here = Path(scenario.source).resolve()
    # Any other file of that name, not only the one read first: by name, the server refuses them all.
    others = [known for known in claimants(scenario.name, dirs) if Path(known.source).resolve() != here]
    if others:
        owner = "the built-in scenario" if _builtin(others[0]) else f"the scenario in {others[0].source}"
        raise ScenarioInvalid(scenario.source, [name_clash(scenario, owner)])
    return scenario


def find_one(name: str, dirs: Iterable[str | Path] = ()) -> Scenario:
    """The scenario called `name` (`loader.find`), when one file alone declares it; InvalidInput (exit 2) naming
    each file that does when there are more. Discovery plays the first file it reads and reports the others among
    its problems, which a run by name never showed: the file played may not be the one its author had edited."""
    dirs = list(dirs)
    named = claimants(name, dirs)  # one discovery of the folders, which `find` would make again
    if not named:
        return find(name, dirs)  # raises, saying what is close and which files could not be read
    if len(named) == 1:
        return named[0]
    files = [("the built-in " if _builtin(s) else "") + f"{s.source}:{name_line(s) or 1}" for s in named]
    listed = ", ".join(files[:-1]) + " and " + files[-1]
    raise InvalidInput(
        f"scenario {quoted(name)} is declared by {len(files)} files, {listed}: give each a name of its own",
        errors=[FieldError("scenario", f"declared by {len(files)} files")],
    )


def _builtin(scenario: Scenario) -> bool:
    return Path(scenario.source).parent == builtin_dir().resolve()
