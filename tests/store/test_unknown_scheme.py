"""A store URL of a scheme no driver opens (`postgresq://`, a typo) is refused naming the URL with its password
masked, as every other refusal of a store names it: the password went to the terminal and the service's log."""

from __future__ import annotations

import pytest

from simulator.errors import InvalidInput
from simulator.store import Store


@pytest.mark.parametrize("scheme", ["postgresq", "postgresql+asyncpgg", "mysql"])
async def test_an_unknown_schemes_url_is_refused_with_its_password_masked(scheme: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await Store.open(f"{scheme}://postgres:s3cr3t-pw@127.0.0.1:1/ws")
    said = str(refused.value)
    assert said.startswith("not a store this program opens: ") and "postgres:***@127.0.0.1:1/ws" in said, said
    assert "s3cr3t-pw" not in said
    assert [e.field for e in refused.value.errors] == ["db"]
