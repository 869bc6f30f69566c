"""The one settings object of the service: every `AFTERSALES_*` variable (and `.env`) lands here.

Other packages (knowledge_base, bot, channels) take plain arguments; only the composition root
(CLI, app factory) reads settings and hands the values down.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org/bot"
DEFAULT_WECHAT_API_URL = "https://api.weixin.qq.com"


def normalize_database_url(url: str) -> str:
    """Accept the plain `sqlite:///` and `postgresql://` forms and pick the async drivers."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


class Settings(BaseSettings):
    """Service configuration; defaults run everything embedded in one process."""

    model_config = SettingsConfigDict(
        env_prefix="AFTERSALES_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- process and storage ---------------------------------------------------------------
    data_dir: Path = Path("./data")
    database_url: str | None = None
    redis_url: str | None = None
    agent_stream_recheck_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often an open agent workspace re-reads the database without a notice "
        "from the event bus (the fallback for a lost notice).",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = False
    math_threads: int | None = Field(
        default=None,
        ge=1,
        description="BLAS (numpy) and OpenMP (FAISS) threads per worker process; default: the "
        "host's cores divided by the worker count (at least 1). A query always uses one.",
    )

    # --- knowledge base ----------------------------------------------------------------------
    embedding_model: str | None = Field(
        default=None,
        description="A local sentence-transformers model folder, or a packaged encoder name; "
        "default: the packaged multilingual encoder.",
    )
    load_demo_kb: bool = Field(
        default=True, description="Load the bundled demo knowledge base when the store is empty."
    )

    # --- security ------------------------------------------------------------------------------
    admin_key: str | None = None
    max_request_bytes: int = 1_000_000
    rate_limit_per_key_per_minute: int = 600
    rate_limit_per_sender_per_minute: int = 30
    api_key_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a worker trusts an API key it verified (0: look it up every time); "
        "a key revoked by another process is refused after at most this long.",
    )
    idempotency_key_hours: float = Field(
        default=24.0, ge=24, description="How long an `Idempotency-Key` and its response are kept."
    )

    # --- customers' files (photos, voice notes, documents) -------------------------------------
    files_dir: Path | None = Field(
        default=None,
        description="Where attachments are stored by content hash; default: data dir/files.",
    )
    files_store: Literal["local", "s3"] = Field(
        default="local",
        description="Where attachment blobs live: `local` (files_dir) or an S3-compatible bucket.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, Ceph...); default: AWS S3."
    )
    s3_bucket: str | None = Field(
        default=None, description="Bucket of attachments (files_store=s3)."
    )
    s3_region: str | None = Field(default=None, description="Region of the S3 bucket.")
    s3_access_key_id: str | None = Field(
        default=None, description="S3 access key; default: boto3's own chain (env, profile, role)."
    )
    s3_secret_access_key: str | None = Field(default=None, description="S3 secret key.")
    s3_prefix: str = Field(default="", description="Key prefix of attachment blobs in the bucket.")
    max_attachment_bytes: int = Field(
        default=5_000_000,
        gt=0,
        description="Largest attachment taken (inline ones also count toward max_request_bytes).",
    )
    attachment_types: list[str] = Field(
        default=[
            "image/jpeg",
            "image/png",
            "image/webp",
            "image/gif",
            "audio/amr",
            "audio/ogg",
            "audio/mpeg",
            "audio/mp4",
            "audio/x-wav",
            "application/pdf",
        ],
        description="Content types taken, as found in the bytes (never the name).",
    )
    file_retention_days: float = Field(
        default=180.0, gt=0, description="Attachments older than this are deleted."
    )
    file_url_seconds: int = Field(
        default=3600, gt=0, description="How long a signed attachment URL works."
    )
    file_signing_key: str | None = Field(
        default=None,
        description="Secret of signed attachment URLs; default: a random key in the data dir.",
    )

    # --- tickets, triage and SLAs --------------------------------------------------------------
    sla_policy_file: Path | None = Field(
        default=None, description="YAML SLA policy; default: the bundled one."
    )

    # --- agents ----------------------------------------------------------------------------------
    escalation_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often the auto-escalation job checks open tickets."
    )
    agent_session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="How long an agent's sign-in lasts."
    )
    agent_cookie_secure: bool = Field(
        default=False, description="Send the agent's session cookie over HTTPS only."
    )
    agent_password_hash: Literal["rfc9106-low-memory", "cheapest"] = Field(
        default="rfc9106-low-memory",
        description="Argon2id parameters for new agent passwords and sign-in checks: RFC 9106's "
        "low-memory profile; `cheapest` only for test runs that create many agents (weak).",
    )
    public_url: str | None = Field(
        default=None,
        description="The service's public base URL (links in CSAT surveys); default: paths only.",
    )
    customer_timezone: str = Field(
        default="Asia/Shanghai",
        description="The IANA time zone customers read times in (due and visit times in the "
        "bot's and the channels' messages); never UTC unless named here.",
    )

    @field_validator("customer_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name: Asia/Shanghai)") from exc
        return value

    # --- equipment: assets and alarms ---------------------------------------------------------
    mqtt_url: str | None = Field(
        default=None,
        description="An MQTT broker (mqtt://user:pass@host:1883) whose alarms the service "
        "takes in; default: no MQTT subscriber.",
    )
    mqtt_topic: str = Field(default="aftersales/alarms/#", description="Topic filter, QoS 1.")
    mqtt_client_id: str = Field(
        default="aftersales-alarms",
        description="Fixed client id of the persistent session (the broker keeps QoS 1 "
        "messages for it while the service is down).",
    )
    alarm_cleared_action: Literal["resolve", "verify"] = Field(
        default="verify",
        description="What a cleared alarm does to its ticket: resolve it, or add a note that "
        "asks an agent to verify (default).",
    )
    fleet_incident_units: int = Field(
        default=5, ge=2, description="Units showing one code within the window: one incident."
    )
    fleet_incident_window_minutes: float = Field(default=30.0, gt=0)
    repeat_fault_days: float = Field(
        default=30.0, gt=0, description="The same unit and code again within this: flagged."
    )

    # --- deliveries to the backend -------------------------------------------------------------
    webhook_url: str | None = None
    webhook_secret: str | None = None
    delivery_max_attempts: int = 12
    delivery_backoff_base_seconds: float = 1.0
    delivery_backoff_cap_seconds: float = 300.0
    delivery_timeout_seconds: float = 10.0
    delivery_poll_seconds: float = 0.5
    delivery_lease_seconds: float = Field(
        default=30.0,
        description="How long a claimed delivery stays with its worker before "
        "another may take it over (a killed process's rows come back after this).",
    )

    # --- channels ------------------------------------------------------------------------------
    telegram_token: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    wechat_token: str | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = None
    wechat_aes_key: str | None = None
    wechat_api_url: str = DEFAULT_WECHAT_API_URL
    webchat_secret: str | None = Field(
        default=None,
        description="Signs web chat session tokens; default: a random secret kept in the data dir.",
    )

    @field_validator("database_url")
    @classmethod
    def _normalize_url(cls, value: str | None) -> str | None:
        return normalize_database_url(value) if value else value

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one or a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'aftersales.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        """Where the search index files live."""
        return self.data_dir / "index"

    def ensure_dirs(self) -> None:
        """Create the data dir tree the service writes to."""
        self.index_dir.mkdir(parents=True, exist_ok=True)


@lru_cache
def get_settings() -> Settings:
    """Settings read once per process from the environment."""
    return Settings()
