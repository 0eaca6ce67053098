"""Prometheus metric families of SPEC §6, declared once; the API and the worker both expose them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

distribution_total = Counter("distribution_total", "Distribution runs by outcome.", ["status"])
distribution_assignments_total = Counter(
    "distribution_assignments_total", "Assignments (sales) made.", ["niche_id", "level_id"]
)
distribution_skipped_total = Counter(
    "distribution_skipped_total", "Candidates skipped during distribution, by reason.", ["reason"]
)
distribution_duration_seconds = Histogram(
    "distribution_duration_seconds",
    "Wall time of one distribution attempt.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
distribution_careful_reruns_total = Counter(
    "distribution_careful_reruns_total",
    "Distributions planned again with the provider locks held, after the blind commit found its"
    " plan outdated (a balance moved) or a low-balance pause due; nothing was written.",
    ["reason"],
)
distribution_retries_total = Counter(
    "distribution_retries_total",
    "In-process retries of a distribution after a deadlock or serialization failure.",
    ["error"],
)
assignment_price_cents_total = Counter(
    "assignment_price_cents_total", "Money charged for assignments, in cents.", ["level_id"]
)
fairness_new_provider_priority_total = Counter(
    "fairness_new_provider_priority_total", "Sales to subscriptions that had never received a lead."
)
fairness_rotation_position = Gauge(
    "fairness_rotation_position", "The niche's next start level order position.", ["niche_id"]
)
job_queue_depth = Gauge("job_queue_depth", "Jobs by queue and status.", ["queue", "status"])
job_failures_total = Counter("job_failures_total", "Failed job attempts.", ["queue"])
job_retries_total = Counter("job_retries_total", "Job attempts scheduled for retry.", ["queue"])
job_dead_letters_total = Counter(
    "job_dead_letters_total", "Jobs that exhausted their retries.", ["queue"]
)
mails_sent_total = Counter("mails_sent_total", "Mails accepted by the SMTP server.", ["template"])
mails_failed_total = Counter(
    "mails_failed_total", "Mail delivery attempts that failed.", ["template"]
)
webhook_deliveries_total = Counter(
    "webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, rejected_by_buyer, retry, failed.",
    ["outcome"],
)
webhook_delivery_seconds = Histogram(
    "webhook_delivery_seconds",
    "Wall time of one webhook delivery attempt (connect, send, read the capped reply).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
webhook_queue_depth = Gauge(
    "webhook_queue_depth", "Pending webhook deliveries of active endpoints."
)
leads_expired_total = Counter(
    "leads_expired_total", "Unsold leads expired by their niche's lead_ttl_hours (SPEC §11)."
)
leads_resale_queued_total = Counter(
    "leads_resale_queued_total",
    "Unsold leads queued for another distribution when capacity may have returned (SPEC §11).",
)
http_request_duration_seconds = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


@dataclass(frozen=True, slots=True)
class MoneyBack:
    """Returns by the status they reached (every return was ``requested``) and cents refunded."""

    requested: int = 0
    approved: int = 0
    denied: int = 0
    refunded_cents: int = 0


class MoneyBackCollector(Collector):
    """``returns_total{status}`` and ``refunds_cents_total`` (SPEC §9), read from the database
    when /metrics is rendered (``set`` before ``generate_latest``): the committed totals, so a
    rolled-back decision is never counted and a restart loses nothing. Every process reports the
    same totals: aggregate them across instances with ``max``, not ``sum``."""

    def __init__(self) -> None:
        self._totals = MoneyBack()

    def set(self, totals: MoneyBack) -> None:
        self._totals = totals

    def collect(self) -> Iterator[Metric]:
        totals = self._totals
        returns = CounterMetricFamily(
            "returns", "Lead returns by the status they reached.", labels=["status"]
        )
        for status in ("requested", "approved", "denied"):
            returns.add_metric([status], getattr(totals, status))
        yield returns
        yield CounterMetricFamily(
            "refunds_cents", "Money refunded for approved returns, in cents.", totals.refunded_cents
        )


money_back = MoneyBackCollector()
REGISTRY.register(money_back)
