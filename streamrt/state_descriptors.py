"""State descriptors: PyFlink's names for declaring a keyed (or broadcast) state.

A descriptor names a state and says its kind; ``RuntimeContext.get_state(descriptor)`` and its
siblings return the state itself, with a time-to-live when ``enable_time_to_live`` was called.
Type information is accepted where PyFlink takes it (so code copied from PyFlink runs with only
its imports changed) and otherwise unused: values are Python objects, and checkpoints encode them
as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamrt.errors import GraphError
from streamrt.state_ttl import StateTtlConfig

__all__ = [
    "AggregatingStateDescriptor",
    "ListStateDescriptor",
    "MapStateDescriptor",
    "ReducingStateDescriptor",
    "StateDescriptor",
    "ValueStateDescriptor",
]


@dataclass(eq=False)
class StateDescriptor:
    """What every descriptor has: a name (unique per operator) and an optional TTL.

    Attributes:
        name: the state's name; one name has one kind within an operator.
        ttl_config: a ``StateTtlConfig`` set by ``enable_time_to_live``, else ``None``.
    """

    name: str
    ttl_config: StateTtlConfig | None = field(default=None, init=False)

    #: the kind of state, as the backend knows it (``"value"``, ``"list"``, ...)
    kind = "value"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            msg = f"a state descriptor needs a non-empty name; got {self.name!r}"
            raise GraphError(msg)

    def get_name(self) -> str:
        """The state's name (PyFlink's accessor)."""
        return self.name

    def enable_time_to_live(self, ttl_config: StateTtlConfig) -> None:
        """Expire this state's values as ``ttl_config`` says (list and map: per element/entry).

        Raises:
            GraphError: ``ttl_config`` is not a ``StateTtlConfig``.
        """
        if not isinstance(ttl_config, StateTtlConfig):
            msg = (
                f"enable_time_to_live() needs a StateTtlConfig (StateTtlConfig.new_builder(...)"
                f".build()); got {ttl_config!r} for state {self.name!r}"
            )
            raise GraphError(msg)
        self.ttl_config = ttl_config

    def _require(self, attribute: str, what: str) -> None:
        if getattr(self, attribute) is None:
            msg = f"{type(self).__name__} {self.name!r} needs {attribute} ({what}); got None"
            raise GraphError(msg)


@dataclass(eq=False)
class ValueStateDescriptor(StateDescriptor):
    """One value per key (``RuntimeContext.get_state``)."""

    value_type_info: Any = None
    kind = "value"


@dataclass(eq=False)
class ListStateDescriptor(StateDescriptor):
    """A list per key (``RuntimeContext.get_list_state``)."""

    elem_type_info: Any = None
    kind = "list"


@dataclass(eq=False)
class MapStateDescriptor(StateDescriptor):
    """A dict per key (``get_map_state``), or a broadcast state (``broadcast(descriptor)``)."""

    key_type_info: Any = None
    value_type_info: Any = None
    kind = "map"


@dataclass(eq=False)
class ReducingStateDescriptor(StateDescriptor):
    """One value per key, folded with ``reduce_function`` on every ``add``."""

    reduce_function: Any = None
    type_info: Any = None
    kind = "reducing"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._require("reduce_function", "a ReduceFunction or a callable (a, b) -> value")


@dataclass(eq=False)
class AggregatingStateDescriptor(StateDescriptor):
    """An accumulator per key, fed by an ``AggregateFunction`` on every ``add``."""

    agg_function: Any = None
    state_type_info: Any = None
    kind = "aggregating"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._require("agg_function", "an AggregateFunction")
