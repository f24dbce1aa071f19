"""``Time``: PyFlink's durations, as integers of milliseconds.

PyFlink writes ``TumblingEventTimeWindows.of(Time.minutes(5))`` and
``StateTtlConfig.new_builder(Time.seconds(1))``. Here every duration is an int of milliseconds
and ``Time`` is an ``int`` subclass, so ``Time.minutes(5) == 300_000`` goes wherever an int of
milliseconds does, and that code runs unchanged. One class serves windows and state TTL.
"""

from __future__ import annotations

from typing import Self

__all__ = ["Time"]


class Time(int):
    """A duration in milliseconds (PyFlink's ``pyflink.common.time.Time``)."""

    __slots__ = ()

    @classmethod
    def milliseconds(cls, milliseconds: int) -> Self:
        """``milliseconds`` ms."""
        return cls(milliseconds)

    @classmethod
    def seconds(cls, seconds: int) -> Self:
        """``seconds`` s."""
        return cls(seconds * 1_000)

    @classmethod
    def minutes(cls, minutes: int) -> Self:
        """``minutes`` min."""
        return cls(minutes * 60_000)

    @classmethod
    def hours(cls, hours: int) -> Self:
        """``hours`` h."""
        return cls(hours * 3_600_000)

    @classmethod
    def days(cls, days: int) -> Self:
        """``days`` days."""
        return cls(days * 86_400_000)

    @property
    def ms(self) -> int:
        """The duration in milliseconds, as a plain int."""
        return int(self)

    def to_milliseconds(self) -> int:
        """The duration in milliseconds (PyFlink's accessor)."""
        return int(self)

    def __repr__(self) -> str:
        return f"Time.milliseconds({int(self)})"
