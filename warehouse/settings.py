"""The one place Tastemaker reads configuration.

Every path, credential and threshold comes from a single `Settings` object, filled (highest
priority first) from keyword arguments, `TASTEMAKER_*` environment variables, an optional TOML
file, and the defaults below. Nothing else in the code base reads the environment for its own
configuration, so what a run used can always be printed in one place (`Settings.public_dict`),
with secrets masked.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ml.world.config import WorldConfig
from monitoring.limits import DEFAULT_MAX_ATTACHMENT_BYTES

if TYPE_CHECKING:
    from ml.audience.policy import PolicyConfig
    from monitoring.drift import DriftThresholds
    from monitoring.mail import SmtpConfig

#: The repository root when running from a checkout (editable install), used to find the
#: dbt project and, by default, the shared data folder beside the checkout.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENV_PREFIX = "TASTEMAKER_"
#: Between a group and its field in an environment name: `TASTEMAKER_WORLD__USERS` sets
#: `Settings.world.users` (a `[world]` table in the TOML file).
NESTED_DELIMITER = "__"
CONFIG_ENV = "TASTEMAKER_CONFIG"
#: `TASTEMAKER_*` variables read on purpose that are not settings fields.
EXTRA_ENV = frozenset({CONFIG_ENV})
DEFAULT_CONFIG_NAME = "tastemaker.toml"


def _config_file() -> Path | None:
    """The TOML config file in force: `$TASTEMAKER_CONFIG`, else `./tastemaker.toml` if present."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{CONFIG_ENV}={explicit}: no such config file")
        return path
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.is_file() else None


