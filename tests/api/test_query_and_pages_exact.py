"""A list's page holds `limit` items of what the list shows, and its whole-number parameters are written in the
digits 0-9, as the document's `type: integer` says. The ad-hoc targets' own subscriptions were left out after the
page was cut, so a page came short, even empty with a cursor; `limit=1_0` and `seed=+3` were read as numbers."""

from __future__ import annotations

import httpx
import pytest

from tests.api.harness import problem


def test_a_page_of_subscriptions_is_full_whatever_ad_hoc_targets_exist(api: httpx.Client) -> None:
    api.post("/reset")
    made = api.post("/events", json={"type": "basistheory:token.created", "target": "http://127.0.0.1:9/adhoc"})
    assert made.status_code == 202, made.text
    listed = [api.post("/subscriptions", json={"url": f"http://127.0.0.1:9/{n}"}).json()["id"] for n in range(2)]
    first = api.get("/subscriptions", params={"limit": 1}).json()
    assert [s["id"] for s in first["data"]] == listed[:1], first
    second = api.get("/subscriptions", params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert [s["id"] for s in second["data"]] == listed[1:], second
    assert second["next_cursor"] is None, second


@pytest.mark.parametrize("text", ["1_0", "+3", " 2", "2\n", "٣", "1e1"])
@pytest.mark.parametrize(("path", "name"), [("/deliveries", "limit"), ("/events/token.created/sample", "seed")])
def test_a_whole_number_not_in_the_digits_0_9_is_refused_naming_it(
    api: httpx.Client, path: str, name: str, text: str
) -> None:
    body = problem(api.get(path, params={name: text}), 422, name)
    assert "whole number written in the digits 0-9" in str(body["errors"]), body
    assert api.get(path, params={name: "3"}).status_code == 200
