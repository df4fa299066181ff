"""Settings: environment variables (``LISTONOSZ_…``) over an optional ``listonosz.toml``.

Nothing here is global: build a :class:`Settings` once and pass it where it is needed.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from listonosz.errors import ListonoszError
from listonosz.paths import private_dir

CONFIG_FILE_ENV = "LISTONOSZ_CONFIG"


ProviderKind = Literal["postmark", "sendgrid", "mailgun", "brevo"]


class TransportSettings(BaseModel):
    """One named way of sending mail: an SMTP server, a transactional mail API, or an outbox
    folder (a dry run)."""

    kind: Literal["smtp", "outbox", "postmark", "sendgrid", "mailgun", "brevo"] = "smtp"
    host: str = "127.0.0.1"
    port: int = 8025
    security: Literal["plain", "starttls", "tls"] = "plain"
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = Field(default=30.0, gt=0)
    pool_size: int = Field(default=4, ge=1, le=64, description="connections kept open")
    rate_per_minute: float | None = Field(
        default=None, gt=0, description="e.g. 30 for a Microsoft 365 mailbox"
    )
    retries: int = Field(
        default=3, ge=0, description="extra tries within a run: SMTP 4xx; APIs 429, 5xx, timeouts"
    )
    retry_backoff: float = Field(default=1.0, ge=0, description="seconds, doubled per try")
    path: Path | None = Field(default=None, description="outbox: where .eml files go")
    prefect_limit: str | None = Field(
        default=None,
        description="a Prefect global concurrency limit (with slot decay) that every worker "
        "sending through this transport shares",
    )
    # Transactional mail APIs (kind = postmark, sendgrid, mailgun, brevo)
    api_key: SecretStr | None = Field(default=None, description="from the environment only")
    base_url: str | None = Field(
        default=None, description="the API's address; the provider's own when empty"
    )
    region: Literal["us", "eu"] = Field(default="eu", description="mailgun: which region")
    domain: str | None = Field(default=None, description="mailgun: the sending domain")
    message_stream: str | None = Field(default=None, description="postmark: e.g. broadcast")


class BounceMailboxSettings(BaseModel):
    """The IMAP mailbox that bounces come back to (the campaigns' ``sender.bounce_address``):
    read by ``listonosz bounces fetch`` and the ``collect-bounces`` flow."""

    host: str = "127.0.0.1"
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["plain", "starttls", "tls"] = "tls"
    username: str = ""
    password: SecretStr | None = Field(default=None, description="from the environment only")
    folder: str = Field(default="INBOX", description="where bounces arrive")
    processed_folder: str = Field(default="Processed", description="read and recorded")
    unrecognised_folder: str = Field(
        default="Unrecognised", description="neither a bounce, a complaint nor an auto-reply"
    )
    timeout: float = Field(default=60.0, gt=0)
    batch_size: int = Field(default=200, ge=1, le=5000, description="messages per IMAP FETCH")
    trust_unsigned: bool = Field(
        default=False,
        description="also apply reports without a signed VERP address (matched by "
        "Original-Envelope-Id or Message-ID): only for a mailbox without VERP, since anyone "
        "who can write to it could then suppress an address",
    )


class DkimSettings(BaseModel):
    """DKIM signing of every message; the key comes from the environment or a file."""

    domain: str
    selector: str
    algorithm: Literal["rsa", "ed25519"] = "rsa"
    private_key: SecretStr | None = Field(default=None, description="PEM text (environment)")
    private_key_file: Path | None = None


class SignedHookSettings(BaseModel):
    """A provider that signs its webhooks with a key (SendGrid: its public key; Mailgun: the
    webhook signing key); requests older (or newer) than ``max_age`` seconds are refused."""

    public_key: SecretStr | None = Field(
        default=None, description="sendgrid: the verification key, base64 DER as SendGrid shows it"
    )
    signing_key: SecretStr | None = Field(
        default=None, description="mailgun: the HTTP webhook signing key"
    )
    max_age: float = Field(
        default=24 * 3600,
        gt=0,
        description="seconds a signed request stays valid (the providers retry for up to a day)",
    )


class BasicHookSettings(BaseModel):
    """A provider that calls its webhook with HTTP Basic auth (Postmark, Brevo) or, Brevo
    only, a bearer token. Comma-separated, so two can be valid during a rotation."""

    secrets: SecretStr | None = Field(
        default=None, description="user:password[,user:password]: the credentials in the URL"
    )
    tokens: SecretStr | None = Field(
        default=None, description="brevo: token[,token] sent as Authorization: Bearer"
    )


class WebhookSettings(BaseModel):
    """How each provider's webhook (``POST /hooks/NAME`` on the web app) is authenticated;
    a provider with nothing set has no webhook (404)."""

    sendgrid: SignedHookSettings = Field(default_factory=SignedHookSettings)
    mailgun: SignedHookSettings = Field(default_factory=SignedHookSettings)
    postmark: BasicHookSettings = Field(default_factory=BasicHookSettings)
    brevo: BasicHookSettings = Field(default_factory=BasicHookSettings)


class ConfigError(ListonoszError, ValueError):
    """A setting that cannot be used; the message names it."""


BUILTIN_TRANSPORTS = {"capture": TransportSettings(), "outbox": TransportSettings(kind="outbox")}


class Settings(BaseSettings):
    """Everything Listonosz needs to know about where it runs."""

    model_config = SettingsConfigDict(
        env_prefix="LISTONOSZ_", env_nested_delimiter="__", extra="ignore"
    )

    var_dir: Path = Path("var")
    project_dir: Path = Field(
        default=Path("."),
        description="The folder that holds campaigns/, contacts/ and templates/; campaign "
        "files must lie in its campaigns/ folder.",
    )
    allowed_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Folders outside the project that contact lists and templates may come "
        "from; in the environment, separated by the path separator (':' on Linux).",
    )
    ledger_url: str | None = Field(
        default=None, description="SQLAlchemy URL; SQLite under var_dir when not set."
    )
    public_url: str = Field(
        default="https://listonosz.localhost",
        description="Base URL of the web app that serves unsubscribe and RSVP links.",
    )
    check_public_url: bool = Field(
        default=True,
        description="Refuse to send through a real transport unless public_url is HTTPS and "
        "its /healthz answers (turn off only when the web app is hosted out of reach).",
    )
    token_secret: SecretStr | None = Field(
        default=None,
        description="Signs unsubscribe and RSVP tokens; generated under var_dir when not set.",
    )
    transport: str = "capture"
    transports: dict[str, TransportSettings] = Field(default_factory=dict)
    dkim: DkimSettings | None = None
    webhooks: WebhookSettings = Field(
        default_factory=WebhookSettings,
        description="provider webhooks: LISTONOSZ_WEBHOOKS__SENDGRID__PUBLIC_KEY, "
        "..._MAILGUN__SIGNING_KEY, ..._POSTMARK__SECRETS, ..._BREVO__SECRETS / __TOKENS",
    )
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="a run silent this long is taken for dead and its in-flight rows resent",
    )
    batch_size: int = Field(default=1000, ge=1, le=10_000)
    concurrency: int = Field(default=4, ge=1, le=64)
    render_seconds: float = Field(
        default=2.0, gt=0, le=600, description="most time one message's templates may take"
    )
    bounces: BounceMailboxSettings | None = Field(
        default=None, description="the bounce mailbox over IMAP (LISTONOSZ_BOUNCES__…)"
    )

    @field_validator("allowed_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: object) -> object:
        """``/srv/a:/srv/b`` (or a JSON list) from the environment; a list from the TOML."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.split(os.pathsep) if part]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get(CONFIG_FILE_ENV, "listonosz.toml"))
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
        return init_settings, env_settings, toml, file_secret_settings

    @property
    def resolved_ledger_url(self) -> str:
        return self.ledger_url or f"sqlite:///{self.var_dir / 'ledger.sqlite'}"

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"

    def transport_settings(self, name: str | None = None) -> TransportSettings:
        """The named transport, or the default one; a clear error names the known ones.

        ``capture`` (the local capture server) and ``outbox`` (a dry run into var/dry-run)
        always exist unless listonosz.toml defines transports of those names.
        """
        name = name or self.transport
        transports = {**BUILTIN_TRANSPORTS, **self.transports}
        try:
            return transports[name]
        except KeyError:
            known = ", ".join(sorted(transports))
            raise ConfigError(
                f"unknown transport {name!r}; configured transports: {known} (see listonosz.toml)"
            ) from None

    def ledger_url_for(self, transport: TransportSettings) -> str:
        """The ledger a send records into: a dry run keeps its own, beside its .eml files."""
        if transport.kind == "outbox":
            return f"sqlite:///{self.outbox_path(transport) / 'ledger.sqlite'}"
        return self.resolved_ledger_url

    def outbox_path(self, transport: TransportSettings) -> Path:
        return transport.path or self.var_dir / "dry-run"

    def signing_secret(self) -> bytes:
        """The token secret; on first use without one, a random secret is kept under var_dir."""
        if self.token_secret is not None:
            return self.token_secret.get_secret_value().encode()
        path = self.var_dir / "token_secret"
        private_dir(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
        return path.read_text().strip().encode()