class Settings(BaseSettings):
    """Paths, warehouse, SMTP and thresholds for one Tastemaker installation.

    Environment variables use the prefix `TASTEMAKER_` and the upper-cased field name,
    e.g. `TASTEMAKER_HOME`, `TASTEMAKER_SMTP_HOST`, `TASTEMAKER_SMTP_RECIPIENTS` (comma-separated).
    A group of settings is the config type of the code that uses it (the world generator's
    `WorldConfig`, ...), nested here rather than copied: its fields are set with
    `TASTEMAKER_<GROUP>__<FIELD>` (e.g. `TASTEMAKER_WORLD__USERS=500`) or a `[<group>]` table in
    the TOML file, and their defaults are the config type's own.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        extra="ignore",
        validate_default=True,
    )

    # --- paths -----------------------------------------------------------------------------
    home: Path = Field(
        default=Path(".tastemaker"),
        description="Working folder: warehouse.duckdb, landing/, artifacts/, reports/, outbox/.",
    )
    data_dir: Path | None = Field(
        default=None,
        description="Where real public data sets (MovieLens, catalogs) are read in place. "
        "Default: ../shared/data beside the checkout, when it exists.",
    )
    duckdb_path: Path | None = Field(
        default=None, description="The DuckDB file. Default: <home>/warehouse.duckdb."
    )
    landing_dir: Path | None = Field(
        default=None, description="Landing folder read by ingest. Default: <home>/landing."
    )
    dbt_project_dir: Path = Field(
        default=PROJECT_ROOT / "dbt_project", description="The dbt project (and its profiles.yml)."
    )

    # --- embedded synthetic world ----------------------------------------------------------
    world: WorldConfig = Field(
        default_factory=WorldConfig,
        description="The synthetic world generated when the landing folder is empty (size, seed, "
        "period, planted drift); its defaults are ml.world.WorldConfig's.",
    )

    # --- warehouse -------------------------------------------------------------------------
    warehouse_lock_timeout_s: float = Field(
        default=1800.0,
        gt=0,
        description="How long a writing flow waits for another writer to release the DuckDB file.",
    )
    read_lock_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="How long a read-only command (segments, churn, recommend, lineage, drift, "
        "evaluate on synthetic) waits for a writing run to release the DuckDB file before it "
        "says a run is writing and exits (code 2). DuckDB lets no other process open the file "
        "while a writer holds it, so reads cannot skip the wait.",
    )

    # --- plausibility in time (warehouse.validate.TimeRules; docs/data-contract.md) ---------
    future_tolerance_hours: float = Field(
        default=24.0,
        ge=0,
        description="An event time may lie at most this far after the ingest time of its batch "
        "(clock skew); later rows are quarantined. dbt clamps snapshot_date to the latest "
        "ingest time plus this much.",
    )
    earliest_event_date: date = Field(
        default=date(2000, 1, 1),
        description="No event or signup before this date (before the service existed, or a "
        "1970 default value): such rows are quarantined.",
    )
    session_overlap_tolerance_s: int = Field(
        default=300,
        ge=0,
        description="Two playback sessions of one user on one device may overlap by this many "
        "seconds; beyond it the later one is quarantined.",
    )

    # --- Prefect ---------------------------------------------------------------------------
    prefect_startup_timeout_s: int = Field(
        default=600,
        ge=1,
        description="How long a command waits for Prefect's temporary API server to start when "
        "no PREFECT_API_URL is set and no `tastemaker up` server runs. A fresh PREFECT_HOME "
        "migrates a database first: 49-89 s were measured on a busy 2-core machine, against "
        "Prefect's own default of 20 s. PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, when "
        "set, wins.",
    )

    # --- mail ------------------------------------------------------------------------------
    smtp_host: str | None = Field(
        default=None, description="SMTP server. Unset: mail is written to <home>/outbox as .eml."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = Field(default=None, description="Never logged or printed.")
    smtp_sender: str = "tastemaker@localhost"
    smtp_recipients: Annotated[list[str], NoDecode] = Field(default_factory=list)
    smtp_starttls: bool = True
    smtp_timeout_s: float = Field(default=30.0, gt=0)

    # --- thresholds ------------------------------------------------------------------------
    drift_column_threshold: float = Field(
        default=0.1, gt=0, description="Per-column drift score threshold (Evidently)."
    )
    drift_share_threshold: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="Share of drifted columns at which the dataset counts as drifted.",
    )
    drift_window_days: int = Field(
        default=28, ge=1, description="Current window length; the reference is the window before."
    )
    drift_min_rows: int = Field(
        default=100, ge=1, description="Fewer rows in a window: status insufficient_data, no alarm."
    )
    drift_permutations: int = Field(
        default=50, ge=0, description="Random splits per column for the small-sample noise floor."
    )
    drift_null_quantile: float = Field(
        default=0.99, gt=0, lt=1, description="Quantile of permutation statistics used as floor."
    )
    drift_reference: str = Field(
        default="training",
        pattern="^(training|pinned|adjacent)$",
        description="What the current window is compared with (TASTEMAKER_DRIFT_REFERENCE): "
        "`training` = the data window the champion models were trained on (from the registry; "
        "adjacent windows when no champion records one), `pinned` = drift_reference_start to "
        "drift_reference_end, `adjacent` = the window just before the current one. `training` "
        "and `pinned` are cut into windows of drift_window_days, so every feature covers the "
        "same length of time in both.",
    )
    drift_reference_start: date | None = Field(
        default=None,
        description="Start of the pinned reference period (TASTEMAKER_DRIFT_REFERENCE_START, "
        "YYYY-MM-DD); with drift_reference=pinned.",
    )
    drift_reference_end: date | None = Field(
        default=None,
        description="End (exclusive) of the pinned reference period "
        "(TASTEMAKER_DRIFT_REFERENCE_END, YYYY-MM-DD); with drift_reference=pinned.",
    )
    drift_alert_share_points: float = Field(
        default=4.0,
        gt=0,
        description="A share column (or a category's share) alerts when its mean moved by at "
        "least this many percentage points and beyond the noise floor "
        "(TASTEMAKER_DRIFT_ALERT_SHARE_POINTS).",
    )
    drift_alert_mean_shift_sd: float = Field(
        default=0.5,
        gt=0,
        description="Any other numerical column alerts when its mean moved by at least this "
        "many reference standard deviations and beyond the noise floor "
        "(TASTEMAKER_DRIFT_ALERT_MEAN_SHIFT_SD).",
    )
    drift_key_features: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Columns that alert on their own when they drift, besides the champion "
        "churn model's top drivers (TASTEMAKER_DRIFT_KEY_FEATURES, comma-separated).",
    )
    drift_key_effect_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A key feature alerts on its own from this fraction of the large effect "
        "(drift_alert_share_points, drift_alert_mean_shift_sd), beyond the noise floor "
        "(TASTEMAKER_DRIFT_KEY_EFFECT_FRACTION).",
    )
    drift_key_drivers: int = Field(
        default=5,
        ge=0,
        description="How many of the champion churn model's top permutation drivers are key "
        "features (TASTEMAKER_DRIFT_KEY_DRIVERS; 0 = only drift_key_features).",
    )
    mail_policy: str = Field(
        default="drift_only", pattern="^(drift_only|daily_digest)$", description="When to mail."
    )
    mail_max_attachment_bytes: int = Field(
        default=DEFAULT_MAX_ATTACHMENT_BYTES,
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
    mail_retries: int = Field(default=3, ge=0, description="SMTP retries per message and run.")
    mail_backoff_s: float = Field(default=2.0, ge=0, description="First retry delay; doubles.")
    mail_tls_ca_file: Path | None = Field(
        default=None, description="CA bundle to verify the SMTP server (STARTTLS); default: system."
    )

    # --- re-engagement policy (ml.audience.policy.PolicyConfig, field = name minus prefix) --
    # The defaults equal PolicyConfig's (a test holds them together); money in one currency.
    reengage_risk_threshold: float = Field(
        default=0.15, ge=0, le=1, description="Churn probability from which a user is at risk."
    )
    reengage_value_of_retention: float = Field(
        default=30.0, ge=0, description="What keeping a would-be canceller is worth."
    )
    reengage_cost_email: float = Field(default=0.05, ge=0, description="Cost of one e-mail.")
    reengage_cost_push: float = Field(default=0.02, ge=0, description="Cost of one push.")
    reengage_cost_discount: float = Field(
        default=5.0, ge=0, description="Cost of one discount (revenue given away included)."
    )
    reengage_cost_teaser: float = Field(default=0.05, ge=0, description="Cost of one teaser.")
    reengage_max_contacts_7d: int = Field(
        default=2, ge=0, description="Most contacts per user in 7 days, the planned one included."
    )
    reengage_max_contacts_30d: int = Field(
        default=4, ge=0, description="Most contacts per user in 30 days, the planned one included."
    )
    reengage_discount_budget: float = Field(
        default=500.0, ge=0, description="Most money spent on discounts in one plan."
    )
    reengage_usual_hours_coverage: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of a user's views their usual hours cover; the rest are quiet hours.",
    )
    reengage_default_send_hour: int = Field(
        default=19, ge=0, le=23, description="Send hour for a user with no recorded viewing."
    )

    @field_validator("smtp_recipients", "drift_key_features", mode="before")
    @classmethod
    def _split_recipients(cls, value: Any) -> Any:
        """Accept `a, b` from the environment as well as a JSON/TOML list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("world")
    @classmethod
    def _valid_world(cls, value: WorldConfig) -> WorldConfig:
        """The generator's own checks (sizes within bounds, at least 14 days and titles)."""
        value.validate()
        return value

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = _config_file()
        if config is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        return tuple(sources)

    # --- derived paths ---------------------------------------------------------------------
    @property
    def home_dir(self) -> Path:
        """`home` made absolute, so a flow that changes directory still writes to the same place."""
        return self.home.expanduser().resolve()

    @property
    def warehouse_path(self) -> Path:
        return (self.duckdb_path or self.home_dir / "warehouse.duckdb").expanduser().resolve()

    @property
    def landing_path(self) -> Path:
        return (self.landing_dir or self.home_dir / "landing").expanduser().resolve()

    @property
    def truth_path(self) -> Path:
        """Ground truth of a generated world: read by tests and benchmarks, never the pipeline."""
        return self.home_dir / "truth"

    @property
    def artifacts_path(self) -> Path:
        return self.home_dir / "artifacts"

    @property
    def reports_path(self) -> Path:
        return self.home_dir / "reports"

    @property
    def outbox_path(self) -> Path:
        return self.home_dir / "outbox"

    @property
    def lock_path(self) -> Path:
        return self.warehouse_path.with_suffix(".lock")

    @property
    def resolved_data_dir(self) -> Path | None:
        """The real-data folder if one is configured or sits beside the checkout, else None."""
        if self.data_dir is not None:
            return self.data_dir.expanduser().resolve()
        beside = PROJECT_ROOT.parent / "shared" / "data"
        return beside if beside.is_dir() else None

    def dbt_vars(self) -> dict[str, Any]:
        """dbt vars that follow settings, passed to every dbt invocation (declared once here;
        dbt_project.yml repeats the tolerance's default for a bare `dbt build`, and a test holds
        the two together). The refresh's build fingerprint is taken over these too, so a build
        and the check that may skip it can never see different vars."""
        return {
            "drift_window_days": self.drift_window_days,
            "future_tolerance_hours": self.future_tolerance_hours,
        }

    def dbt_env(self) -> dict[str, str]:
        """Environment the dbt profile reads (dbt_project/profiles.yml)."""
        return {"TASTEMAKER_DUCKDB_PATH": str(self.warehouse_path)}

    def public_dict(self) -> dict[str, Any]:
        """All settings as JSON-able values, secrets masked: safe to log, print or publish."""
        data: dict[str, Any] = {}
        groups = _groups()
        for name, value in self.model_dump(mode="json").items():
            if name in groups:
                data.update({f"{name}.{k}": v for k, v in value.items()})
            else:
                data[name] = value
        if self.smtp_password is not None:
            data["smtp_password"] = "**********"
        data["warehouse_path"] = str(self.warehouse_path)
        data["landing_path"] = str(self.landing_path)
        return data


