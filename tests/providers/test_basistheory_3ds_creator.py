"""Who opens a 3DS session: a customer's (CIT) the public application of the frontend SDKs, a merchant's (MIT) the
private one of the backend, "only through the API or backend SDKs" (Basis Theory's 3DS sessions page). Every
session was opened by a public app: a merchant session, no cardholder there, told of an Android App."""

from __future__ import annotations

from simulator import catalog


def test_a_merchant_session_is_opened_by_the_backend_and_a_customers_by_the_frontend() -> None:
    created = catalog.resolve("basistheory:3ds.session.created")
    ctx = catalog.new_context(7, catalog.SAMPLE_TIME)  # one tenant, one set of applications for all
    openers: dict[str, set[str]] = {"customer": set(), "merchant": set()}
    for _ in range(200):
        event = catalog.build_event(created, ctx).parsed()["data"]
        session, actor = event["session"], event["actor"]
        assert session["created_by"] == actor["id"], event
        openers[session["type"]].add(actor["id"])
    assert len(openers["customer"]) == 1 and len(openers["merchant"]) == 1, openers
    assert openers["customer"] != openers["merchant"]
    apps = ctx.world.get("tenant")["_apps"]
    assert openers == {"customer": {apps["public"]["id"]}, "merchant": {apps["private"]["id"]}}
