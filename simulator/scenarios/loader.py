"""Reading scenario files: YAML with line numbers, the JSON Schema, the semantic checks, discovery and lookup
by name (the command line's, of a name or a file, is in `lookup`).

Every problem is a `FieldError(field, message, file, line)`: the field as a path (`steps[2].wait.uniform[1]`), the
1-based line of that node in the file. All the problems of a file are reported together.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, cast

from simulator import catalog, files
from simulator.errors import (
    AmbiguousEventType,
    FieldError,
    InvalidInput,
    NotFound,
    UnknownEventType,
    did_you_mean,
    quoted,
)
from simulator.scenarios import checks, distributions
from simulator.scenarios.document import KINDS, ScenarioInvalid, _Document, _schema_errors
from simulator.scenarios.folders import signature, yaml_files
from simulator.scenarios.model import (
    Branch,
    Choose,
    Emit,
    FieldPath,
    Parallel,
    Param,
    Repeat,
    Scenario,
    Step,
    Wait,
    references,
)
from simulator.scenarios.runner import bind_problems

# --- from data to the model: the semantic checks ---------------------------------------------------------------


class _Builder:
    """Builds the Scenario from schema-shaped data, collecting what the schema cannot see.

    It tolerates malformed parts (the schema reports those) by skipping them, so one run over a file finds the
    unknown event type in step 5 even when step 2 has the wrong shape.
    """

    def __init__(self, doc: _Document) -> None:
        self.doc = doc
        self.errors: list[FieldError] = []
        self._unknown_types = 0
        self.data: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
        self.params = self._params(self.data.get("params"))
        # Every name declared, a declaration in error too: that error is its own, not each use's as well.
        raw = self.data.get("params")
        self.declared = [str(name) for name in raw] if isinstance(raw, dict) else []
        self.provider = self._provider(self.data.get("provider"))

    def build(self) -> tuple[Scenario | None, tuple[Step | None, ...]]:
        """The scenario (None when something is wrong) and the steps as far as they could be built, with None
        where a step could not be: indexes stay those of the file, for the checks that follow."""
        data = self.data
        self._faults(data.get("faults"), ("faults",))
        steps = self._steps(data.get("steps"), ("steps",))
        name = data.get("name")
        if self.errors or not isinstance(name, str) or not steps or self.provider is None or None in steps:
            return None, steps
        scenario = Scenario(
            name=name,
            provider=self.provider,
            description=_text(data.get("description")),
            observe=_text(data.get("observe")),
            params=self.params,
            steps=steps,
            faults=_mapping(data.get("faults")),
            source=self.doc.source,
        )
        return scenario, steps

    def _params(self, value: Any) -> dict[str, Param]:
        params: dict[str, Param] = {}
        for name, spec in value.items() if isinstance(value, dict) else ():
            if isinstance(spec, dict) and "default" in spec:
                params[str(name)] = Param(str(name), spec["default"], _text(spec.get("description")))
        return params

    def _provider(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        known = [p.name for p in catalog.providers()]
        if value in known:
            return value
        hint = did_you_mean(value, known)
        self.errors.append(
            self.doc.error(("provider",), f"unknown provider {quoted(value)}{hint}: expected one of {', '.join(known)}")
        )
        return None

    def _faults(self, value: Any, path: FieldPath) -> None:
        self.errors += [self.doc.error(p, message) for p, message in checks.fault_problems(value, path)]

    def _declared(self, value: Any, path: FieldPath) -> bool:
        """Whether every `${name}` in `value` is a declared parameter; reports the others."""
        if isinstance(value, dict):
            return all([self._declared(v, (*path, str(k))) for k, v in value.items()])
        if isinstance(value, list):
            return all([self._declared(v, (*path, i)) for i, v in enumerate(value)])
        unknown = [n for n in references(value) if n not in self.params]
        # A name declared in error is not bound (its declaration's error says why), and not told unknown either.
        for name in dict.fromkeys(n for n in unknown if n not in self.declared):
            declared = ", ".join(self.declared) or "none are declared"
            self.errors.append(
                self.doc.error(
                    path, f"unknown parameter ${{{name}}}: expected a parameter declared under params ({declared})"
                )
            )
        return not unknown

    def _steps(self, value: Any, path: FieldPath) -> tuple[Step, ...]:
        """The steps of `value`. A step that could not be built is None here: its error is recorded, and a
        scenario with errors is never played, but later checks still see every step at its position."""
        if not isinstance(value, list):
            return ()
        return cast(tuple[Step, ...], tuple(self._step(item, (*path, i)) for i, item in enumerate(value)))

    def _step(self, value: Any, path: FieldPath) -> Step | None:
        if not isinstance(value, dict):
            return None
        kinds = [k for k in KINDS if k in value]
        if len(kinds) != 1:
            return None
        build = {
            "emit": self._emit,
            "wait": self._wait,
            "repeat": self._repeat,
            "choose": self._choose,
            "parallel": self._parallel,
        }[kinds[0]]
        return build(value, path, self.doc.line(path))

    def _emit(self, value: dict[str, Any], path: FieldPath, line: int | None) -> Emit | None:
        etype = self._event_type(value["emit"], (*path, "emit"))
        overrides = _mapping(value.get("with"))
        self._declared(overrides, (*path, "with"))
        ref = value.get("as")
        self._faults(value.get("faults"), (*path, "faults"))
        if etype is None:
            return None
        ref = ref if isinstance(ref, str) else None
        unchecked = value.get("unchecked") is True
        return Emit(etype, overrides, ref, _mapping(value.get("faults")), line, unchecked)

    def _event_type(self, name: Any, path: FieldPath) -> str | None:
        if not isinstance(name, str) or self.provider is None:
            return None
        try:
            # Close spellings for the first few unknown types alone: each costs a few ms, and a file may hold
            # thousands of them.
            etype = catalog.resolve(name, self.provider, suggest=self._unknown_types < SUGGESTED)
        except UnknownEventType as exc:
            self._unknown_types += 1
            hints = _suggestions(exc.suggestions, self.provider)
            hint = f"; did you mean {', '.join(hints)}?" if hints else ""
            self.errors.append(
                self.doc.error(
                    path,
                    f"unknown {self.provider} event type {quoted(name)}{hint} "
                    f"(`webhook-sim events --provider {self.provider}` lists "
                    "them)",
                )
            )
            return None
        except AmbiguousEventType as exc:
            self.errors.append(self.doc.error(path, exc.detail))
            return None
        if etype.provider != self.provider:
            self.errors.append(
                self.doc.error(
                    path,
                    f"{quoted(name)} is a {etype.provider} event type: expected a "
                    f"{self.provider} event type, the scenario's provider",
                )
            )
            return None
        return etype.name

    def _wait(self, value: dict[str, Any], path: FieldPath, line: int | None) -> Wait | None:
        raw = value["wait"]
        if not self._declared(raw, (*path, "wait")):
            return None
        try:
            return Wait(distributions.parse(raw), line)
        except distributions.DistributionError as exc:
            self.errors.append(self.doc.error((*path, "wait", *exc.field), exc.message))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, StopIteration):
            pass  # a malformed wait: the schema has reported it
        return None

    def _repeat(self, value: dict[str, Any], path: FieldPath, line: int | None) -> Repeat | None:
        raw = value["repeat"]
        body = self._steps(value.get("steps"), (*path, "steps"))
        if not self._declared(raw, (*path, "repeat")) or not body:
            return None
        if isinstance(raw, dict):
            seconds = self._duration(raw.get("for"), (*path, "repeat", "for"))
            return None if seconds is None else Repeat(for_seconds=seconds, steps=body, line=line)
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)  # the schema accepts 3.0 as an integer
        if isinstance(raw, str) or (isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0):
            return Repeat(count=raw, steps=body, line=line)
        return None

    def _duration(self, value: Any, path: FieldPath) -> float | str | None:
        if isinstance(value, str) and "${" in value:
            return value
        try:
            return distributions.to_seconds(value, {})
        except ValueError as exc:
            self.errors.append(self.doc.error(path, str(exc)))
            return None

    def _choose(self, value: dict[str, Any], path: FieldPath, line: int | None) -> Choose | None:
        items = value["choose"] if isinstance(value["choose"], list) else []
        branches = [
            Branch(float(item["weight"]), steps)
            for i, item in enumerate(items)
            if isinstance(item, dict)
            if (steps := self._steps(item.get("steps"), (*path, "choose", i, "steps")))
            and _positive(item.get("weight"))
        ]
        return Choose(tuple(branches), line) if branches else None

    def _parallel(self, value: dict[str, Any], path: FieldPath, line: int | None) -> Parallel | None:
        items = value["parallel"] if isinstance(value["parallel"], list) else []
        branches = [
            steps
            for i, item in enumerate(items)
            if isinstance(item, dict)
            if (steps := self._steps(item.get("steps"), (*path, "parallel", i, "steps")))
        ]
        return Parallel(tuple(branches), line) if branches else None


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _suggestions(spellings: list[str], provider: str) -> list[str]:
    """The catalog's close matches that belong to `provider`, spelled bare."""
    prefix = f"{provider}:"
    bare = [s.removeprefix(prefix) for s in spellings if s.startswith(prefix) or ":" not in s]
    return [s for s in dict.fromkeys(bare) if _belongs(s, provider)]


