"""State time-to-live: PyFlink's ``StateTtlConfig`` (durations as ``Time`` or int milliseconds).

::

    ttl = (
        StateTtlConfig.new_builder(Time.seconds(1))
        .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
        .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
        .cleanup_full_snapshot()
        .build()
    )
    descriptor.enable_time_to_live(ttl)

The clock is the operator's processing time (Flink's only TTL time characteristic), so tests
drive it with ``ManualProcessingTimeService``. See ``docs/state.md`` for the semantics.
"""

from __future__ import annotations

import datetime
import enum
from typing import Self, TypeVar

from streamrt.errors import GraphError
from streamrt.runtime.ttl_state import TtlSettings
from streamrt.time import Time

__all__ = ["StateTtlConfig"]

E = TypeVar("E", bound=enum.Enum)


def _ttl_ms(ttl: Time | int | datetime.timedelta) -> int:
    if isinstance(ttl, Time):
        ms = ttl.ms
    elif isinstance(ttl, datetime.timedelta):
        ms = ttl // datetime.timedelta(milliseconds=1)
    elif isinstance(ttl, int) and not isinstance(ttl, bool):
        ms = ttl
    else:
        msg = f"a state TTL is a Time, a timedelta or an int of milliseconds; got {ttl!r}"
        raise GraphError(msg)
    if ms <= 0:
        msg = f"a state TTL must be positive; got {ms} ms"
        raise GraphError(msg)
    return ms


class StateTtlConfig:
    """When keyed state expires (Flink's ``StateTtlConfig``); build with ``new_builder``.

    Attributes:
        ttl_ms: the time to live in milliseconds.
        update_type: which accesses refresh a value's timestamp.
        state_visibility: whether an expired value not yet cleaned up may be returned.
        cleanup_in_full_snapshot: whether checkpoints leave expired values out.
    """

    class UpdateType(enum.Enum):
        """Which accesses refresh a value's last-access timestamp."""

        Disabled = 0  # PyFlink's names
        OnCreateAndWrite = 1
        OnReadAndWrite = 2

    class StateVisibility(enum.Enum):
        """Whether an expired value that is still stored may be returned."""

        ReturnExpiredIfNotCleanedUp = 0
        NeverReturnExpired = 1

    class TtlTimeCharacteristic(enum.Enum):
        """The time TTL is measured in: processing time only, as in Flink."""

        ProcessingTime = 0

    def __init__(
        self,
        ttl_ms: int,
        update_type: StateTtlConfig.UpdateType,
        state_visibility: StateTtlConfig.StateVisibility,
        cleanup_in_full_snapshot: bool,
    ) -> None:
        self.ttl_ms = ttl_ms
        self.update_type = update_type
        self.state_visibility = state_visibility
        self.cleanup_in_full_snapshot = cleanup_in_full_snapshot

    @staticmethod
    def new_builder(ttl: Time | int | datetime.timedelta) -> StateTtlConfig.Builder:
        """A builder for a TTL of ``ttl`` (a ``Time``, a ``timedelta`` or int milliseconds)."""
        return StateTtlConfig.Builder(ttl)

    def is_enabled(self) -> bool:
        """Whether values expire at all (``UpdateType.Disabled`` turns TTL off)."""
        return self.update_type is not StateTtlConfig.UpdateType.Disabled

    def get_ttl(self) -> Time:
        """The time to live (PyFlink's accessor)."""
        return Time(self.ttl_ms)

    def ttl_settings(self) -> TtlSettings | None:
        """The runtime's form of this config; ``None`` when TTL is disabled."""
        if not self.is_enabled():
            return None
        return TtlSettings(
            ttl_ms=self.ttl_ms,
            update_on_read=self.update_type is StateTtlConfig.UpdateType.OnReadAndWrite,
            return_expired=(
                self.state_visibility is StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp
            ),
            cleanup_in_snapshot=self.cleanup_in_full_snapshot,
        )

    def __repr__(self) -> str:
        return (
            f"StateTtlConfig(ttl_ms={self.ttl_ms}, update_type={self.update_type.name}, "
            f"state_visibility={self.state_visibility.name}, "
            f"cleanup_in_full_snapshot={self.cleanup_in_full_snapshot})"
        )

    class Builder:
        """PyFlink's ``StateTtlConfig.Builder``; every setter returns the builder."""

        def __init__(self, ttl: Time | int | datetime.timedelta) -> None:
            self._ttl_ms = _ttl_ms(ttl)
            self._update_type = StateTtlConfig.UpdateType.OnCreateAndWrite
            self._visibility = StateTtlConfig.StateVisibility.NeverReturnExpired
            self._cleanup_full_snapshot = False

        def set_update_type(self, update_type: StateTtlConfig.UpdateType) -> Self:
            """Which accesses refresh a value's timestamp (default ``OnCreateAndWrite``)."""
            self._update_type = _checked(update_type, StateTtlConfig.UpdateType, "update type")
            return self

        def update_ttl_on_create_and_write(self) -> Self:
            """``set_update_type(UpdateType.OnCreateAndWrite)``."""
            return self.set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)

        def update_ttl_on_read_and_write(self) -> Self:
            """``set_update_type(UpdateType.OnReadAndWrite)``."""
            return self.set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite)

        def set_state_visibility(self, visibility: StateTtlConfig.StateVisibility) -> Self:
            """Whether expired values may be returned (default ``NeverReturnExpired``)."""
            self._visibility = _checked(
                visibility, StateTtlConfig.StateVisibility, "state visibility"
            )
            return self

        def return_expired_if_not_cleaned_up(self) -> Self:
            """``set_state_visibility(StateVisibility.ReturnExpiredIfNotCleanedUp)``."""
            return self.set_state_visibility(
                StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp
            )

        def never_return_expired(self) -> Self:
            """``set_state_visibility(StateVisibility.NeverReturnExpired)``."""
            return self.set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)

        def set_ttl_time_characteristic(
            self, characteristic: StateTtlConfig.TtlTimeCharacteristic
        ) -> Self:
            """Processing time, the only one (as in Flink)."""
            _checked(characteristic, StateTtlConfig.TtlTimeCharacteristic, "time characteristic")
            return self

        def use_processing_time(self) -> Self:
            """Processing time, the only one (as in Flink)."""
            return self

        def set_ttl(self, ttl: Time | int | datetime.timedelta) -> Self:
            """Replace the time to live."""
            self._ttl_ms = _ttl_ms(ttl)
            return self

        def cleanup_full_snapshot(self) -> Self:
            """Leave expired values out of checkpoints (the live state is not touched)."""
            self._cleanup_full_snapshot = True
            return self

        def cleanup_incrementally(
            self, cleanup_size: int, run_cleanup_for_every_record: bool
        ) -> Self:
            """Accepted for PyFlink compatibility; streamrt cleans up on access and snapshots.

            Expired values are never returned either way (``docs/state.md``).
            """
            return self

        def disable_cleanup_in_background(self) -> Self:
            """Accepted for PyFlink compatibility; streamrt has no background cleanup."""
            return self

        def build(self) -> StateTtlConfig:
            """The config."""
            return StateTtlConfig(
                self._ttl_ms, self._update_type, self._visibility, self._cleanup_full_snapshot
            )


def _checked(value: object, enum_type: type[E], what: str) -> E:
    if not isinstance(value, enum_type):
        names = ", ".join(m.name for m in enum_type)
        msg = (
            f"a TTL {what} is one of StateTtlConfig.{enum_type.__name__}.{{{names}}}; got {value!r}"
        )
        raise GraphError(msg)
    return value
