"""Persistence: the only package that speaks SQL. SQLite (a file, WAL) by default; any SQLAlchemy async URL."""

from simulator.store.opening import sqlalchemy_url
from simulator.store.outbox import ACTIVE
from simulator.store.store import Store, ensure_free

__all__ = ["ACTIVE", "Store", "ensure_free", "sqlalchemy_url"]