def _belongs(name: str, provider: str) -> bool:
    try:
        return catalog.resolve(name, provider).provider == provider
    except (UnknownEventType, AmbiguousEventType):
        return False


# --- the public entry points -----------------------------------------------------------------------------------


def load_text(text: str, source: str = "<string>") -> Scenario:
    """The scenario `text` describes. Raises ScenarioInvalid listing every problem, each with field and line."""
    doc = _Document(text, source)
    # A value the document reports (one YAML cannot read, or JSON cannot carry) is not also told as of a wrong type.
    reported = _Told({f.field for f in doc.problems if f.field})
    early = doc.problems + [e for e in _schema_errors(doc) if not reported.covers(e.field)]
    builder = _Builder(doc)
    scenario, steps = builder.build()
    defaults = {name: p.default for name, p in builder.params.items()}
    bound = bind_problems(steps, defaults, builder.provider)
    late = builder.errors + [doc.error(path, message) for path, message in bound]
    told = _Told({f.field for f in early})
    errors = early + [e for e in late if not told.covers(e.field)]
    if scenario is None and not errors:  # every skipped part is reported above; this is a safety net
        errors = [FieldError("", "not a valid scenario", source, 1)]
    if errors:
        unique = list(dict.fromkeys(errors))
        raise ScenarioInvalid(source, sorted(unique, key=lambda e: (e.line or 0, e.field)))
    return cast(Scenario, scenario)


