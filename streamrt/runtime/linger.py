"""The linger bound of a buffering sink: pending records are sent within ``linger_ms``.

Kafka's ``linger.ms`` and Flink's buffer timeout, for a sink writer: a writer buffers records
in ``write`` (no I/O) and sends them when its buffer is full, before a checkpoint barrier and
at end of input. ``LingerTimer`` adds the third occasion: at most ``linger_ms`` after the first
record of a flush cycle became pending, even when no more input arrives.

One processing-time timer per flush cycle, not per record: the first pending record arms it
(``armed`` is one attribute read per record), the timer fires as a task mail and only marks the
cycle ``due``. A due sink reports itself unavailable, so the task sends before it takes its
next input batch: a wait for input ends with the mail, a busy task sends right after its
current batch. Any flush ends the cycle (``reset``).
"""

from __future__ import annotations

from streamrt.runtime.processing_time import Cancellable, ProcessingTimeService

__all__ = ["LingerTimer"]


class LingerTimer:
    """Marks a sink's flush cycle ``due`` ``linger_ms`` after its first pending record.

    Args:
        processing_time: the task's processing-time service (timers are mails).
        linger_ms: >= 0 the bound; < 0 never due (send only when full, at barriers, at the end).
    """

    __slots__ = ("_cycle", "_handle", "_linger_ms", "_pts", "armed", "due")

    def __init__(self, processing_time: ProcessingTimeService, linger_ms: int) -> None:
        self._pts = processing_time
        self._linger_ms = linger_ms
        self._handle: Cancellable | None = None
        self._cycle = 0
        #: a timer runs for the current cycle (or lingering is off): nothing to arm
        self.armed = linger_ms < 0
        #: the linger time of the current cycle has passed: send what is pending now
        self.due = False

    @property
    def linger_ms(self) -> int:
        """The bound (< 0: off)."""
        return self._linger_ms

    def arm(self) -> None:
        """A record became pending and no timer runs: start one for this cycle."""
        if self._linger_ms < 0:
            return
        self.armed = True
        cycle = self._cycle
        pts = self._pts

        def expire(_: int) -> None:
            if cycle == self._cycle:  # a timer of a cycle a flush already ended does nothing
                self.due = True
                self._handle = None

        self._handle = pts.register_timer(pts.current_processing_time() + self._linger_ms, expire)

    def reset(self) -> None:
        """Everything pending was sent (a linger send, a full buffer, a barrier, the end)."""
        self._cycle += 1
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.due = False
        self.armed = self._linger_ms < 0
