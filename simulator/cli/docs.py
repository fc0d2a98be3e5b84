"""The event catalog page, `docs/events.md`, generated from the registry.

`webhook-sim docs` rewrites the page; `webhook-sim docs --check` exits 1 when it is stale.
`tests/test_docs.py` fails when the committed page differs from `render_catalog()`. Run from an installed
package, which has no `docs/` of its own, `webhook-sim docs` prints the page unless given PATH.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from simulator import catalog, files
from simulator.cli import option_types, options
from simulator.errors import FieldError, InvalidInput
from simulator.providers.base import EventType, Provider
from simulator.timeutil import iso_ms

SOURCE_ROOT = Path(__file__).resolve().parents[2]


def default_path() -> Path | None:
    """`docs/events.md` of the source checkout this package runs from; None for an installed package, whose
    parent folder is `site-packages` (a `docs` folder there would be some other package's)."""
    if (SOURCE_ROOT / "pyproject.toml").is_file() and (SOURCE_ROOT / "docs").is_dir():
        return SOURCE_ROOT / "docs" / "events.md"
    return None


def anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _cell(text: str) -> str:
    """`text` made safe for one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def _provider_heading(provider: Provider) -> str:
    return f"{provider.title} (`{provider.name}`)"


def _type_heading(etype: EventType) -> str:
    return f"`{etype.key}`"


def _delivery_facts(provider: Provider) -> str:
    policy = provider.retry_policy
    delays = ", ".join(_duration(d) for d in policy.delays)
    batch = "one event per POST" if provider.max_batch == 1 else f"up to {provider.max_batch} events per POST"
    return (
        f"Native signing: `{provider.native_signing}`. Default retries: {len(policy.delays)}, after {delays} "
        f"(±{policy.jitter:.0%} jitter). Delivery: {batch}."
    )


def _contents(types: list[EventType]) -> list[str]:
    lines = ["| type | aliases | description |", "|---|---|---|"]
    for etype in types:
        aliases = ", ".join(f"`{a}`" for a in etype.aliases)
        link = f"[`{etype.key}`](#{anchor(_type_heading(etype))})"
        lines.append(f"| {link} | {aliases} | {_cell(etype.description)} |")
    return lines


def _type_section(etype: EventType) -> list[str]:
    body = json.loads(catalog.sample(etype.key, seed=0))
    lines = [f"### {_type_heading(etype)}", "", " ".join(etype.description.split()), ""]
    if etype.aliases:
        lines += ["Aliases: " + ", ".join(f"`{a}`" for a in etype.aliases) + ".", ""]
    lines += [
        f"Sample (`webhook-sim sample {etype.key} --seed 0`):",
        "",
        "```json",
        json.dumps(body, indent=2, ensure_ascii=False),
        "```",
        "",
    ]
    return lines


def _provider_section(provider: Provider) -> list[str]:
    types = catalog.event_types(provider.name)
    lines = [f"## {_provider_heading(provider)}", "", _delivery_facts(provider), ""]
    if not types:
        return [*lines, "No event types registered.", ""]
    lines += [*_contents(types), ""]
    for etype in types:
        lines += _type_section(etype)
    return lines


def render_catalog() -> str:
    """The Markdown of the catalog page: per provider, a table of contents, then each type with a sample body."""
    providers = catalog.providers()
    lines = [
        "# Event catalog",
        "",
        "Every event type the simulator emits, generated from the registry by `webhook-sim docs`: do not",
        "edit by hand. Each sample is the exact body a subscriber receives for seed 0 at the fixed sample time",
        f"{iso_ms(catalog.SAMPLE_TIME)}, as `webhook-sim sample TYPE --seed 0` prints it (pretty-printed here).",
        "",
    ]
    for provider in providers:
        count = len(provider.event_types)
        lines.append(f"- [{provider.title}](#{anchor(_provider_heading(provider))}): {count} event types")
    lines.append("")
    for provider in providers:
        lines += _provider_section(provider)
    return "\n".join(lines).rstrip("\n") + "\n"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "docs",
        help="write the event catalog page (docs/events.md)",
        description="Write the event catalog page from the registry, or check that it is current.",
    )
    here = default_path()
    shown = f"{here}, the source checkout's page" if here else "none: the page is printed (no source checkout)"
    p.add_argument("path", nargs="?", type=Path, help=f"where the page goes (default: {shown})")
    options.add(p, "--check", "exit 1 if the page differs from the registry", default=False, flag_only=True)
    p.set_defaults(handler=docs_command)


def docs_command(args: argparse.Namespace) -> int:
    """Write the catalog page (or, with `--check`, report whether it is current). Returns the exit code."""
    path: Path | None = args.path or default_path()
    if path is None and args.check:
        raise _bad("no page to check: give its PATH (this package runs from no source checkout with a docs/ folder)")
    page = render_catalog()
    if path is None:
        sys.stdout.write(page)
        return 0
    if args.check:
        if _read(path) != page:
            print(f"{path} is stale: run `webhook-sim docs`", file=sys.stderr)
            return 1
        return 0
    _write(path, page)
    return 0


def _read(path: Path) -> str | None:
    """The page at `path`; None when there is none. A folder or an unreadable file is InvalidInput naming PATH."""
    if files.kind(path) == "folder":
        raise _bad(f"{path} is a folder: expected the page's file")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _write(path: Path, page: str) -> None:
    """Write the page, making its folder if need be (`docs/` of a fresh tree); InvalidInput naming PATH when
    `path` is a folder or cannot be written, checked as `--output` files are."""
    try:
        if not path.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
        option_types.output_file(str(path))
        path.write_text(page, encoding="utf-8")
    except argparse.ArgumentTypeError as exc:
        raise _bad(str(exc)) from None
    except (FileExistsError, NotADirectoryError):  # a file where a folder of the path should be
        raise _bad(f"cannot write {path}: {path.parent} is not a folder") from None
    except OSError as exc:
        raise _bad(f"cannot write {path}: {exc.strerror or exc}") from None


def _bad(message: str) -> InvalidInput:
    return InvalidInput(f"PATH: {message}", errors=[FieldError("PATH", message)])
