"""Persistence: the only package that speaks SQL. SQLite (a file, WAL) by default; any SQLAlchemy async URL."""

from simulator.store.outbox import ACTIVE
from simulator.store.store import Store, ensure_free, sqlalchemy_url

__all__ = ["ACTIVE", "Store", "ensure_free", "sqlalchemy_url"]
