"""Retry decisions are pure: the schedule and the attempt count decide."""

from __future__ import annotations

import aiosmtplib
import pytest
from procrastinate.jobs import Job

from leadflow.worker.mailer import is_permanent, parse_smtp_url
from leadflow.worker.retry import ScheduleRetry, job_retry_delay, mail_retry_delay

SEED = (5, 15, 45, 120, 300)


def test_job_schedule_is_one_attempt_plus_one_retry_per_delay() -> None:
    assert [job_retry_delay(SEED, attempts) for attempts in range(7)] == [
        5,
        15,
        45,
        120,
        300,
        None,
        None,
    ]
    assert job_retry_delay((), 0) is None


def _job(attempts: int) -> Job:
    return Job(
        id=42,
        queue="distribute_lead",
        lock="niche:x",
        queueing_lock=None,
        task_name="distribute_lead",
        attempts=attempts,
    )


def test_strategy_moves_a_waiting_retry_to_a_lock_of_its_own() -> None:
    strategy = ScheduleRetry(delays=SEED)
    decision = strategy.get_retry_decision(exception=RuntimeError("boom"), job=_job(0))
    assert decision is not None
    assert decision.lock == "retry:42"
    assert decision.retry_at is not None
    assert strategy.get_retry_decision(exception=RuntimeError("boom"), job=_job(5)) is None


def test_transient_mail_failures_never_give_up() -> None:
    assert [mail_retry_delay(SEED, n, permanent=False) for n in range(1, 9)] == [
        5,
        15,
        45,
        120,
        300,
        300,
        300,
        300,
    ]
    assert mail_retry_delay((), 3, permanent=False) == 60


def test_refused_mails_follow_the_schedule_then_fail() -> None:
    assert [mail_retry_delay(SEED, n, permanent=True) for n in range(1, 8)] == [
        5,
        15,
        45,
        120,
        300,
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "user", "password"),
    [
        ("smtp://mail.local:2525", "mail.local", 2525, False, None, None),
        ("smtp://mail.local", "mail.local", 25, False, None, None),
        ("smtps://u%40x:p%2Fw@mail.local", "mail.local", 465, True, "u@x", "p/w"),
    ],
)
def test_parse_smtp_url(
    url: str, host: str, port: int, tls: bool, user: str | None, password: str | None
) -> None:
    target = parse_smtp_url(url)
    assert (target.hostname, target.port, target.use_tls, target.username, target.password) == (
        host,
        port,
        tls,
        user,
        password,
    )


@pytest.mark.parametrize("url", ["http://mail.local", "smtp://", "mail.local:25"])
def test_parse_smtp_url_refuses_other_urls(url: str) -> None:
    with pytest.raises(ValueError, match="LEADFLOW_SMTP_URL"):
        parse_smtp_url(url)


def test_only_5xx_refusals_are_permanent() -> None:
    assert is_permanent(aiosmtplib.SMTPDataError(554, "rejected"))
    assert not is_permanent(aiosmtplib.SMTPDataError(451, "try later"))
    assert not is_permanent(aiosmtplib.SMTPConnectError("refused"))
    assert not is_permanent(aiosmtplib.SMTPServerDisconnected("gone"))
    assert not is_permanent(ConnectionRefusedError())
    refused = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no", "a@b")])
    assert is_permanent(refused)
