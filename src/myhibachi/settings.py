"""Application settings from the environment (and `.env` in development); every one has an offline default."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

VAR_DIR = Path("var")
# SHA-256 of keys anyone can read in this repository (its history's development placeholder, the tests' key): only
# the test environment accepts them.
PUBLISHED_KEY_DIGESTS = frozenset({
    "b1c896b814f5054d16d2b94f8e093d6ae97e425e677dbf5a40387e9ebb4f19c1",
    "507eb3cf37df0b15621824d0ffcf14dc79e1c79820bfb0af7d87a1ff2ad92073",
})


class Environment(StrEnum):
    development = "development"
    production = "production"
    test = "test"


class LogFormat(StrEnum):
    console = "console"
    json = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    environment: Environment = Environment.development
    # Signs tokens, cookies and manage links. Unset (or empty): production refuses to start; elsewhere a random key
    # is made once and kept in `secret_key_file` (mode 0600), so no install shares a key written in the code.
    secret_key: str = ""
    secret_key_file: Path = VAR_DIR / "secret_key"
    database_url: str = f"sqlite+aiosqlite:///{VAR_DIR / 'myhibachi.db'}"
    redis_url: str | None = None
    # Public URL of the site, for emailed links. Unset: the address `serve` listens on, http://HOST:PORT.
    base_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000

    brand_name: str = "MyHibachi"
    brand_phone: str = "(510) 555-0100"
    brand_email: str = "hello@myhibachi.local"
    # Page colours (CSS hex); the defaults keep text contrast at WCAG AA on white.
    # A logo served by this site (the CSP allows images from here only); unset: the bundled mark.
    brand_logo_path: Annotated[str | None, Field(pattern=r"^/[A-Za-z0-9._/-]+$")] = None
    brand_primary_color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#b3261e"
    brand_ink_color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#1f2328"
    # The home page's words about the service, so each caterer says it their way (numbers, such as how long the chef
    # stays, come from each station's rules).
    site_included: str = ("The chef, the hibachi grill and its fuel, the food and the cooking show; the chef cleans "
                           "up the cooking area before leaving.")
    site_host_provides: str = ("Tables and chairs for your guests, plates, cutlery and drinks, and a flat outdoor spot "
                               "for the grill, about 3 by 3 meters, within reach of your guests.")
    site_rain_plan: str = ("The chef cooks in light rain under any cover: a patio roof, an open garage or a canopy. "
                           "With no cover and a storm forecast, move your party from your booking link.")
    mail_from: str = "MyHibachi <bookings@myhibachi.local>"
    smtp_url: str | None = None
    mail_dir: Path = VAR_DIR / "mail"

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed; unset: nobody's.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_format: LogFormat | None = None  # default: json in production, console otherwise
    log_level: str = "INFO"

    sentry_dsn: str | None = None
    sentry_traces_sample_rate: float = Field(0.0, ge=0, le=1)
    sentry_profiles_sample_rate: float = Field(0.0, ge=0, le=1)
    release: str | None = None

    # Card payments are on when the secret key is set; SecretStr keeps keys out of reprs and logs.
    stripe_secret_key: SecretStr | None = None
    stripe_publishable_key: str | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None  # unset: Stripe itself; set to point the SDK at an emulator
    # How customers pay without a card (payment emails, confirmation, manage and pay pages): the handle to send to,
    # shown copyable. Empty: that method is not offered. `*_INSTRUCTIONS`, optional, add words of your own; set
    # without a handle (how older installs configured it), they are shown as written, with no handle of ours.
    zelle_handle: str = "payments@myhibachi.local"
    venmo_handle: str = "@MyHibachi"
    zelle_instructions: str | None = None
    venmo_instructions: str | None = None

    access_token_minutes: int = Field(15, ge=1, le=60)
    # The admin pages' sign-in cookie lapses after this long without a visit (each visit renews it).
    admin_idle_minutes: int = Field(120, ge=5, le=24 * 60)
    refresh_token_days: int = Field(14, ge=1, le=90)
    password_reset_minutes: int = Field(60, ge=5, le=24 * 60)
    invite_days: int = Field(7, ge=1, le=30)
    login_failures_per_account: int = Field(5, ge=1)
    login_failures_per_ip: int = Field(30, ge=1)
    login_failure_window_seconds: int = Field(15 * 60, ge=1)
    booking_holds_per_ip: int = Field(10, ge=1)
    booking_hold_window_seconds: int = Field(3600, ge=1)
    # Posts of the customer site's forms (booking steps, manage-my-booking) per IP per window.
    public_form_posts_per_ip: int = Field(120, ge=1)
    public_form_window_seconds: int = Field(600, ge=1)
    outbox_sweep_seconds: float = Field(30.0, gt=0)
    # Who runs the outbox sweep and the periodic tasks (expiring holds, reminders...) every OUTBOX_SWEEP_SECONDS: false,
    # every `serve` and `worker` process itself (the embedded default: one process does it all); true, only the
    # `myhibachi scheduler` process, which queues one run for the workers each time (once per stack, however many app
    # processes). Needs REDIS_URL; without it, the setting is ignored.
    periodic_in_scheduler: bool = False
    # The booking flow left with an email and no booking this long becomes a lead (SPEC §7).
    lead_abandon_minutes: int = Field(120, ge=1, le=30 * 24 * 60)
    # Newsletters (SPEC §7): campaign mail goes out at most this fast (0: as fast as SMTP takes it), this many
    # recipients a job, over this many pooled SMTP connections; a recipient claimed by a worker that vanished is
    # offered again after `NEWSLETTER_CLAIM_SECONDS`.
    newsletter_messages_per_second: float = Field(20.0, ge=0)
    newsletter_batch_size: int = Field(1000, ge=1, le=10_000)
    newsletter_smtp_connections: int = Field(4, ge=1, le=32)
    newsletter_claim_seconds: int = Field(300, ge=5)
    # Bounces: this many soft bounces of an address in a row suppress it like a hard one.
    soft_bounce_limit: int = Field(3, ge=1, le=100)
    # SendGrid's signed event webhook: the verification key it shows (base64 DER of the P-256 public key). Unset:
    # the webhook refuses everything.
    sendgrid_webhook_public_key: str | None = None
    # `POST /api/v1/webhooks/email/inbound` wants `Authorization: Bearer` this. Unset: the endpoint refuses.
    inbound_email_secret: SecretStr | None = None
    # Inbox channels (SPEC §5): each is off while its settings are unset, and its outbound messages are then written
    # under `outbox_dir` (so the embedded default works offline).
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None  # the E.164 number texts come from
    twilio_api_base: str | None = None  # point the Twilio SDK at another server (a local emulator)
    meta_app_secret: SecretStr | None = None  # checks X-Hub-Signature-256 of Messenger / Instagram webhooks
    meta_verify_token: SecretStr | None = None  # the webhook subscription's handshake
    meta_page_token: SecretStr | None = None  # sends through the Send API
    meta_graph_base: str = "https://graph.facebook.com/v21.0"
    outbox_dir: Path = VAR_DIR / "outbox"
    # Cached results live this long at most; writes that change them refresh them at once.
    cache_ttl_analytics_seconds: int = Field(300, ge=1)
    cache_ttl_kpis_seconds: int = Field(120, ge=1)
    cache_ttl_reference_seconds: int = Field(3600, ge=1)  # stations and business rules
    jobs_inline: bool = False  # run jobs to completion before the request returns (tests, scripts)
    # WebSockets (/ws/chat, /ws/staff): the server sends `{"type": "ping"}` this often and drops a client silent for
    # `ws_idle_seconds`; a frame over `ws_max_message_bytes` or over `ws_messages_per_window` in
    # `ws_rate_window_seconds` is answered with an error event, and the third such one closes the socket (1008).
    ws_heartbeat_seconds: float = Field(25.0, gt=0)
    ws_idle_seconds: float = Field(60.0, gt=0)
    ws_max_message_bytes: int = Field(4096, ge=256, le=65536)
    ws_messages_per_window: int = Field(10, ge=1)
    ws_rate_window_seconds: float = Field(10.0, gt=0)
    # /ws/staff checks the sign-in (signed out, deactivated, role removed) this often, and before each event.
    ws_staff_recheck_seconds: float = Field(30.0, gt=0)
    # The website chat's visitor cookie lasts this long (renewed by each visit), and a reconnect resumes from the
    # latest `chat_history_messages` messages.
    chat_visitor_days: int = Field(180, ge=1, le=400)
    chat_history_messages: int = Field(50, ge=1, le=500)
    # Website chat messages one client address may send per window, over all its visitors and sockets.
    chat_messages_per_ip: int = Field(60, ge=1)
    chat_message_window_seconds: int = Field(600, ge=1)
    # The website assistant hands a chat to a person for a party of more guests than this (SPEC §7 "Chat").
    chat_handoff_guests: int = Field(40, ge=1, le=1000)
    # An OpenAI-compatible endpoint (`{LLM_BASE_URL}/chat/completions`) that may pick the assistant's tools and
    # phrase its answers; unset: the built-in assistant only. A slower answer than LLM_TIMEOUT_SECONDS is not waited
    # for (the built-in assistant answers instead).
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = Field(8.0, gt=0, le=120)
    # /metrics tells traffic and errors by route: served to loopback clients only unless this says everyone.
    metrics_public: bool = False

    @field_validator("redis_url", "smtp_url", "sentry_dsn", "release", "stripe_secret_key", "stripe_publishable_key",
                     "stripe_webhook_secret", "stripe_api_base",
                     "sendgrid_webhook_public_key", "inbound_email_secret", "zelle_instructions", "venmo_instructions",
                     "twilio_account_sid", "twilio_auth_token", "twilio_from", "twilio_api_base", "meta_app_secret",
                     "meta_verify_token", "meta_page_token", "llm_base_url", "llm_api_key", mode="before")
    @classmethod
    def blank_is_unset(cls, value: object) -> object:
        """`STRIPE_WEBHOOK_SECRET=` in an env file means "not configured", never "signed with the empty key"."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("cors_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def proxies_are_addresses(cls, proxies: list[str]) -> list[str]:
        """Fail closed: a typo must not pass silently, and "*" would believe whatever a client writes."""
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network (CIDR)") from None
        return proxies

    @model_validator(mode="after")
    def older_payment_instructions(self) -> Settings:
        """An install that wrote its whole Zelle / Venmo instruction (before handles existed) keeps showing it, and
        never our placeholder handle beside it."""
        for method in ("zelle", "venmo"):
            if getattr(self, f"{method}_instructions") and f"{method}_handle" not in self.model_fields_set:
                setattr(self, f"{method}_handle", "")
        return self

    @model_validator(mode="after")
    def serve_address_is_the_default_base_url(self) -> Settings:
        """Links in emails lead where the app answers, whatever PORT `make run` was given."""
        if not self.base_url.strip():
            self.base_url = f"http://{url_host(self.host)}:{self.port}"
        return self

    @model_validator(mode="after")
    def resolve_secret_key(self) -> Settings:
        if not self.secret_key:
            if self.environment is Environment.production:
                raise ValueError("SECRET_KEY must be set to a random value of 32+ characters in production")
            self.secret_key = load_or_create_secret_key(self.secret_key_file)
        published = hashlib.sha256(self.secret_key.encode()).hexdigest() in PUBLISHED_KEY_DIGESTS
        if published and self.environment is not Environment.test:
            raise ValueError("SECRET_KEY is a published key: set a random value of 32+ characters")
        if self.environment is Environment.production and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be set to a random value of 32+ characters in production")
        return self

    @property
    def card_payments_enabled(self) -> bool:
        return self.stripe_secret_key is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format:
            return self.log_format
        return LogFormat.json if self.environment is Environment.production else LogFormat.console


def url_host(host: str) -> str:
    """HOST as a URL writes it: a wildcard address is reached on loopback, an IPv6 address goes in brackets."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host.strip(), host.strip())  # noqa: S104
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def load_or_create_secret_key(path: Path) -> str:
    """The key kept in `path`, made (random, readable by this user only) the first time. The file appears whole
    (written aside, then linked into place), so of two processes starting at once both use the one that won."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path} holds no usable key: delete it to have a new one made, or set SECRET_KEY")
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
