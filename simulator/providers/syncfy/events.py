"""Builders of Syncfy's event types."""
