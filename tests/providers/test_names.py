"""A run's names: from its seed and the package's own lists, never from an installed Faker's data."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

from simulator.providers.names import FIRST_NAMES, LAST_NAMES, Names


def _draw(seed: int) -> list[str]:
    names = Names(seed)
    return [f(names) for _ in range(50) for f in (Names.first_name, Names.last_name, Names.company)]


def test_a_seed_gives_the_same_names_and_another_seed_others():
    assert _draw(7) == _draw(7)
    assert _draw(7) != _draw(8)


def test_companies_take_each_of_the_three_forms_at_about_their_share():
    names = Names(1)
    forms = Counter(
        "and" if " and " in c and "," in c else "hyphen" if "-" in c else "suffix"
        for c in (names.company() for _ in range(3000))
    )
    assert 0.55 < forms["suffix"] / 3000 < 0.65 and 0.15 < forms["hyphen"] / 3000 < 0.25
    assert 0.15 < forms["and"] / 3000 < 0.25


def test_every_name_makes_a_mail_address_as_it_is():
    assert len(set(FIRST_NAMES)) == len(FIRST_NAMES) >= 100 and len(set(LAST_NAMES)) == len(LAST_NAMES) >= 100
    assert all(re.fullmatch(r"[A-Z][A-Za-z]+", n) for n in FIRST_NAMES + LAST_NAMES)


def test_building_events_never_imports_faker():
    code = (
        "import sys; from simulator import catalog\n"
        "for t in catalog.event_types(): catalog.sample(t.key, 3)\n"
        "print('faker' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
