"""Scenario files as YAML documents: safe loading with line numbers, and JSON Schema errors told with the
field path, the line and what was expected."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Hashable
from functools import cache
from importlib import resources
from typing import Any, cast

import yaml
from jsonschema import Draft202012Validator, ValidationError

from simulator.errors import FieldError, InvalidInput, did_you_mean, spelled
from simulator.json_input import (
    LONE_SURROGATE,
    MAX_DEPTH,  # a scenario nests steps about three levels per repeat, choose, parallel
    NOT_TEXT,
)
from simulator.scenarios.model import FieldPath, field_path

KINDS = ("emit", "wait", "repeat", "choose", "parallel")
# A document of more nodes than this (keys, values and list items, as written or as its aliases expand: the
# "billion laughs") is refused. The largest built-in scenario has 145.
MAX_NODES = 100_000
# Unknown keys in one mapping past this many are counted in one error, not each told: thousands of lines of the
# same error help no one, and the closest known key worked out for each took longer than reading the file.
MAX_UNKNOWN_LISTED = 20
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STR, _FLOAT, _MERGE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:float", "tag:yaml.org,2002:merge"
_CYCLE = "an alias inside its own anchor would make it infinite"
_TOO_DEEP = f"the document is nested too deeply: expected at most {MAX_DEPTH} levels of lists and mappings"
_JSON_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}
_INT, _NULL = "tag:yaml.org,2002:int", "tag:yaml.org,2002:null"
# YAML 1.1, which PyYAML reads, also breaks lines at U+0085, U+2028 and U+2029. YAML 1.2 and JSON do not, nor do
# editors, `grep -n` or `sed -n`: read as breaks, one of them ends a comment (the rest of it then read as YAML) or a
# plain scalar, and every line told after it is one too far. So each is read as the ordinary character YAML 1.2
# has it: swapped for a private-use character the file does not hold, and swapped back in every scalar.
_UNICODE_BREAKS = "\x85\u2028\u2029"
_PRIVATE_USE = (range(0xE000, 0xF900), range(0xF0000, 0xFFFFE), range(0x100000, 0x10FFFE))
# The line breaks left once those are swapped, as PyYAML counts them (and YAML 1.2): LF, CRLF and a lone CR.
_LINE_BREAK = re.compile(r"\r\n?|\n")
_SURROGATE = f"{NOT_TEXT}: expected text that UTF-8 can hold"
# The scalars whose text YAML converts, and may fail to: what each must be.
_READ = {
    _INT: "a whole number",
    _FLOAT: "a number",
    "tag:yaml.org,2002:bool": "true or false (or yes, no, on, off)",
}


class ScenarioInvalid(InvalidInput):
    """A scenario file with problems; `errors` lists every one, each with its field, file and line."""

    title = "Invalid scenario"
    # What the detail says after the file's name: a run's error holding it is this error (`said_in`).
    SAYS = " is not a valid scenario: "

    def __init__(self, source: str, errors: list[FieldError]) -> None:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{source}{self.SAYS}{errors[0]}{more}", errors=errors)
        self.source = source

    @classmethod
    def said_in(cls, text: str | None) -> bool:
        """Whether `text` (a failed run's error) is this error's detail."""
        return text is not None and cls.SAYS in text


class _Limit(yaml.YAMLError):
    """A document past MAX_NODES or MAX_DEPTH: what was exceeded, and the 1-based line where."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message, self.line = message, line


class _Loader(yaml.SafeLoader):
    """The safe loader, minus implicit timestamps (`2025-01-01` stays a string, as it would be in JSON), that
    stops at the node past MAX_NODES or MAX_DEPTH, before the parser spends the time or the stack on it."""

    def __init__(self, stream: str, restore: dict[int, int]) -> None:
        super().__init__(stream)
        self._nodes = self._depth = 0
        self._restore = restore  # the stand-ins of `_stand_ins`, back to the characters they replaced

    def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:
        node = super().compose_scalar_node(anchor)
        if self._restore:
            node.value = node.value.translate(self._restore)
        return node

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        line = self.peek_event().start_mark.line + 1
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Limit(f"the document has more than {MAX_NODES} nodes: expected a smaller file", line)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Limit(_TOO_DEEP, line)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        # A key that is not a string is reported by `_Document._walk`; left out of the data, it cannot trip what
        # reads the data next (the JSON Schema check matches key names with regular expressions).
        self.flatten_mapping(node)
        node.value = [(k, v) for k, v in node.value if k.tag == _STR]
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Document:
    """One parsed file: the data, its node tree (for line numbers), and where it came from."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.problems: list[FieldError] = []
        self._visits = 0
        self._written = 1  # the line last walked for the first time: where the alias being expanded is written
        # Each mapping's keys by name, built at the first lookup in it (see `_entry`).
        self._entries: dict[int, dict[str, tuple[yaml.Node, yaml.Node]]] = {}
        restore = _stand_ins(text, source)
        self._restore = restore
        try:
            loader = _Loader(text.translate({v: k for k, v in restore.items()}), restore)
        except yaml.reader.ReaderError as exc:  # a character YAML refuses, found before any parsing
            problem = f"invalid YAML: character U+{exc.character:04X} is not allowed in a YAML file"
            raise ScenarioInvalid(source, [FieldError("", problem, source, _line_at(text, exc.position))]) from None
        try:
            self.root = loader.get_single_node()
            if self.root is None:
                raise ScenarioInvalid(
                    source,
                    [FieldError("", "the file is empty: expected a mapping with name, provider and steps", source, 1)],
                )
            self._loader = loader
            self._walk(self.root, (), set(), set())
            self.data = loader.construct_document(self.root)
            # Constructing rewrites a mapping's entries (merge keys are expanded, keys that are not text dropped):
            # the lookups from here on read them as they now are, as the data does.
            self._entries.clear()
        except _Limit as exc:
            raise ScenarioInvalid(source, [FieldError("", exc.message, source, exc.line)]) from None
        except yaml.YAMLError as exc:
            raise ScenarioInvalid(source, [self._syntax_error(exc)]) from None
        except RecursionError:  # not expected within MAX_DEPTH; a file must still never crash what reads it
            raise ScenarioInvalid(source, [FieldError("", _TOO_DEEP, source)]) from None
        except (KeyError, ValueError, TypeError, OverflowError) as exc:  # a value `_walk` did not foresee
            problem = f"invalid YAML: a value cannot be read ({type(exc).__name__}: {exc})"
            raise ScenarioInvalid(source, [FieldError("", problem, source)]) from None
        finally:
            loader.dispose()

    def _syntax_error(self, exc: yaml.YAMLError) -> FieldError:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = self._restored(str(getattr(exc, "problem", None) or exc))
        context = getattr(exc, "context", None)
        message = f"invalid YAML: {problem}" + (f" ({self._restored(str(context))})" if context else "")
        return FieldError("", message, self.source, mark.line + 1 if mark else None)

    def _restored(self, message: str) -> str:
        """A PyYAML message that may quote a stand-in (`found '\\ue000'`), with the character it stands for."""
        for stand_in, original in self._restore.items():
            for shown in (str, repr):  # as is, and escaped as the message's %r shows it
                message = message.replace(shown(chr(stand_in)).strip("'"), shown(chr(original)).strip("'"))
        return message

    def _walk(self, node: yaml.Node, path: FieldPath, seen: set[int], active: set[int]) -> None:
        """Finds what the YAML loader would silently accept: duplicate keys, keys that are not strings, values
        JSON cannot carry. Aliases are followed as they expand, up to MAX_NODES (the "billion laughs") and
        MAX_DEPTH."""
        self._visits += 1
        first = id(node) not in seen
        if first:
            self._written = node.start_mark.line + 1
        if id(node) in active:
            raise _Limit(f"the document refers to itself: {_CYCLE}", self._written)
        if self._visits > MAX_NODES:
            raise _Limit(f"the document expands to more than {MAX_NODES} nodes through its aliases", self._written)
        if len(path) >= MAX_DEPTH:
            raise _Limit(_TOO_DEEP, self._written)
        seen.add(id(node))
        if first and (node.tag not in _JSON_TAGS or (node.tag == _FLOAT and not _finite(node.value))):
            shown = f" {node.value!r}" if isinstance(node, yaml.ScalarNode) else ""
            problem = (
                f"{node.value} is beyond the range of a number"
                if node.tag == _FLOAT and not _inf_or_nan(str(node.value))
                else f"{node.tag.rsplit(':', 1)[-1]}{shown} is not a JSON value: "
                "expected a string, number, boolean, null, list or mapping"
            )
            self.problems.append(self.error(path, problem))
        elif first and isinstance(node, yaml.ScalarNode) and node.tag in _READ:
            unreadable = self._unreadable(node)
            if unreadable is not None:
                self.problems.append(self.error(path, unreadable))
                node.tag = _NULL  # reported: read as nothing, which the checks after this one leave alone
        elif first and isinstance(node, yaml.ScalarNode) and LONE_SURROGATE.search(str(node.value)):
            # `"\ud800"` in a description or a parameter passed, and every answer that showed it failed to encode
            # (a 500 for the whole list of scenarios, a run stored and then unreadable).
            self.problems.append(self.error(path, _SURROGATE))
            node.tag, node.value = _NULL, "null"
        if isinstance(node, yaml.ScalarNode):
            return
        active.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, child in enumerate(node.value):
                self._walk(child, (*path, i), seen, active)
        keys: set[str] = set()
        for knode, vnode in node.value if isinstance(node, yaml.MappingNode) else ():
            if first:
                self._written = knode.start_mark.line + 1
            if not isinstance(knode, yaml.ScalarNode):  # `? [a, b]`: dropped from the data, said in words
                if first:
                    kind = "a list" if isinstance(knode, yaml.SequenceNode) else "a mapping"
                    problem = f"a key that is {kind} is not a string: expected a text key"
                    self.problems.append(FieldError(field_path(path), problem, self.source, self._written))
                continue
            name = str(knode.value)
            if LONE_SURROGATE.search(name):  # a name no answer or line could show
                if first:
                    self.problems.append(
                        FieldError(field_path(path), f"a key: {_SURROGATE}", self.source, self._written)
                    )
                name = LONE_SURROGATE.sub("\ufffd", name)
            # A merge key (`<<: *a`) is a key too: given twice, PyYAML took both, where any other key is refused.
            if first and (knode.tag not in (_STR, _MERGE) or name in keys):
                problem = (
                    "is not a string: expected a text key (quote it)"
                    if knode.tag not in (_STR, _MERGE)
                    else "appears twice: expected each key once in a mapping"
                )
                self.problems.append(
                    FieldError(
                        field_path((*path, name)), f"key {name!r} {problem}", self.source, knode.start_mark.line + 1
                    )
                )
            keys.add(name)
            self._walk(vnode, (*path, name), seen, active)
        active.discard(id(node))

    def _unreadable(self, node: yaml.ScalarNode) -> str | None:
        """What is wrong with a whole number, number or boolean YAML cannot read (`!!bool maybe`, `!!int abc`, a
        number of more digits than Python reads), else None."""
        limit = sys.get_int_max_str_digits()
        try:
            value = self._loader.yaml_constructors[node.tag](self._loader, node)
        except (KeyError, ValueError, TypeError, OverflowError):
            pass
        else:
            # Written in hexadecimal, octal, binary or base 60, a whole number is read whatever its length, and
            # failed later, each time it was written out in decimal (a traceback, a 500).
            if node.tag != _INT or not limit or abs(value) < _decimal_bound(limit):
                return None
            return f"a whole number of more than {limit} digits is too long to read: expected at most {limit} digits"
        text = str(node.value)
        digits = sum(c.isdigit() for c in text)
        if node.tag == _INT and limit and digits > limit:
            return f"a whole number of {digits} digits is too long to read: expected at most {limit} digits"
        shown = repr(text) if len(text) <= 40 else repr(text[:40]) + "…"
        return f"{shown} cannot be read as !!{node.tag.rsplit(':', 1)[-1]}: expected {_READ[node.tag]}"

    def line(self, path: FieldPath) -> int | None:
        """The 1-based line of `path`: its key's line for a mapping entry (where a block value is introduced),
        the item's line for a list item; the deepest existing ancestor's when `path` is not in the file."""
        node: yaml.Node | None = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for part in path:
            if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            elif isinstance(node, yaml.MappingNode) and (entry := self._entry(node, str(part))) is not None:
                key, node = entry
                line = key.start_mark.line + 1
            else:
                break
        return line

    def _entry(self, node: yaml.MappingNode, name: str) -> tuple[yaml.Node, yaml.Node] | None:
        """The key and value nodes of `name` in the mapping `node` (the last, when it is written twice, as in the
        data). Each mapping is indexed once: a file of thousands of unknown keys has an error, and a lookup, for
        each, and scanning the mapping for every one made checking such a file quadratic."""
        entries = self._entries.get(id(node))
        if entries is None:
            entries = {str(k.value): (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            self._entries[id(node)] = entries
        return entries.get(name)

    def error(self, path: FieldPath, message: str) -> FieldError:
        return FieldError(field_path(path), message, self.source, self.line(path))


def _stand_ins(text: str, source: str) -> dict[int, int]:
    """For each of `_UNICODE_BREAKS` in `text`, a private-use character `text` does not hold, mapped to it: what
    PyYAML reads in its place. Empty for most files, which hold none of them."""
    present = [c for c in _UNICODE_BREAKS if c in text]
    if not present:
        return {}
    held = set(text)
    free = (chr(c) for r in _PRIVATE_USE for c in r if chr(c) not in held)
    restore = {ord(stand_in): ord(c) for c, stand_in in zip(present, free, strict=False)}
    if len(restore) < len(present):  # a file holding every private-use character: nothing left to stand in
        at = min(text.index(c) for c in present)
        problem = (
            f"character U+{ord(text[at]):04X} cannot be read in a file that also holds every private-use "
            "character: expected \\N, \\L or \\P in a double-quoted string instead"
        )
        raise ScenarioInvalid(source, [FieldError("", problem, source, _line_at(text, at))])
    return restore


def _line_at(text: str, position: int) -> int:
    """The 1-based line of the character at `position`, lines broken where PyYAML breaks them once the characters
    of `_UNICODE_BREAKS` are swapped: the line its marks tell."""
    return len(_LINE_BREAK.findall(text, 0, position)) + 1


def _inf_or_nan(text: str) -> bool:
    return any(word in text.lower() for word in ("inf", "nan"))


def _finite(text: str) -> bool:
    """Whether a YAML float is finite: not `.inf` or `.nan`, and not so large it reads as infinity (`1.0e+400`)."""
    if _inf_or_nan(text):
        return False
    try:
        return math.isfinite(float(text.replace("_", "")))
    except ValueError:  # YAML 1.1's base 60 (`1:30.5`): digits, so finite
        return True


# --- the JSON Schema -------------------------------------------------------------------------------------------


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(resources.files("simulator.scenarios").joinpath("schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@cache
def _kind_keys() -> dict[str, list[str]]:
    """The keys each kind of step takes, as the schema lists them."""
    rules = [rule["then"]["propertyNames"] for rule in schema()["$defs"]["step"]["allOf"]]
    return {rule["x-kind"]: rule["enum"] for rule in rules}


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file."""
    schema = _validator().schema
    assert isinstance(schema, dict)  # the file is a JSON object: `check_schema` passed
    return dict(schema)


_A_PATH = "a dotted path into the event, such as payload.is_executing"
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "null",
}
_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


