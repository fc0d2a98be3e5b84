"""Persistence: the only package that speaks SQL. SQLite (a file, WAL) by default; any SQLAlchemy async URL."""

from simulator.store.store import Store, ensure_free, sqlalchemy_url

__all__ = ["Store", "ensure_free", "sqlalchemy_url"]
