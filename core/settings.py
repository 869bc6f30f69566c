"""The one settings object of the service: every `AFTERSALES_*` variable (and `.env`) lands here.

Other packages (knowledge_base, bot, channels) take plain arguments; only the composition root
(CLI, app factory) reads settings and hands the values down.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
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

    # --- tickets, triage and SLAs --------------------------------------------------------------
    sla_policy_file: Path | None = Field(
        default=None, description="YAML SLA policy; default: the bundled one."
    )

    # --- agents ----------------------------------------------------------------------------------
    escalation_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often the auto-escalation job checks open tickets."
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
