"""The attachment files of a credential's transactions as `GET /v1/credentials/{id}/transactions` lists them: each
attachment with its CFDI file's bytes (`content`, base64) and that file parsed (`parse_content`).

`parse_content` follows Syncfy's recorded answers [syncfy-sync-tax Postman collection, "Return Transactions With
Attachment Content"]: an element is an object of its attributes then its children, every name upper-cased with
its namespace prefix (`cfdi:Comprobante` → `CFDI:COMPROBANTE`, `xsi:schemaLocation` → `XSI:SCHEMALOCATION`), the
namespace declarations first as `XMLNS:…` attributes; attribute values stay text; an element with neither
attributes nor children is `null` (`<cfdi:Impuestos />`). Children whose name repeats (`cfdi:Concepto`,
`cfdi:Traslado`) become a list of one-key objects, in order; a single one stays an object (11 of the 12 recorded
files; the twelfth, unlike the rest, lists single `Traslado`s).

Where the emulation differs from Syncfy: the recordings show no element with both attributes and repeated children
(here: each child name's values listed under it) nor text content (here: an element with only text is that text;
text beside attributes or children is left out). The twin's own files have neither.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any
from xml.etree import ElementTree

from simulator.providers.syncfy import api_query as query
from simulator.providers.syncfy.api_data import KINDS, WindowRows, dumps

XML_NS = "http://www.w3.org/XML/1998/namespace"  # bound to `xml` without a declaration


def with_files(places: Iterable[tuple[query.Segment, int]], *, content: bool, parse: bool) -> Iterator[str]:
    """The transactions at `places` as JSON texts, each attachment with `content` and/or `parse_content` added
    after its `file`. Neither asked: the rows as `GET /v1/transactions` writes them."""
    windows: dict[int, WindowRows] = {}
    for segment, i in places:
        text = segment.row(i)
        if not (content or parse):
            yield text
            continue
        row = json.loads(text)
        if row["attachments"]:
            rows = windows.get(id(segment))
            if rows is None:
                rows = windows[id(segment)] = _window_rows(segment)
            row["attachments"] = [_with_file(ref, rows.invoice(i, ref), content, parse) for ref in row["attachments"]]
        yield dumps(row)


def _window_rows(segment: query.Segment) -> WindowRows:
    """The window a transactions segment reads: transaction `i` carries attachment `i`, whose file
    `WindowRows.invoice(i, …)` writes (the bytes `GET /v1/attachments/{id}` serves)."""
    if segment.window is None:  # transactions are always a window's (`syncfy_api._segments`)
        raise ValueError("a transactions segment without its window")
    owner, window = segment.owner, segment.window
    return WindowRows(owner, window, {k: window.count(k, owner) for k in KINDS})


def _with_file(ref: dict[str, Any], data: bytes, content: bool, parse: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in ref.items():
        out[key] = value
        if key == "file":  # where Syncfy writes them (recorded)
            if content:
                out["content"] = base64.b64encode(data).decode("ascii")
            if parse:
                out["parse_content"] = parse_cfdi(data)
    return out


# -- parse_content ------------------------------------------------------------------------------------------------


def parse_cfdi(data: bytes) -> dict[str, Any]:
    """A CFDI file (any XML) as Syncfy's `parse_content`: `{ROOT: value}` (rules in the module docstring)."""
    declared: dict[int, list[tuple[str, str]]] = {}
    pending: list[tuple[str, str]] = []
    root: ElementTree.Element | None = None
    # ElementTree resolves prefixes to URIs; the `start-ns` events give the prefixes back, element by element.
    for event, item in ElementTree.iterparse(io.BytesIO(data), events=("start-ns", "start")):
        if event == "start-ns":
            pending.append(item)
            continue
        declared[id(item)], pending = pending, []
        if root is None:
            root = item
    if root is None:  # iterparse raises on a document without a root first; kept for the type checker
        raise ValueError("an XML document without an element")
    return dict([_node(root, {XML_NS: "xml"}, declared)])


def _scoped(scope: dict[str, str], declarations: list[tuple[str, str]]) -> dict[str, str]:
    """The URI → prefix map inside an element that declares `declarations` (prefix, URI)."""
    return {**scope, **{uri: prefix for prefix, uri in declarations}} if declarations else scope


def _name(qualified: str, scope: dict[str, str]) -> str:
    """`{uri}Local` as `PREFIX:LOCAL` (the prefix the document bound the URI to), upper-cased."""
    if qualified.startswith("{"):
        uri, local = qualified[1:].split("}", 1)
        prefix = scope.get(uri, "")
        qualified = f"{prefix}:{local}" if prefix else local
    return qualified.upper()


def _node(
    element: ElementTree.Element, outer: dict[str, str], declared: dict[int, list[tuple[str, str]]]
) -> tuple[str, Any]:
    """An element's name and value, inside the namespace scope `outer` (it may bind its own name's prefix)."""
    declarations = declared[id(element)]
    scope = _scoped(outer, declarations)
    fields: dict[str, Any] = {f"xmlns:{p}".upper() if p else "XMLNS": uri for p, uri in declarations}
    fields.update((_name(k, scope), v) for k, v in element.attrib.items())
    children = [_node(c, scope, declared) for c in element]
    return _name(element.tag, scope), _value(fields, children, element.text)


def _value(fields: dict[str, Any], children: list[tuple[str, Any]], text: str | None) -> Any:
    if not fields and not children:
        return (text or "").strip() or None
    names = [n for n, _ in children]
    if len(set(names)) == len(names):
        return {**fields, **dict(children)}
    if not fields:
        return [{n: v} for n, v in children]
    grouped: dict[str, list[Any]] = {}  # attributes beside repeated children (not recorded): values by name
    for n, v in children:
        grouped.setdefault(n, []).append(v)
    return {**fields, **grouped}
