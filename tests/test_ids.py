"""Ids in the providers' formats, for every time a run may reach."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from simulator.ids import OBJECT_ID_LAST, RunIds, TimeBeyondIds, object_id


@pytest.mark.parametrize("when", [datetime(1970, 1, 1, tzinfo=UTC), OBJECT_ID_LAST])
def test_an_object_id_holds_every_time_from_1970_to_its_last(when: datetime) -> None:
    for oid in (object_id(random.Random(1), when), RunIds(1, when).object_id("credential", when)):
        assert len(oid) == 24 and int(oid[:8], 16) == int(when.timestamp())


@pytest.mark.parametrize("when", [OBJECT_ID_LAST + timedelta(seconds=1), datetime(1969, 12, 31, 23, tzinfo=UTC)])
def test_a_time_an_object_id_cannot_hold_is_refused_saying_so(when: datetime) -> None:
    with pytest.raises(TimeBeyondIds, match="ObjectId"):
        object_id(random.Random(1), when)
    with pytest.raises(TimeBeyondIds, match="ObjectId"):
        RunIds(1, when).object_id("credential", when)
