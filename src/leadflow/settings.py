"""All configuration, read once from the environment (``LEADFLOW_*`` and ``DATABASE_URL``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """The one settings class; build it where a process starts and pass it down."""

    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "LEADFLOW_DATABASE_URL"),
        description="PostgreSQL URL; unset starts an embedded server under LEADFLOW_HOME.",
    )
    home: Path = Field(default=Path(".leadflow"), description="Data folder of the embedded server.")

    smtp_url: str | None = Field(
        default=None, description="smtp://host:port; unset keeps mails in the outbox."
    )
    mail_from: str = "leadflow <no-reply@leadflow.local>"

    auto_distribute: bool = True
    token_ttl: int = Field(default=8 * 3600, ge=60, description="Access token lifetime in seconds.")
    # Console sessions (cookie): end after this long unused, and this long after the login.
    console_idle_timeout: int = Field(default=30 * 60, ge=60)
    console_absolute_timeout: int = Field(default=12 * 3600, ge=60)
    # The address users reach the console at; an https one marks the session cookie Secure.
    public_url: str | None = None
    intake_rate_limit: str = "60/minute"
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    metrics_token: str | None = None
    worker_metrics_port: int | None = None
    # A distribution job spends most of its time waiting for PostgreSQL (round trips, commits),
    # so a worker keeps several in flight: 2 slots sustain ~60 jobs/s here, 8 over 100.
    worker_concurrency: int = Field(default=8, ge=1, le=64)

    # Job retries: seconds to wait before each retry (1 attempt + len(retry_delays) retries).
    retry_delays: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [5, 15, 45, 120, 300]
    )

    # Connection safety: a worker that vanished mid-transaction frees its locks within 60 s.
    lock_timeout_ms: int = 10_000
    idle_in_transaction_timeout_ms: int = 30_000
    statement_timeout_ms: int = 30_000
    pool_min_size: int = 1
    pool_max_size: int = 10

    # Webhooks (SPEC §10). The key (Fernet; several, comma-separated, to rotate it: the first
    # encrypts, all decrypt) encrypts the endpoints' signing secrets at rest. `leadflow up` on
    # the embedded server keeps one under LEADFLOW_HOME; with an external database (production)
    # the processes refuse to start without it.
    secret_key: SecretStr | None = None
    # Hosts a webhook URL may name without the public-address check, and over plain http.
    webhook_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Deliveries in flight per worker process, in all and per endpoint.
    webhook_concurrency: int = Field(default=64, ge=1, le=1000)
    webhook_endpoint_concurrency: int = Field(default=4, ge=1, le=100)
    # One attempt's limit: connect, send and read the reply (SPEC §10: 10 s).
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # A claimed delivery is not claimed again for this long: longer than one attempt can take
    # (10 s), so only a worker that died mid-delivery leaves one to be sent again.
    webhook_lease_seconds: int = Field(default=60, ge=15, le=3600)

    # Erasure (SPEC §11): leads older than this many days are erased by the maintenance task,
    # a bounded batch per tick; unset keeps them.
    pii_retention_days: int | None = Field(default=None, ge=1)
    # Unsold leads (SPEC §11): a waiting lead is offered again no sooner than this many seconds
    # after its last run, however often capacity returns.
    resale_min_interval: int = Field(default=60, ge=0, le=86400)

    log_level: str = "INFO"
    log_format: Literal["auto", "console", "json"] = Field(
        default="auto",
        description="console, json (lines), or auto: json for `leadflow up` without a terminal.",
    )
    # The older switch, kept working: true means log_format=json.
    log_json: bool = False

    @field_validator("trusted_proxies", "webhook_allow_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("retry_delays", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(item) for item in value.split(",") if item.strip()]
        return value
