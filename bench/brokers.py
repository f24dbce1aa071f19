"""The broker a benchmark talks to: ``KAFKA_BOOTSTRAP``, or an embedded one for the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal


@contextmanager
def kafka_bootstrap(kind: Literal["noida", "tansu"] = "noida") -> Iterator[tuple[str, Any]]:
    """``(bootstrap servers, broker)``: ``KAFKA_BOOTSTRAP`` (broker ``None``) if set, else an
    ``EmbeddedBroker`` of ``kind`` started now.

    The embedded broker (``streamrt.testing.embedded_broker``) is stopped when the block ends.
    """
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        yield external, None
        return
    from streamrt.testing.embedded_broker import EmbeddedBroker

    broker = EmbeddedBroker(kind).start()
    try:
        yield broker.bootstrap_servers, broker
    finally:
        broker.stop()