class _Told:
    """The fields problems were told for already, and whether another field is one of them or inside one ("" is
    the whole document). Only its prefixes as long as a told field are looked up: a file can hold thousands of
    problems of two kinds, and trying every pair of them took minutes; every prefix of a field of a million dots
    (a key `with:` takes) took minutes too."""

    def __init__(self, fields: set[str]) -> None:
        self.fields = fields
        self.lengths = sorted({len(f) for f in fields})

    def covers(self, field: str) -> bool:
        if "" in self.fields or field in self.fields:
            return True
        return any(n < len(field) and field[n] in ".[" and field[:n] in self.fields for n in self.lengths)


_FILE_CACHE: dict[str, tuple[tuple[int, int], Scenario]] = {}
# A scenario file larger than this is refused unread: the largest built-in is 2.3 KB, and parsing YAML takes
# about 5 s a megabyte.
MAX_BYTES = 1 << 20
SUGGESTED = 20  # unknown event types of a file given close spellings


def load_file(path: str | Path) -> Scenario:
    """The scenario in the YAML file at `path` (cached while the file is unchanged)."""
    file = Path(path)
    try:
        stat = file.stat()
        cached = _FILE_CACHE.get(str(file))
        if cached and cached[0] == (stat.st_mtime_ns, stat.st_size):
            return cached[1]
        text = _read(file)
    except FileNotFoundError:
        raise NotFound(f"no such scenario file: {file}", errors=[FieldError("", "no such file", str(file))]) from None
    except UnicodeDecodeError:
        raise ScenarioInvalid(str(file), [FieldError("", "not UTF-8 text: expected a YAML file", str(file))]) from None
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {file}: {exc.strerror}", errors=[FieldError("", f"cannot read: {exc.strerror}", str(file))]
        ) from None
    scenario = load_text(text, str(file))
    # Only good loads are cached: the catalog only grows, so a valid file stays valid.
    _FILE_CACHE[str(file)] = ((stat.st_mtime_ns, stat.st_size), scenario)
    return scenario


