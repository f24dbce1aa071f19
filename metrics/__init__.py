"""Prometheus export of runtime statistics (filled in by the metrics work).

Layout: ``names`` (every metric name and label set), ``collector`` (reads ``job.statistics()``
at scrape time), ``exporter`` (the HTTP endpoints).
"""