@functools.cache
def _groups() -> dict[str, tuple[str, ...]]:
    """Nested settings groups and their field names (a dataclass or pydantic config type); a
    property of the class, so worked out once per process."""
    groups: dict[str, tuple[str, ...]] = {}
    for name, info in Settings.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            groups[name] = tuple(f.name for f in dataclasses.fields(kind))
        elif isinstance(kind, type) and issubclass(kind, BaseModel):
            groups[name] = tuple(kind.model_fields)
    return groups


def setting_names() -> dict[str, str]:
    """Every setting as `public_dict` names it (`smtp_host`, `world.users`) → its env variable."""
    groups = _groups()
    names: dict[str, str] = {}
    for name in Settings.model_fields:
        if name in groups:
            env_group = f"{ENV_PREFIX}{name.upper()}{NESTED_DELIMITER}"
            for sub in groups[name]:
                names[f"{name}.{sub}"] = f"{env_group}{sub.upper()}"
        else:
            names[name] = f"{ENV_PREFIX}{name.upper()}"
    return names


def get_settings(**overrides: Any) -> Settings:
    """Build settings at call time, so tests and CLI options can change the environment first."""
    return Settings(**overrides)


def smtp_config(settings: Settings) -> SmtpConfig:
    """Mail settings for `monitoring.mail`, which never reads Settings itself (so it can be used
    and tested with a config object alone)."""
    import ssl

    from monitoring.mail import SmtpConfig

    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        sender=settings.smtp_sender,
        recipients=tuple(settings.smtp_recipients),
        starttls=settings.smtp_starttls,
        timeout_s=settings.smtp_timeout_s,
        tls_context=(
            ssl.create_default_context(cafile=str(settings.mail_tls_ca_file))
            if settings.mail_tls_ca_file
            else None
        ),
    )


