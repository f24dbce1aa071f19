"""Connectors: where records come from and go to.

Layout: ``source.py``/``sink.py`` re-export the runtime's connector contracts;
``collection.py``, ``iterator.py``, ``datagen.py`` and ``print_sink.py`` are the built-in
sources and sinks; ``kafka`` holds the Kafka connectors; ``embedded_broker.py`` starts a
Kafka-protocol broker from a PyPI wheel for tests and the demo.
"""
