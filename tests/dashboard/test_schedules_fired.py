"""A one-off schedule that has fired, on the schedules page: listed as fired with the run it started, without the
Pause button the API would refuse; a schedule still to come keeps its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.dashboard.conftest import Page


def test_a_fired_one_off_shows_its_run_and_no_pause(page: Page) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    with page.server.client() as api:
        once = api.post("/schedules", json={"scenario": "dash-slow", "at": past, "speed": 0}).json()
        every = api.post("/schedules", json={"scenario": "dash-slow", "interval": 3600}).json()
        run = page.wait(
            lambda: (api.get(f"/schedules/{once['id']}").json()["last_firing"] or {}).get("run"), what="the firing"
        )
    page.open("/schedules")
    fired = page.one(f'tr[data-id="{once["id"]}"][data-state="fired"]')
    assert fired.find_element("css selector", "[data-status]").get_attribute("data-status") == "fired"
    assert fired.find_element("css selector", "a").get_attribute("href").endswith(f"#/runs/{run}")
    assert [b.text for b in fired.find_elements("css selector", "button")] == ["Delete"]
    active = page.one(f'tr[data-id="{every["id"]}"][data-state="active"]')
    assert [b.text for b in active.find_elements("css selector", "button")] == ["Pause", "Delete"]
