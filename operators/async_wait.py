"""Port of Flink's ``AsyncWaitOperator``: concurrent lookups, results back through the mailbox.

Per record, ``process_element`` starts the user's coroutine as an asyncio task (no ``await`` in
the chain) and queues an entry (``async_queues``). When a request finishes, its done-callback
notes it and puts *one* mail into the task's mailbox (coalesced: at most one pending); the mail,
run by the task between input batches, emits whatever the queue lets leave, with the input
record's timestamp, and starts waiting records. So results re-enter the chain from the task's
own loop, never concurrently with a record.

Capacity: at most ``capacity`` records are queued (started and not yet emitted). A record that
arrives when the queue is full waits, not started, in an overflow (at most what one input batch
brings) and the operator reports itself unavailable (``AvailabilityProvider``): the task takes
no more input until space frees (back-pressure).

Checkpoints: the inputs of every record not yet emitted (and queued watermarks) are part of the
snapshot, in order; a restored operator starts their requests again in ``open``. A barrier does
not wait for requests; results ready before it are emitted first (``prepare_snapshot_pre_barrier``).

Differences from Flink: see ``docs/async-io.md``.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import reprlib
from collections import deque
from typing import Any, TypeVar

from operators.async_queues import AsyncEntry, AsyncQueue, OrderedQueue, UnorderedQueue
from operators.base import AbstractUdfStreamOperator
from streamrt.async_io import AsyncFunction, AsyncOptions, invoker_of, timeout_fallback_of
from streamrt.errors import GraphError
from streamrt.functions import RuntimeContext
from streamrt.runtime.elements import StreamRecord, Watermark
from streamrt.runtime.mailbox import Mailbox
from streamrt.runtime.operator import OperatorContext, raise_operator_failure
from streamrt.runtime.outputs.output import Output

__all__ = ["AsyncWaitOperator"]

IN = TypeVar("IN")
OUT = TypeVar("OUT")

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60


class AsyncWaitOperator(AbstractUdfStreamOperator[IN, OUT, Any]):
    """Runs ``function`` concurrently for up to ``options.capacity`` records.

    Args:
        function: an ``async def`` of the value, or an ``AsyncFunction``.
        options: capacity, ordering, timeout, retries, flat results (validated already).
    """

    def __init__(self, function: Any, options: AsyncOptions) -> None:
        super().__init__(function)
        self.options = options
        self._invoke = invoker_of(function)
        self._fallback = timeout_fallback_of(function)
        self._timeout_s = None if options.timeout_ms is None else options.timeout_ms / 1000
        # decided once: without a timeout or retries, the user's coroutine is the whole request
        plain = options.timeout_ms is None and options.retries == 0
        self._make_request = self._invoke if plain else self._request
        self._capacity = options.capacity
        self._flat = options.flat
        self._queue: AsyncQueue = OrderedQueue() if options.ordered else UnorderedQueue()
        #: records (value, timestamp) and watermarks that arrived while the queue was full
        self._overflow: deque[tuple[Any, int | None] | Watermark] = deque()
        #: entries whose request finished, not yet taken into the queue (by a mail)
        self._completed: deque[AsyncEntry] = deque()
        self._running: set[asyncio.Task[Any]] = set()
        self._mail_pending = False
        self._progress: asyncio.Future[None] | None = None
        self._restored: list[tuple[Any, ...]] = []
        self._closed = False
        self._reuse: StreamRecord[Any] = StreamRecord(None)

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Keep the task's mailbox, where finished requests re-enter the chain."""
        super().setup(context, output)
        if context.mailbox is None:
            msg = f"operator {context.name!r} needs its task's mailbox (OperatorContext.mailbox)"
            raise GraphError(msg)
        self._mailbox: Mailbox = context.mailbox
        self._collect = output.collect
        self._fail_fast = context.error_policy == "fail"

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        """Open the function; start the requests of a restored checkpoint again."""
        function = self.user_function
        if isinstance(function, AsyncFunction):
            await _maybe_await(function.open(RuntimeContext(self.context, self.state_backend)))
        for item in self._restored:
            self._overflow.append(Watermark(item[1]) if item[0] == "w" else (item[1], item[2]))
        self._restored = []
        self._admit()

    async def finish(self) -> None:
        """End of input: wait for every request and emit every result (and watermark)."""
        self._emit_ready()  # what may leave without waiting (a restored watermark at the head)
        while self._overflow or self._queue:
            if not self._completed:
                await self._wait_progress()
            self._emit_ready()

    async def close(self) -> None:
        """Cancel the requests still running (failure or cancel) and close the function."""
        if self._closed:
            return
        self._closed = True
        running = list(self._running)
        for task in running:
            task.cancel()
        if running:
            # each is cancelled at its next await; waiting here leaks no task past the job
            await asyncio.gather(*running, return_exceptions=True)
        function = self.user_function
        if isinstance(function, AsyncFunction):
            await _maybe_await(function.close())

    # -- input --------------------------------------------------------------------------------
    def process_element(self, record: StreamRecord[IN]) -> None:
        """Start the request for ``record``, or hold it while the queue is full."""
        if self._overflow or self._queue.records >= self._capacity:
            self._overflow.append((record.value, record.timestamp))
        else:
            self._start(record.value, record.timestamp)

    def process_watermark(self, watermark: Watermark) -> None:
        """Queue the watermark behind the records before it; emit it if nothing is pending."""
        self.current_watermark = watermark.timestamp
        if self._overflow:
            self._overflow.append(watermark)
            return
        self._queue.add_watermark(watermark)
        self._emit_ready()

    async def prepare_snapshot_pre_barrier(self, checkpoint_id: int) -> None:
        """Emit the results ready now, so the snapshot holds only what is still pending."""
        self._emit_ready()

    # -- availability (AvailabilityProvider) ---------------------------------------------------
    @property
    def available(self) -> bool:
        """Whether every record received has been started (nothing waits for space)."""
        return not self._overflow

    async def wait_available(self) -> None:
        """Emit finished results until the waiting records have all been started."""
        while self._overflow:
            if not self._completed:
                await self._wait_progress()
            self._emit_ready()

    async def _wait_progress(self) -> None:
        progress = self._progress = asyncio.get_running_loop().create_future()
        try:
            await progress
        finally:
            self._progress = None

    # -- requests -------------------------------------------------------------------------------
    def _start(self, value: Any, timestamp: int | None) -> None:
        entry = AsyncEntry(value, timestamp)
        task = asyncio.get_running_loop().create_task(self._make_request(value))
        entry.task = task
        self._running.add(task)
        task.add_done_callback(functools.partial(self._on_done, entry))
        self._queue.add_record(entry)

    def _admit(self) -> None:
        """Start waiting records while there is space (a waiting watermark just queues)."""
        overflow, queue, capacity = self._overflow, self._queue, self._capacity
        while overflow:
            head = overflow[0]
            if type(head) is Watermark:
                overflow.popleft()
                queue.add_watermark(head)
            elif queue.records < capacity:
                value, timestamp = overflow.popleft()  # type: ignore[misc]
                self._start(value, timestamp)
            else:
                return

    async def _request(self, value: Any) -> Any:
        """One record's lookup: retries inside the timeout, then the fallback (or an error)."""
        if self._timeout_s is None:
            return await self._attempts(value)
        try:
            async with asyncio.timeout(self._timeout_s) as deadline:
                return await self._attempts(value)
        except TimeoutError as exc:
            if not deadline.expired():
                raise  # the function's own TimeoutError: an error like any other
            if self._fallback is not None:
                return await _maybe_await(self._fallback(value))
            msg = (
                f"no result within timeout_ms={self.options.timeout_ms} for value "
                f"{_repr.repr(value)}"
            )
            raise TimeoutError(msg) from exc

    async def _attempts(self, value: Any) -> Any:
        retries = self.options.retries
        attempt = 0
        while True:
            try:
                return await self._invoke(value)
            except Exception as exc:
                if attempt >= retries:
                    if retries:
                        exc.add_note(f"map_async gave up after {attempt + 1} attempts")
                    raise
            attempt += 1
            await asyncio.sleep(self.options.retry_delay_ms / 1000)

    def _on_done(self, entry: AsyncEntry, task: asyncio.Task[Any]) -> None:
        """A request finished (outside the task's loop): note it and wake the task once."""
        self._running.discard(task)
        if self._closed:  # cancelled by close(): nothing will be emitted
            return
        self._completed.append(entry)
        if not self._mail_pending:
            self._mail_pending = True
            self._mailbox.put(self._on_mail)
        progress = self._progress
        if progress is not None and not progress.done():
            progress.set_result(None)

    # -- output ---------------------------------------------------------------------------------
    def _on_mail(self) -> None:
        self._mail_pending = False
        self._emit_ready()

    def _emit_ready(self) -> None:
        """``_drain``, naming this operator in what it raises (house style C14)."""
        try:
            self._drain()
        except Exception as exc:
            raise_operator_failure(self.context, exc, " in an async request")

    def _drain(self) -> None:
        """Take finished requests into the queue, emit what may leave, start waiting records."""
        completed, queue = self._completed, self._queue
        while completed:
            entry = completed.popleft()
            if self._fail_fast:  # fail at once, not when the entry reaches the head
                exc = _error_of(entry)
                if exc is not None:
                    raise exc
            queue.complete(entry)
        queue.emit_ready(self._emit_entry, self.output.emit_watermark)
        self._admit()

    def _emit_entry(self, entry: AsyncEntry) -> None:
        exc = _error_of(entry)
        if exc is not None:
            # the policy raises (fail), counts and skips, or diverts a FailedRecord
            self.on_user_error(exc, StreamRecord(entry.value, entry.timestamp))
            return
        task = entry.task
        assert task is not None
        reuse, collect = self._reuse, self._collect
        reuse.timestamp = entry.timestamp
        if self._flat:
            for value in task.result():
                reuse.value = value
                collect(reuse)
        else:
            reuse.value = task.result()
            collect(reuse)

    # -- checkpoints ----------------------------------------------------------------------------
    def _pending(self) -> list[tuple[Any, ...]]:
        """Inputs not yet emitted, in order: ``("r", value, timestamp)`` or ``("w", ts)``."""
        pending: list[tuple[Any, ...]] = []
        for element in self._queue.elements():
            if type(element) is Watermark:
                pending.append(("w", element.timestamp))
            else:
                assert isinstance(element, AsyncEntry)
                pending.append(("r", element.value, element.timestamp))
        for waiting in self._overflow:
            if type(waiting) is Watermark:
                pending.append(("w", waiting.timestamp))
            else:
                assert isinstance(waiting, tuple)
                pending.append(("r", *waiting))
        pending.extend(self._restored)  # checkpointed before open() (nothing restarted yet)
        return pending

    def snapshot_state(self) -> dict[str, Any]:
        """Keyed state (if any) and the inputs of the requests not yet emitted."""
        state = super().snapshot_state()
        pending = self._pending()
        if pending:
            # operator list state: split evenly across subtasks when restored at another
            # parallelism (state_assignment), as Flink's AsyncWaitOperator's ListState is
            state["operator_lists"] = {"in_flight": pending}
        return state

    def state_dict(self) -> dict[str, Any]:
        """``snapshot_state`` as an independent copy."""
        state = super().state_dict()
        pending = self._pending()
        if pending:
            state["operator_lists"] = {"in_flight": copy.deepcopy(pending)}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Keep the restored requests; ``open`` starts them again."""
        super().load_state_dict(state)
        self._restored = list(state.get("operator_lists", {}).get("in_flight", ()))


def _error_of(entry: AsyncEntry) -> Exception | None:
    """The error a finished request ended with, or ``None`` when it has a result."""
    task = entry.task
    assert task is not None
    if task.cancelled():  # the function itself raised CancelledError
        return RuntimeError("the async request was cancelled by the function")
    exc = task.exception()
    if exc is None or isinstance(exc, Exception):
        return exc
    msg = f"the async request raised {type(exc).__name__}: {exc}"
    return RuntimeError(msg)


async def _maybe_await(result: Any) -> Any:
    """``result``, awaited when a hook was an ``async def`` (PyFlink's hooks are plain defs)."""
    return await result if inspect.isawaitable(result) else result
