"""Fixtures of the webhook tests."""

from tests.support.receiver import receiver as receiver
