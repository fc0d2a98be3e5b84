"""webhook-sim: realistic provider webhooks, delivered the way the provider delivers them."""

__version__ = "0.1.0"
USER_AGENT = f"webhook-sim/{__version__}"

__all__ = ["USER_AGENT", "__version__"]
