"""Signed webhook delivery to buyers' own systems (SPEC §10)."""

from leadflow.webhooks.signing import signature_header, verify

__all__ = ["signature_header", "verify"]