def drift_thresholds(settings: Settings) -> DriftThresholds:
    """Drift thresholds for `monitoring.drift`, which never reads Settings itself. Imported
    lazily: the drift module loads numpy and pandas, which reading settings should not."""
    from monitoring.drift import DriftThresholds

    return DriftThresholds(
        column=settings.drift_column_threshold,
        share=settings.drift_share_threshold,
        min_rows=settings.drift_min_rows,
        permutations=settings.drift_permutations,
        null_quantile=settings.drift_null_quantile,
        share_points=settings.drift_alert_share_points,
        mean_shift_sd=settings.drift_alert_mean_shift_sd,
        key_fraction=settings.drift_key_effect_fraction,
    )


def policy_config(settings: Settings) -> PolicyConfig:
    """The re-engagement policy's configuration: `PolicyConfig` from the settings named
    `reengage_<field>` when they exist, else its defaults (tests/flows/test_settings.py holds
    the two sets of defaults together). Imported lazily: the policy pulls in pandas, and every
    command reads the settings."""
    from ml.audience.policy import PolicyConfig

    return PolicyConfig.from_mapping(settings.public_dict(), prefix="reengage_")


def _env_names(environ: Mapping[str, str]) -> set[str]:
    """`TASTEMAKER_*` names present, upper-cased (pydantic-settings matches them case-blind)."""
    return {k.upper() for k in environ if k.upper().startswith(ENV_PREFIX)}