def _kind_of(value: Any) -> str:
    return _TYPE_NAMES.get(_JSON_TYPES.get(type(value), ""), type(value).__name__)


def _schema_errors(doc: _Document) -> list[FieldError]:
    out: list[FieldError] = []
    told: set[tuple[str, int | None]] = set()
    for error in _validator().iter_errors(doc.data):
        # One problem a node: two keywords of its schema can refuse the same value (a null step is neither a
        # mapping nor any step kind), and the second said the first again in other words.
        for found in _translate(error, doc):
            if (found.field, found.line) not in told:
                told.add((found.field, found.line))
                out.append(found)
    return out


def _translate(error: ValidationError, doc: _Document) -> list[FieldError]:
    """One jsonschema error as FieldErrors that say what was expected, at the right node and line."""
    path: FieldPath = tuple(error.absolute_path)
    # jsonschema types these as possibly unset; an error from `iter_errors` always has them.
    keyword, value = str(error.validator), cast(Any, error.validator_value)
    sub: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    expected = sub.get("x-expected")
    instance = error.instance
    if "propertyNames" in error.schema_path:
        key = str(instance)
        if isinstance(sub, dict) and "x-kind" in sub:
            step = _value_at(doc.data, path)  # the kinds looked up in the step, not its keys scanned for kinds:
            if sum(k in step for k in KINDS) > 1:  # this runs once for each of its unknown keys
                return []  # two kinds in one step: reported once, by the oneOf rule
            kind, allowed = sub["x-kind"], ", ".join(sub["enum"])
            article = "an" if kind[0] in "aeiou" else "a"
            return [
                doc.error((*path, key), f"{key!r} does not belong in {article} {kind} step: expected only {allowed}")
            ]
        if keyword == "minLength" and not key:  # the schema's one: `with:`, whose keys are paths into the event
            return [doc.error((*path, key), f"an empty key names no field: expected {_A_PATH}")]
        return [doc.error((*path, key), f"{key!r} is not a valid name: expected {expected or value}")]
    if keyword == "required":
        missing = [k for k in value if isinstance(instance, dict) and k not in instance]
        return [
            FieldError(
                field_path((*path, k)),
                f"missing required key {k!r}" + (f": expected {expected}" if expected else ""),
                doc.source,
                doc.line(path),
            )
            for k in missing
        ]
    if keyword == "additionalProperties" and isinstance(instance, dict):
        known, patterns = list(sub.get("properties", {})), list(sub.get("patternProperties", {}))
        extra = [str(k) for k in instance if k not in known and not any(re.search(p, str(k)) for p in patterns)]
        listed = [doc.error((*path, k), _unknown_key(k, known, instance)) for k in extra[:MAX_UNKNOWN_LISTED]]
        rest = extra[MAX_UNKNOWN_LISTED:]
        if rest:
            more = f"and {len(rest)} more unknown keys from {rest[0]!r} on: expected only {', '.join(known)}"
            listed.append(doc.error((*path, rest[0]), more))
        return listed
    if keyword == "oneOf" and isinstance(instance, dict) and _is_step(error):
        kinds = [k for k in KINDS if k in instance]
        if not kinds and any(k not in sub.get("properties", {}) for k in instance):
            return []  # the unknown key is reported on its own, naming the step kinds
        found = f"found {' and '.join(kinds)}" if kinds else "found none"
        return [doc.error(path, f"a step has exactly one of {', '.join(KINDS)}; {found}")]
    written = _exponent_as_text(instance, sub.get("type"))
    if written is not None and keyword in ("type", "pattern"):
        return [doc.error(path, written + (f" (expected {expected})" if expected else ""))]
    return [doc.error(path, _message(keyword, value, instance, expected))]


