"""What monitoring is configured with: drift thresholds and windows, SMTP, the mail policy.

Each type is declared here once, with its defaults, bounds and descriptions, and the settings
nest it as a group: `drift` (`TASTEMAKER_DRIFT__WINDOW_DAYS`, a `[drift]` table in the TOML
file), `smtp` (`TASTEMAKER_SMTP__HOST`, `[smtp]`) and `mail` (`TASTEMAKER_MAIL__POLICY`,
`[mail]`). `monitoring.drift` and `monitoring.mail` take these objects and never read the
settings, so they can be used and tested with a config object alone. This module imports
pydantic only: warehouse/settings.py is loaded by every `tastemaker` command, while numpy,
Evidently, smtplib and ssl belong to the commands that check drift or mail.

Two mail groups rather than one because they change for different reasons: `smtp` is where and how
to deliver (the server, its credentials and trust store, one per installation, and the password
is a secret); `mail` is what is sent and when (the policy, how large a report may travel, where
reports are linked, how patiently delivery is retried), which a team tunes without touching the
server's settings.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

MailPolicy = Literal["drift_only", "daily_digest"]
DriftReference = Literal["training", "pinned", "adjacent"]


def _comma_list(value: Any) -> Any:
    """`a, b` (an environment variable) as a list; a TOML or JSON list passes unchanged."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


#: A list setting that also accepts one comma-separated environment value (`NoDecode`: the
#: settings source must not try to read `a, b` as JSON first).
CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list)]


class DriftThresholds(BaseModel):
    """What `monitoring.drift.run_drift` decides with: the column and share thresholds, the
    small-sample guards and the alert rules (module docstring of monitoring/drift.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column_threshold: float = Field(
        default=0.1, gt=0, description="Per-column drift score threshold (Evidently)."
    )
    share_threshold: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="Share of drifted columns at which the dataset counts as drifted.",
    )
    min_rows: int = Field(
        default=100, ge=1, description="Fewer rows in a window: status insufficient_data, no alarm."
    )
    permutations: int = Field(
        default=50, ge=0, description="Random splits per column for the small-sample noise floor."
    )
    null_quantile: float = Field(
        default=0.99, gt=0, lt=1, description="Quantile of permutation statistics used as floor."
    )
    seed: int = Field(default=0, ge=0, description="Seed of the noise floor's random splits.")
    alert_share_points: float = Field(
        default=4.0,
        gt=0,
        description="A share column (or a category's share) alerts when its mean moved by at "
        "least this many percentage points and beyond the noise floor.",
    )
    alert_mean_shift_sd: float = Field(
        default=0.5,
        gt=0,
        description="Any other numerical column alerts when its mean moved by at least this "
        "many reference standard deviations and beyond the noise floor.",
    )
    key_effect_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A key feature alerts on its own from this fraction of the large effect "
        "(alert_share_points, alert_mean_shift_sd), beyond the noise floor.",
    )


class DriftConfig(DriftThresholds):
    """The monitoring run's drift settings: the thresholds, plus which windows are compared and
    which columns are key. The flow reads the windows and key columns; `run_drift` takes the
    whole object as its thresholds."""

    window_days: int = Field(
        default=28, ge=1, description="Current window length; the reference is the window before."
    )
    reference: DriftReference = Field(
        default="training",
        description="What the current window is compared with: `training` = the data window "
        "the champion models were trained on (from the registry; adjacent windows when no "
        "champion records one), `pinned` = reference_start to reference_end, `adjacent` = the "
        "window just before the current one. `training` and `pinned` are cut into windows of "
        "window_days, so every feature covers the same length of time in both.",
    )
    reference_start: date | None = Field(
        default=None,
        description="Start of the pinned reference period (YYYY-MM-DD); with reference=pinned.",
    )
    reference_end: date | None = Field(
        default=None,
        description="End (exclusive) of the pinned reference period (YYYY-MM-DD); with "
        "reference=pinned.",
    )
    key_features: CommaList = Field(
        default=(),
        description="Columns that alert on their own when they drift, besides the champion "
        "churn model's top drivers (comma-separated in the env).",
    )
    key_drivers: int = Field(
        default=5,
        ge=0,
        description="How many of the champion churn model's top permutation drivers are key "
        "features (0 = only key_features).",
    )
    backfill_days: int = Field(
        default=60,
        ge=1,
        description="Days `tastemaker drift --backfill` replays the daily monitor over (each "
        "day a current window of window_days ending that day), unless --days says otherwise.",
    )


class SmtpConfig(BaseModel):
    """Where and how to send. `host=None` means: write to the outbox only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str | None = Field(
        default=None, description="SMTP server. Unset: mail is written to <home>/outbox as .eml."
    )
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = Field(default=None, description="Never logged or printed.")
    sender: str = "tastemaker@localhost"
    recipients: CommaList = Field(
        default=(), description="Who gets the monitoring mail (comma-separated in the env)."
    )
    starttls: bool = True
    timeout_s: float = Field(default=30.0, gt=0)
    tls_ca_file: Path | None = Field(
        default=None,
        description="CA bundle to verify the SMTP server (STARTTLS); default: the system's. "
        "Read when a message is sent, so a renewed bundle needs no restart.",
    )


class MailConfig(BaseModel):
    """What the monitoring mail sends and when, and how patiently it is delivered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: MailPolicy = Field(
        default="drift_only",
        description="When to mail: `drift_only` when an alert rule fired, `daily_digest` also "
        "the first run of each day.",
    )
    #: Many servers refuse messages over 10 MB (Postfix's default limit is 10,240,000 bytes,
    #: the whole message); the drift report of the default world is 6.3 MB, 8.7 MB encoded, so
    #: it is attached as plain HTML that mail clients open, with room left for the text, HTML
    #: and chart.
    max_attachment_bytes: int = Field(
        default=10_000_000,
        ge=0,
        description="Largest report attachment as sent (base64, a third over the file size): "
        "the HTML report is attached as .html when it fits, gzipped (.html.gz) only when just "
        "that fits, else left out with its link (or path). The default fits a 10 MB server "
        "limit and the ~6 MB report as plain HTML.",
    )
    reports_base_url: str | None = Field(
        default=None,
        description="URL at which <home>/reports/ is served (e.g. https://reports.example.com/"
        "tastemaker): mail and Prefect artifacts then link each report as "
        "<url>/<date>/<file>. Unset: they name the report's path and host (never a file:// "
        "link, which browsers will not open from a web page).",
    )
    retries: int = Field(default=3, ge=0, description="SMTP retries per message and run.")
    backoff_s: float = Field(default=2.0, ge=0, description="First retry delay; doubles.")

    @field_validator("reports_base_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        """An http(s) URL without the trailing slash, or None (an empty value means unset)."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("https://", "http://")):
            raise ValueError(
                f"must be an http(s) URL where the reports folder is served, got {value!r}"
            )
        return value.rstrip("/")
