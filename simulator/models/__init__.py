"""The shapes that cross boundaries, each defined once.

- `records`: frozen dataclasses the core, the delivery engine and the store pass around (`Event`, `Subscription`,
  `Delivery`, `Attempt`, `Run`, `RetryPolicy`, `BuildContext`).
- `inputs`: what a caller may ask for (pydantic): the control API's request bodies, also used by the CLI.
- `answers`: what the control API answers (pydantic): the OpenAPI document and the Python client use them too.
- `enums`: every closed set of names (signing schemes, delivery and run statuses).
"""

from simulator.models.records import Attempt, BuildContext, Delivery, Event, RetryPolicy, Run, Subscription

__all__ = ["Attempt", "BuildContext", "Delivery", "Event", "RetryPolicy", "Run", "Subscription"]