# A number with an exponent that YAML 1.1 reads as text: no dot (`1e3`, `1e+3`), or an exponent without its sign
# (`1.0e3`). Reading it as a number instead would change what such a string means in an existing `with:`.
_EXPONENT_TEXT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _exponent_as_text(instance: Any, types: Any) -> str | None:
    """For a number written with an exponent where a number is expected, what to write instead; else None."""
    wanted = set(types) if isinstance(types, list) else {types}
    if not (isinstance(instance, str) and wanted & {"number", "integer"} and _EXPONENT_TEXT.fullmatch(instance)):
        return None
    number = float(instance)
    if not math.isfinite(number):
        return f"{instance} is beyond the range of a number"
    said = f"YAML reads {instance} as text, not a number"
    forms = [repr(int(number))] if number.is_integer() and abs(number) < 1e16 else []
    if "e" not in repr(number) and not forms:
        forms.append(repr(number))
    if "number" in wanted:  # a float in YAML 1.1's form: a dot in the mantissa, a sign in the exponent
        mantissa, _, exponent = instance.lower().partition("e")
        mantissa += "" if "." in mantissa else ".0"
        forms.append(f"{mantissa}e{exponent if exponent[0] in '+-' else '+' + exponent}")
    return f"{said}: write {' or '.join(forms)}" if forms else said


