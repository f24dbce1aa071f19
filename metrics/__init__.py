"""Prometheus export of runtime statistics, and the worker's HTTP endpoints.

Layout: ``names`` (every metric name, type, labels and meaning: the one source of truth),
``collector`` (reads ``job.statistics()`` at scrape time), ``exporter`` (``/metrics``,
``/healthz``, ``/readyz``, ``/job``). Dashboards and Prometheus/Grafana provisioning live in
``metrics/grafana`` and ``metrics/prometheus``.
"""

from metrics.collector import StreamrtCollector
from metrics.exporter import DEFAULT_METRICS_PORT, MetricsServer
from metrics.names import METRICS, MetricSpec

__all__ = ["DEFAULT_METRICS_PORT", "METRICS", "MetricSpec", "MetricsServer", "StreamrtCollector"]
