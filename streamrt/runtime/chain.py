"""Builds and drives the operators of one task: the operator chain.

Port of Flink's ``OperatorChain``/``RegularOperatorChain``. The chain is built once, from the
tail, choosing every Output up front (``createOutputCollector``), so nothing is decided per
record (flink-reference.md §2.9, §3.2):

* an operator with exactly one out-edge writes straight into that edge's output;
  with 0 or >= 2 it writes into a broadcaster (the copying one when object reuse is on);
* a chained edge is a ``CopyingChainingOutput`` (object reuse off, the default) or a
  ``ChainingOutput`` (on); a non-chained edge is that edge's ``RecordWriterOutput``;
* the first untagged chained child counts the operator's records-out as it pushes; where no
  child can (no chained main edge, or side-output edges exist, so side records count too),
  the operator's output is wrapped in a ``CountingOutput``. Sinks count their own writes.

Lifecycle order is Flink's: open tail -> head, prepare-snapshot and finish head -> tail,
close tail -> head (every operator is closed, even if another failed to).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from streamrt.errors import OperatorError
from streamrt.runtime.counters import DISCARDING_COUNTER, Counter
from streamrt.runtime.elements import CheckpointBarrier
from streamrt.runtime.job_graph import JobEdge, JobVertex
from streamrt.runtime.mailbox import Mailbox
from streamrt.runtime.metric_groups import OperatorMetrics
from streamrt.runtime.operator import (
    AvailabilityProvider,
    OperatorContext,
    StreamOperator,
    operator_failure,
    raise_operator_failure,
)
from streamrt.runtime.outputs.broadcasting import (
    BroadcastingOutputCollector,
    CopyingBroadcastingOutputCollector,
)
from streamrt.runtime.outputs.chaining import ChainingOutput, CopyingChainingOutput
from streamrt.runtime.outputs.counting import CountingOutput
from streamrt.runtime.outputs.output import WatermarkGaugeExposingOutput
from streamrt.runtime.outputs.record_writer import RecordWriterOutput
from streamrt.runtime.processing_time import ProcessingTimeService
from streamrt.runtime.record_writer import RecordWriter
from streamrt.runtime.stream_graph import NodeKind, StreamNode

__all__ = ["OperatorChain"]

logger = logging.getLogger(__name__)


class OperatorChain:
    """The operators of one subtask of a ``JobVertex``, wired together.

    Args:
        vertex: the chain to build.
        subtask_index: which parallel subtask this is.
        writers: the ``RecordWriter`` of each out-edge of the vertex, by stream edge id.
        processing_time: the task's processing-time service.
        object_reuse: pass records between chained operators without copying.
        job_name: for contexts and messages.
        new_edge_counter: makes the task's records-out counter of an out-edge.
        restored: operator state by node id (from a checkpoint), or empty.
        mailbox: the task's mailbox, given to every operator's context.
    """

    def __init__(
        self,
        vertex: JobVertex,
        subtask_index: int,
        writers: dict[int, RecordWriter],
        processing_time: ProcessingTimeService,
        *,
        object_reuse: bool,
        job_name: str,
        new_edge_counter: Callable[[JobEdge], Counter],
        restored: dict[int, dict[str, Any]] | None = None,
        mailbox: Mailbox | None = None,
    ) -> None:
        self.vertex = vertex
        self.subtask_index = subtask_index
        self._object_reuse = object_reuse
        self._in_chain = vertex.node_ids()
        self.contexts: dict[int, OperatorContext] = {}
        for node in vertex.nodes:
            self.contexts[node.node_id] = OperatorContext(
                operator_id=node.node_id,
                name=node.name,
                subtask_index=subtask_index,
                parallelism=vertex.parallelism,
                max_parallelism=node.max_parallelism or vertex.max_parallelism,
                job_name=job_name,
                task_name=vertex.name,
                object_reuse=object_reuse,
                metrics=OperatorMetrics(),
                processing_time=processing_time,
                key_selector=node.key_selector,
                error_policy=node.error_policy,
                key_selector2=node.key_selector2,
                mailbox=mailbox,
            )
        # one RecordWriterOutput per out-edge, built first (Flink's createChainOutputs)
        self.record_writer_outputs: dict[int, RecordWriterOutput[Any]] = {
            edge.edge_id: RecordWriterOutput(
                writers[edge.edge_id], new_edge_counter(edge), edge.tag
            )
            for edge in vertex.out_edges
        }
        self._nodes = {n.node_id: n for n in vertex.nodes}
        self._operators: dict[int, StreamOperator[Any]] = {}
        self.outputs: dict[int, WatermarkGaugeExposingOutput[Any]] = {}
        self._create_operator(vertex.head.node_id)
        #: head first, then the chained operators in topological order
        self.operators: list[StreamOperator[Any]] = [
            self._operators[n.node_id] for n in vertex.nodes
        ]
        for node_id, state in (restored or {}).items():
            if node_id in self._operators:
                self._operators[node_id].load_state_dict(state)
        self.availability_providers: list[AvailabilityProvider] = [
            *(w for w in writers.values()),
            *(op for op in self.operators if isinstance(op, AvailabilityProvider)),
        ]
        self._writers = list(writers.values())

    # -- construction (Flink's createOperatorChain / createOutputCollector) ---------------------
    def _create_operator(self, node_id: int) -> StreamOperator[Any]:
        node = self._nodes[node_id]
        output = self._create_output(node)
        operator = node.operator_factory()
        operator.setup(self.contexts[node_id], output)
        self._operators[node_id] = operator
        return operator

    def _create_output(self, node: StreamNode) -> WatermarkGaugeExposingOutput[Any]:
        metrics = self.contexts[node.node_id].metrics
        counts_itself = node.kind is NodeKind.SINK
        # a chained child may count for us only if every emit goes through main outputs
        child_may_count = not counts_itself and all(e.tag is None for e in node.out_edges)
        counted = counts_itself
        outputs: list[WatermarkGaugeExposingOutput[Any]] = []
        for edge in node.out_edges:
            if edge.target_id not in self._in_chain:
                outputs.append(self.record_writer_outputs[edge.edge_id])
                continue
            target = self._create_operator(edge.target_id)  # the tail is built first
            target_context = self.contexts[edge.target_id]
            records_out = DISCARDING_COUNTER
            if child_may_count and not counted:
                records_out, counted = metrics.records_out, True
            chained: ChainingOutput[Any] | CopyingChainingOutput[Any]
            if self._object_reuse:
                chained = ChainingOutput(
                    target, target_context, records_out=records_out, tag=edge.tag
                )
            else:
                # the only out-edge: no other branch sees the record, so it may pass uncopied
                chained = CopyingChainingOutput(
                    target,
                    target_context,
                    records_out=records_out,
                    tag=edge.tag,
                    exclusive=len(node.out_edges) == 1,
                )
            target_context.metrics.input_watermark = chained.watermark_gauge
            outputs.append(chained)
        result: WatermarkGaugeExposingOutput[Any]
        if len(outputs) == 1:
            result = outputs[0]
        elif self._object_reuse:
            result = CopyingBroadcastingOutputCollector(outputs)
        else:
            result = BroadcastingOutputCollector(outputs)
        if not counted:
            if isinstance(result, RecordWriterOutput) and node.out_edges[0].tag is None:
                result.count_operator_records(metrics.records_out)  # saves a call per record
            else:
                result = CountingOutput(result, metrics.records_out)
        metrics.output_watermark = result.watermark_gauge
        self.outputs[node.node_id] = result
        return result

    # -- access -------------------------------------------------------------------------------
    @property
    def head(self) -> StreamOperator[Any]:
        """The first operator."""
        return self.operators[0]

    @property
    def head_context(self) -> OperatorContext:
        """The first operator's context."""
        return self.contexts[self.vertex.head.node_id]

    @property
    def head_output(self) -> WatermarkGaugeExposingOutput[Any]:
        """The Output the head operator emits into (a source task pushes records here)."""
        return self.outputs[self.vertex.head.node_id]

    def operator(self, node_id: int) -> StreamOperator[Any]:
        """The operator of node ``node_id``."""
        return self._operators[node_id]

    # -- lifecycle ----------------------------------------------------------------------------
    def _raise_named(self, operator: StreamOperator[Any], exc: Exception, where: str) -> NoReturn:
        """Raise ``exc`` from ``operator``'s lifecycle, named once (house style C14)."""
        node = self.vertex.nodes[self.operators.index(operator)]
        raise_operator_failure(self.contexts[node.node_id], exc, where)

    async def _each(
        self,
        operators: list[StreamOperator[Any]],
        call: Callable[[StreamOperator[Any]], Awaitable[None]],
        where: str,
    ) -> None:
        for operator in operators:
            try:
                await call(operator)
            except Exception as exc:
                self._raise_named(operator, exc, where)

    async def open(self) -> None:
        """Open every operator, tail first."""
        await self._each(self.operators[::-1], lambda op: op.open(), " in open()")

    async def prepare_snapshot_pre_barrier(self, checkpoint_id: int) -> None:
        """Let every operator flush before the barrier, head first."""
        await self._each(
            self.operators,
            lambda op: op.prepare_snapshot_pre_barrier(checkpoint_id),
            " before a checkpoint barrier",
        )

    def broadcast_barrier(self, barrier: CheckpointBarrier) -> None:
        """Send a barrier on every out-edge (after flushing their buffers)."""
        for output in self.record_writer_outputs.values():
            output.broadcast_barrier(barrier)

    def snapshot_state(self) -> dict[int, dict[str, Any]]:
        """Every operator's state by node id (only non-empty ones), for encoding at once.

        It may share live objects (``StreamOperator.snapshot_state``): the caller encodes it in
        the same synchronous step.
        """
        snapshot: dict[int, dict[str, Any]] = {}
        for node_id, operator in self._operators.items():
            state = operator.snapshot_state()
            if state:
                snapshot[node_id] = state
        return snapshot

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Tell every operator, head first."""
        await self._each(
            self.operators,
            lambda op: op.notify_checkpoint_complete(checkpoint_id),
            " after a completed checkpoint",
        )

    async def finish(self) -> None:
        """End of input: finish every operator, head first (each may still emit)."""
        await self._each(self.operators, lambda op: op.finish(), " at end of input")

    async def wait_available(self, provider: AvailabilityProvider) -> None:
        """Wait for an output to take more; a sink's failure to flush names the sink."""
        try:
            await provider.wait_available()
        except Exception as exc:
            sink: object = provider
            for operator in self.operators:
                if operator is sink:
                    self._raise_named(operator, exc, " while flushing")
            raise

    def flush_outputs(self) -> None:
        """Send every open buffer (the buffer timeout fired)."""
        for writer in self._writers:
            writer.flush_all()

    @property
    def has_pending_output(self) -> bool:
        """Whether any out-edge has records buffered but not sent."""
        return any(w.pending for w in self._writers)

    def end_input(self) -> None:
        """Send end of input on every out-edge."""
        for output in self.record_writer_outputs.values():
            output.end_input()

    async def open_writers(self) -> None:
        """Connect the out-edges that cross an external system."""
        for writer in self._writers:
            await writer.open()

    async def drain_writers(self) -> None:
        """Wait until everything written to every out-edge is delivered."""
        for writer in self._writers:
            await writer.drain()

    async def close_writers(self) -> None:
        """Disconnect the out-edges (each exactly once, whatever happens to the others)."""
        for writer in self._writers:
            try:
                await writer.close()
            except Exception:  # logged: a close failure must not hide the job's own error
                logger.exception("closing the writer of %s failed", writer)

    async def close(self) -> OperatorError | None:
        """Close every operator, tail first; return the first failure, naming its operator."""
        first: OperatorError | None = None
        for node, operator in zip(
            reversed(self.vertex.nodes), reversed(self.operators), strict=True
        ):
            try:
                await operator.close()
            except Exception as exc:  # every operator must get its close
                if first is None:
                    first = operator_failure(self.contexts[node.node_id], exc, " in close()")
        for output in self.outputs.values():
            output.close()
        return first
