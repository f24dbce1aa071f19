"""Test and development helpers shipped with streamrt (house style C20).

Layout: ``sources`` (``ListSource`` with ``FAIL`` injection, ``GatedSource``), ``harness``
(``OperatorHarness``, ``ManualProcessingTimeService``), ``two_input_harness``
(``TwoInputOperatorHarness``), ``output_conformance``
(``check_output``, the suite every ``Output`` passes), ``embedded_broker`` (a Kafka-protocol
broker from a PyPI wheel, for tests and the demo). ``CollectSink`` lives in
``streamrt.connectors.collect`` (``execute_and_collect`` uses it) and is re-exported here.
Production code never imports this package.
"""

from streamrt.connectors.collect import CollectSink
from streamrt.testing.harness import ManualProcessingTimeService, OperatorHarness
from streamrt.testing.output_conformance import OutputUnderTest, check_output
from streamrt.testing.sources import FAIL, GatedSource, ListSource
from streamrt.testing.two_input_harness import TwoInputOperatorHarness

__all__ = [
    "FAIL",
    "CollectSink",
    "GatedSource",
    "ListSource",
    "ManualProcessingTimeService",
    "OperatorHarness",
    "OutputUnderTest",
    "TwoInputOperatorHarness",
    "check_output",
]
