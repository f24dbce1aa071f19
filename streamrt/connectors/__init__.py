"""Connectors: where records come from and go to.

Layout: ``source.py``/``sink.py`` re-export the runtime's connector contracts;
``collection.py``, ``iterator.py``, ``datagen.py`` and ``print_sink.py`` are the built-in
sources and sinks; ``collect.py`` keeps what reaches it (``execute_and_collect``); ``kafka``
holds the Kafka connectors. (The embedded development broker is test tooling, in
``streamrt.testing``.)
"""