def _value_at(data: Any, path: FieldPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _is_step(error: ValidationError) -> bool:
    return isinstance(error.schema, dict) and str(error.schema.get("x-expected", "")).startswith("a step")


def _unknown_key(key: str, known: list[str], instance: Any) -> str:
    if set(known) >= set(KINDS):
        kinds = [k for k in KINDS if k in instance]
        if len(kinds) == 1:  # a step of its kind: a key that kind does not take (`withh`), not another kind
            keys = _kind_keys()[kinds[0]]
            article = "an" if kinds[0][0] in "aeiou" else "a"
            hint = did_you_mean(key, keys)
            return f"unknown key {key!r}{hint}: {article} {kinds[0]} step takes only {', '.join(keys)}"
        return f"unknown step kind {key!r}{did_you_mean(key, KINDS)}: expected one of {', '.join(KINDS)}"
    return f"unknown key {key!r}{did_you_mean(key, known)}: expected one of {', '.join(known)}"


def _message(keyword: str, value: Any, instance: Any, expected: str | None) -> str:
    # A scalar as the file spells it in JSON's words (`null`, `true`; Python's would be `None`, `True`).
    got = _kind_of(instance) if isinstance(instance, dict | list) else spelled(instance)
    if keyword == "type":
        types = value if isinstance(value, list) else [value]
        wanted = expected or " or ".join(_TYPE_NAMES.get(t, str(t)) for t in types)
        plain = instance is None or isinstance(instance, bool)  # `got true`, not `got true or false`
        return f"expected {wanted}, got {spelled(instance) if plain else _kind_of(instance)}"
    if keyword == "minItems" and value == 1:
        return f"is empty: expected {expected or 'at least one item'}"
    if keyword in ("minItems", "maxItems", "minProperties", "maxProperties"):
        count = len(instance) if isinstance(instance, dict | list) else 0
        noun = ("key" if isinstance(instance, dict) else "item") + ("" if count == 1 else "s")
        return f"expected {expected or value}, got {count} {noun}"
    if keyword == "exclusiveMinimum":
        return f"expected a number greater than {value}, got {got}"
    if keyword == "minimum":
        return f"expected a number >= {value}, got {got}"
    if keyword == "pattern" and expected and expected.startswith("a duration"):
        return f"not a duration: {got} (expected {expected})"
    return f"expected {expected}, got {got}" if expected else f"{got}: {keyword} {value!r} not satisfied"


@cache
def _decimal_bound(digits: int) -> int:
    """The smallest whole number of more than `digits` decimal digits."""
    return 10**digits