def _read(file: Path) -> str:
    """The text of `file`, a regular file of at most MAX_BYTES; ScenarioInvalid for anything else (a device such
    as /dev/zero never ends, a FIFO waits for a writer that may never come)."""
    try:
        data = files.read_bounded(file, MAX_BYTES)
    except files.NotRegular:
        problem = "not a regular file: expected a YAML file"
        raise ScenarioInvalid(str(file), [FieldError("", problem, str(file))]) from None
    except files.TooLarge:
        problem = f"larger than {MAX_BYTES // 1024 // 1024} MiB: expected a scenario file of at most that size"
        raise ScenarioInvalid(str(file), [FieldError("", problem, str(file))]) from None
    return data.decode("utf-8")


def validate_files(paths: Iterable[str | Path]) -> list[FieldError]:
    """Every problem in the given files (none: all valid), including two files claiming one name."""
    errors: list[FieldError] = []
    names: dict[str, Path] = {}
    builtin = builtin_dir().resolve()
    builtins = discover()[0]  # no folders given: the built-in ones alone (cached)
    # Each file once, however it is named (links followed), and told by the name it was given: a broken link
    # named the missing file it points to, which the person never typed.
    given: dict[Path, Path] = {}
    for p in paths:
        given.setdefault(_resolved(p), Path(p).absolute())
    for path, named in given.items():
        scenario = _load_one(named, errors)
        if scenario is None:
            continue
        if scenario.name in builtins and path.parent != builtin:  # a server would skip it, as discover does
            errors.append(name_clash(scenario, "the built-in scenario"))
        elif scenario.name in names:
            errors.append(name_clash(scenario, f"the scenario in {names[scenario.name]}"))
        names.setdefault(scenario.name, named)
    return errors


def _resolved(path: str | Path) -> Path:
    """`path` with its links followed; a loop of links is left as given, for reading it to report."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):  # a loop is a RuntimeError before Python 3.13, an OSError from then on
        return Path(path).absolute()


def _load_one(path: Path, errors: list[FieldError]) -> Scenario | None:
    """The scenario in `path`, or None with its problems added to `errors`. One file never stops the others:
    should checking it trip on something unforeseen, that is reported as its problem too."""
    try:
        return load_file(path)
    except (InvalidInput, NotFound) as exc:
        errors.extend(exc.errors)
    except Exception as exc:
        errors.append(FieldError("", f"cannot be checked: {type(exc).__name__}: {exc}", str(path)))
    return None


def name_clash(scenario: Scenario, other: str) -> FieldError:
    message = f"name {scenario.name!r} is already used by {other}: expected a unique name"
    return FieldError("name", message, scenario.source, name_line(scenario))


def name_line(scenario: Scenario) -> int | None:
    """The line of the `name:` of the file `scenario` was read from."""
    return _Document(Path(scenario.source).read_text("utf-8"), scenario.source).line(("name",))


def builtin_dir() -> Path:
    """Where the built-in scenarios are: inside the installed package, else the repository's `scenarios/`."""
    installed = resources.files("simulator").joinpath("_builtin_scenarios")
    if isinstance(installed, Path) and installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "scenarios"


