"""Builders of Basis Theory's event types."""
