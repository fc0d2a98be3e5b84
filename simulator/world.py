"""The World: the entities a run has created so far, so every event of a run tells one coherent story.

Entities are plain dicts keyed by kind (`credential`, `token`, `token_intent`, `tenant`…) and by a name. A name
comes from a scenario step's `as:`; without one, a builder reads the most recent entity of that kind and
creates one when there is none.

The world also holds the run's id source (`ids`): ids fixed by the run's seed and start time (see
`simulator.ids.RunIds`).
"""

from __future__ import annotations

from typing import Any

from simulator.ids import RunIds

Entity = dict[str, Any]


class World:
    def __init__(self, ids: RunIds | None = None) -> None:
        self.ids = ids or RunIds.fresh()
        self._by_kind: dict[str, dict[str, Entity]] = {}
        self._latest: dict[str, str] = {}
        self._counter = 0

    def get(self, kind: str, name: str | None = None) -> Entity | None:
        """The entity of `kind` called `name`, or the latest one of that kind when `name` is None."""
        entities = self._by_kind.get(kind)
        if not entities:
            return None
        key = name if name is not None else self._latest[kind]
        return entities.get(key)

    def put(self, kind: str, entity: Entity, name: str | None = None) -> Entity:
        """Store `entity` under `name` (or an automatic name) and make it the latest of its kind."""
        if name is None:
            self._counter += 1
            name = f"_{kind}{self._counter}"
        self._by_kind.setdefault(kind, {})[name] = entity
        self._latest[kind] = name
        return entity

    def remove(self, kind: str, name: str | None = None) -> Entity | None:
        """Forget an entity (a deleted token, say); later events of that kind make a new one."""
        entities = self._by_kind.get(kind)
        if not entities:
            return None
        key = name if name is not None else self._latest.get(kind)
        entity = entities.pop(key, None) if key is not None else None
        if entities and self._latest.get(kind) == key:
            self._latest[kind] = next(reversed(entities))
        elif not entities:
            self._latest.pop(kind, None)
        return entity

    def all(self, kind: str) -> list[Entity]:
        return list(self._by_kind.get(kind, {}).values())

    def kinds(self) -> list[str]:
        return sorted(self._by_kind)
