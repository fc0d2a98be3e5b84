"""Persistence: the only package that speaks SQL. SQLite (a file, WAL) by default; any SQLAlchemy async URL."""

from simulator.store.store import Store, sqlalchemy_url

__all__ = ["Store", "sqlalchemy_url"]