def _config_keys(config: Path | None) -> set[str]:
    """Keys set in the TOML file, a table's keys as `table.key` (the `public_dict` names)."""
    if config is None:
        return set()
    try:
        with config.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return set()
    keys: set[str] = set()
    for key, value in data.items():
        if isinstance(value, dict):
            keys |= {f"{key}.{sub}" for sub in value}
        else:
            keys.add(key)
    return keys


def _group_set_elsewhere(group: str, env: set[str], in_file: set[str]) -> bool:
    """Whether the environment or the file set some field of `group` (pydantic then counts the
    whole group as set, which says nothing about its other fields)."""
    prefix = f"{ENV_PREFIX}{group.upper()}{NESTED_DELIMITER}"
    return any(e.startswith(prefix) for e in env) or any(k.startswith(f"{group}.") for k in in_file)


def setting_sources(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Where each value of `settings.public_dict()` came from, for `tastemaker config`.

    One of `env TASTEMAKER_X`, `file <config path>`, `argument`, `default`, an entry of
    `overrides` (e.g. `{"home": "option --home"}` from the command line), or for the derived
    paths the setting they follow. The precedence is the one `Settings` applies: arguments and
    environment over the config file over the defaults. Only names are reported, never values,
    so secrets stay masked.
    """
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    env = _env_names(environ)
    config = _config_file()
    in_file = _config_keys(config)
    sources: dict[str, str] = {}
    for name, env_name in setting_names().items():
        group = name.split(".")[0]
        if name in overrides:
            sources[name] = overrides[name]
        elif env_name in env:
            sources[name] = f"env {env_name}"
        elif name in in_file:
            sources[name] = f"file {config}"
        elif group in settings.model_fields_set and not (
            "." in name and _group_set_elsewhere(group, env, in_file)
        ):
            sources[name] = "argument"
        else:
            sources[name] = "default"
    for derived, explicit in (("warehouse_path", "duckdb_path"), ("landing_path", "landing_dir")):
        if getattr(settings, explicit) is not None:
            sources[derived] = f"{explicit} ({sources[explicit]})"
        else:
            sources[derived] = f"home ({sources['home']})"
    return sources


def unknown_setting_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One message per `TASTEMAKER_*` variable (or config-file key) that matches no setting.

    pydantic-settings ignores them silently (`extra="ignore"`), so a typo such as
    `TASTEMAKER_SMTP_HOTS` would leave mail going to the outbox with no hint why; each message
    names the closest setting instead. Values are never included (one may be a secret)."""
    environ = os.environ if environ is None else environ
    names = setting_names()
    fields = list(names)
    # a whole group may also be given as JSON (`TASTEMAKER_WORLD='{"users": 500}'`)
    env_fields = set(names.values()) | {f"{ENV_PREFIX}{group.upper()}" for group in _groups()}

    def closest(name: str, candidates: list[str]) -> str:
        match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.0)
        return match[0] if match else candidates[0]

    messages = []
    for env_name in sorted(_env_names(environ) - env_fields - EXTRA_ENV):
        guess = closest(env_name, sorted(names.values()))
        messages.append(f"{env_name} matches no setting and is ignored; did you mean {guess}?")
    try:
        config = _config_file()
    except FileNotFoundError:
        config = None  # loading the settings reports it
    for key in sorted(_config_keys(config) - set(fields)):
        messages.append(
            f"{config}: key {key!r} matches no setting and is ignored; did you mean "
            f"{closest(key, fields)!r}? (a group's fields go in a table: [world] users = 500)"
        )
    return messages
