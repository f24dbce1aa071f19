"""The engine. No compatibility promise: the public API is ``streamrt``.

One record's trip (architecture §2): a ``SourceTask`` (``source_task``) takes a batch from its
``SourceReader`` (``source_reader``), assigns timestamps and feeds the split's watermark
generator (``watermarks``), and pushes each record into the head Output of its
``OperatorChain`` (``chain``). Inside the chain every hop is a synchronous call through the
Output family (``outputs/``): ``CopyingChainingOutput`` or ``ChainingOutput`` into the next
operator, ``CountingOutput`` where the builder needs one, ``BroadcastingOutputCollector`` on a
fan-out. At the chain's end a ``RecordWriterOutput`` hands the record to its
``RecordWriter`` (``record_writer``), whose partitioner (``partitioners``, ``key_groups``)
picks a ``LocalChannel`` (``channel``) and appends to that channel's open buffer. The buffer
crosses the channel whole; an ``InputTask`` (``input_task``) polls it from its ``InputGate``
(``input_gate``), runs watermarks through the valve (``watermark_valve``) and aligns
checkpoint barriers, and pushes the records into its own chain, down to a sink operator (a
``TwoInputTask``, ``two_input_task``, does the same for a two-input head, with a valve per input
and ``process_element1``/``process_element2``). The
``Job`` (``job``) builds tasks and channels from the chained ``JobGraph`` (``job_graph``,
``stream_graph``) and runs them in one TaskGroup; the ``CheckpointCoordinator`` triggers
barriers at the sources and collects acknowledgements.

Nothing here imports ``operators``, ``metrics`` or ``prometheus_client``.
"""
