"""``Time``: PyFlink's window sizes, as plain integers of milliseconds.

PyFlink writes ``TumblingEventTimeWindows.of(Time.minutes(5))``; here every size is an int of
milliseconds, and ``Time.minutes(5)`` is ``300_000``, so that code runs unchanged.
"""

from __future__ import annotations

__all__ = ["Time"]


class Time:
    """Durations in milliseconds (PyFlink's ``pyflink.common.time.Time``)."""

    @staticmethod
    def milliseconds(milliseconds: int) -> int:
        """``milliseconds`` ms."""
        return milliseconds

    @staticmethod
    def seconds(seconds: int) -> int:
        """``seconds`` s in ms."""
        return seconds * 1_000

    @staticmethod
    def minutes(minutes: int) -> int:
        """``minutes`` min in ms."""
        return minutes * 60_000

    @staticmethod
    def hours(hours: int) -> int:
        """``hours`` h in ms."""
        return hours * 3_600_000

    @staticmethod
    def days(days: int) -> int:
        """``days`` d in ms."""
        return days * 86_400_000