# What discovering folders found: the scenarios by name, the problems, and by name the later files that took a
# name already found (skipped, each a problem too).
_Found = tuple[dict[str, Scenario], list[FieldError], dict[str, list[Scenario]]]
# (the folders as given) -> (their signature, what discovering them found)
_DISCOVERED: dict[tuple[str, ...], tuple[tuple[Any, ...], _Found]] = {}
# One discovery at a time: a server reads its folders in threads (as it starts, and for each request that asks),
# and a second reader waits for the first's result rather than parsing every file again beside it.
_DISCOVERING = threading.Lock()


def discover(dirs: Iterable[str | Path] = ()) -> tuple[dict[str, Scenario], list[FieldError]]:
    """The built-in scenarios plus every `*.yaml`/`*.yml` in `dirs`, by name, and the problems found.

    A broken file is reported and skipped; the others still load. A user scenario may not take a name that a
    built-in (or an earlier file) already has. The result is kept while no file in the folders is added, removed
    or modified (by modification time and size), so a lookup costs one directory listing per folder.
    """
    with _DISCOVERING:
        found, errors, _ = _discover(dirs)
    return found, errors


def claimants(name: str, dirs: Iterable[str | Path] = ()) -> list[Scenario]:
    """Every scenario called `name` among the built-in ones and those in `dirs`, the one `find` gives first: more
    than one when files take one name (`discover` keeps the first and reports the others)."""
    with _DISCOVERING:
        found, _, clashes = _discover(dirs)
    return [found[name], *clashes.get(name, [])] if name in found else []


def _discover(dirs: Iterable[str | Path]) -> _Found:
    builtin = builtin_dir().resolve()
    folders = [builtin, *dict.fromkeys(Path(d).resolve() for d in dirs if Path(d).resolve() != builtin)]
    key = tuple(str(f) for f in folders)
    stamps = tuple(signature(f) for f in folders)
    cached = _DISCOVERED.get(key)
    if cached is not None and cached[0] == stamps:
        return dict(cached[1][0]), list(cached[1][1]), cached[1][2]
    found: dict[str, Scenario] = {}
    errors: list[FieldError] = []
    clashes: dict[str, list[Scenario]] = {}
    for folder in folders:
        for path in yaml_files(folder, errors):
            scenario = _load_one(path, errors)
            if scenario is None:
                continue
            if scenario.name in found:
                first = found[scenario.name]
                owner = "the built-in scenario" if Path(first.source).parent == builtin else first.source
                errors.append(name_clash(scenario, owner))
                clashes.setdefault(scenario.name, []).append(scenario)
                continue
            found[scenario.name] = scenario
    found = dict(sorted(found.items()))
    _DISCOVERED[key] = (stamps, (found, errors, clashes))
    return dict(found), list(errors), clashes


def find(name: str, dirs: Iterable[str | Path] = ()) -> Scenario:
    """The scenario called `name`: a built-in one or one in `dirs`. A name is only ever looked up there, never
    read as a path (the control API must not reach the server's working directory); a caller that holds a
    path loads it with `lookup.find_name_or_file` or `load_file`."""
    found, errors = discover(dirs)
    if name in found:
        return found[name]
    close = difflib.get_close_matches(name, list(found), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(found)}"
    # Each file that could not be loaded, by its first problem: the scenario asked for may be one of them (a name
    # a test's folder holds, broken), and "unknown" alone sent its author looking for a typo.
    by_file: dict[str | None, FieldError] = {}
    for error in errors:
        by_file.setdefault(error.file, error)
    first = list(by_file.values())
    shown = "; ".join(f"{e.location()}: {e.message}" for e in first[:3]) + ("; …" if len(first) > 3 else "")
    broken = f" ({len(first)} scenario files could not be loaded: {shown})" if first else ""
    raise NotFound(
        f"unknown scenario {quoted(name)}{hint}{broken}",
        errors=[FieldError("scenario", f"unknown scenario {quoted(name)}"), *first],
    )
