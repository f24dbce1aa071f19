"""The linger bound of a buffering sink: pending records are sent within ``linger_ms``.

Kafka's ``linger.ms`` and Flink's buffer timeout, for a sink writer: a writer buffers records
in ``write`` (no I/O) and sends them when its buffer is full, before a checkpoint barrier and
at end of input. ``LingerTimer`` adds the third occasion: at most ``linger_ms`` after the first
record of a flush cycle became pending, even when no more input arrives.

One processing-time timer per flush cycle, not per record: the first pending record arms it
(``armed`` is one attribute read per record). A sink whose cycle has ``expired()`` reports
itself unavailable, so the task sends before it takes its next input batch. A task waiting for
input is woken by the timer, which fires as a mail and marks the cycle ``due``; a busy task,
which may not yield to the event loop between batches, sees the deadline pass on the clock
when it checks availability after a batch. Any flush ends the cycle (``reset``).
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

    __slots__ = ("_cycle", "_deadline_ms", "_handle", "_linger_ms", "_pts", "armed", "due")

    def __init__(self, processing_time: ProcessingTimeService, linger_ms: int) -> None:
        self._pts = processing_time
        self._linger_ms = linger_ms
        self._handle: Cancellable | None = None
        self._deadline_ms = 0
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

        self._deadline_ms = pts.current_processing_time() + self._linger_ms
        self._handle = pts.register_timer(self._deadline_ms, expire)

    def expired(self) -> bool:
        """Whether the current cycle must be sent now (once per input batch: reads the clock)."""
        if not self.due and self._handle is not None:
            self.due = self._pts.current_processing_time() >= self._deadline_ms
        return self.due

    def reset(self) -> None:
        """Everything pending was sent (a linger send, a full buffer, a barrier, the end)."""
        self._cycle += 1
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.due = False
        self.armed = self._linger_ms < 0
