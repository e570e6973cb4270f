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
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ml.audience.policy_config import PolicyConfig
from ml.world.config import WorldConfig
from monitoring.config import DriftConfig, MailConfig, SmtpConfig
from warehouse.ingest_config import TimeRules

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
    e.g. `TASTEMAKER_HOME`, `TASTEMAKER_DATA_DIR`. A group of settings is the config type of the
    code that uses it (the world generator's `WorldConfig`, monitoring's `SmtpConfig`,
    `MailConfig` and `DriftConfig`, the re-engagement policy's `PolicyConfig`), nested here
    rather than copied: its fields are set with `TASTEMAKER_<GROUP>__<FIELD>` (e.g.
    `TASTEMAKER_SMTP__HOST`, `TASTEMAKER_SMTP__RECIPIENTS=a@x.org,b@x.org`) or a `[<group>]`
    table in the TOML file, and their defaults, bounds and descriptions are the config type's
    own. A new setting of such code goes in its config type, not here.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        extra="ignore",
        validate_default=True,
    )

    def __init__(self, **values: Any) -> None:
        """Refuse keyword arguments that are no setting (`Settings(drift_window_days=7)`, a
        name from before the groups): the environment and the file ignore such names with a
        warning, but in code a silently ignored argument would be a test that tests nothing."""
        groups = _groups()
        for name, value in values.items():
            if name.startswith("_"):  # pydantic-settings' own options (`_env_file`, ...)
                continue
            if name not in type(self).model_fields:
                raise TypeError(f"Settings() got {name!r}, which is no setting{_hint(name)}")
            if name in groups and isinstance(value, Mapping):
                for key in value:
                    if key not in groups[name]:
                        raise TypeError(
                            f"Settings() got {name}.{key}, which is no setting{_hint(key)}"
                        )
        super().__init__(**values)

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Settings:
        """pydantic's copy, refusing names that are no setting: `model_copy` validates nothing
        and would keep `drift_key_drivers=0` as a stray attribute that no code reads. A group
        is replaced whole, by its config type (`update={"drift": s.drift.model_copy(...)}`)."""
        for name, value in (update or {}).items():
            if name not in type(self).model_fields:
                raise TypeError(
                    f"Settings.model_copy got {name!r}, which is no setting{_hint(name)}"
                )
            if name in _groups() and isinstance(value, Mapping):
                raise TypeError(f"Settings.model_copy needs {name} as its config type, not a dict")
        return super().model_copy(update=update, deep=deep)

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

    # --- plausibility in time (warehouse/ingest_config.py; docs/data-contract.md) -----------
    ingest: TimeRules = Field(
        default_factory=TimeRules,
        description="The ingest's rules in time (future tolerance, earliest date, session "
        "overlap). Declared in warehouse.ingest_config.TimeRules.",
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

    # --- monitoring: SMTP, mail policy, drift (monitoring/config.py) -----------------------
    smtp: SmtpConfig = Field(
        default_factory=SmtpConfig,
        description="Where and how mail is delivered (server, credentials, STARTTLS); no host: "
        "mail stays in <home>/outbox as .eml. Declared in monitoring.config.SmtpConfig.",
    )
    mail: MailConfig = Field(
        default_factory=MailConfig,
        description="What the monitoring mail sends and when (policy, attachment size, report "
        "links, retries). Declared in monitoring.config.MailConfig.",
    )
    drift: DriftConfig = Field(
        default_factory=DriftConfig,
        description="Drift thresholds, windows, reference and key features. Declared in "
        "monitoring.config.DriftConfig.",
    )

    # --- re-engagement policy (ml/audience/policy_config.py) --------------------------------
    reengage: PolicyConfig = Field(
        default_factory=PolicyConfig,
        description="Thresholds, costs and contact limits of the re-engagement policy (money in "
        "one currency). Declared in ml.audience.policy_config.PolicyConfig.",
    )

    @field_validator("world")
    @classmethod
    def _valid_world(cls, value: WorldConfig) -> WorldConfig:
        """The generator's own checks (sizes within bounds, at least 14 days and titles)."""
        value.validate()
        return value

    @model_validator(mode="before")
    @classmethod
    def _drop_unknown_group_keys(cls, data: Any) -> Any:
        """Leave out keys of a group that match none of its fields (`TASTEMAKER_SMTP__HOTS`).

        The config types refuse unknown fields, so a typo in code fails at once; from the
        environment or the file such a key is warned about by `unknown_setting_warnings` and
        ignored, as an unknown flat name is, rather than failing every command."""
        if not isinstance(data, dict):
            return data
        groups = _groups()
        cleaned = dict(data)
        for group, value in data.items():
            if group in groups and isinstance(value, dict):
                cleaned[group] = {k: v for k, v in value.items() if k in groups[group]}
        return cleaned

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
        sources.append(_StillReadFormerNames(settings_cls, config))
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
            "drift_window_days": self.drift.window_days,
            "future_tolerance_hours": self.ingest.future_tolerance_hours,
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
        if self.smtp.password is not None:
            data["smtp.password"] = "**********"
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
    """Every setting as `public_dict` names it (`home`, `smtp.host`) → its env variable."""
    groups = _groups()
    names: dict[str, str] = {}
    for name in Settings.model_fields:
        for setting in [f"{name}.{sub}" for sub in groups[name]] if name in groups else [name]:
            names[setting] = env_name(setting)
    return names


#: Settings that had another flat name before the groups than `<group>_<field>` (which maps
#: to `<group>.<field>` by rule, e.g. `smtp_host` → `smtp.host`, `drift_window_days` →
#: `drift.window_days`, `reengage_risk_threshold` → `reengage.risk_threshold`).
FORMER_NAMES: dict[str, str] = {
    "mail_tls_ca_file": "smtp.tls_ca_file",
    "reports_base_url": "mail.reports_base_url",
    "future_tolerance_hours": "ingest.future_tolerance_hours",
    "earliest_event_date": "ingest.earliest_event_date",
    "session_overlap_tolerance_s": "ingest.session_overlap_tolerance_s",
}
#: Former names that still set their new setting (with a warning naming it) rather than being
#: ignored: the ingest's time rules decide which rows are quarantined, so a deployment that set
#: `TASTEMAKER_FUTURE_TOLERANCE_HOURS` must not silently quarantine by the default. The new
#: name wins when both are set; the environment wins over the config file, as everywhere.
STILL_READ = frozenset(
    {"future_tolerance_hours", "earliest_event_date", "session_overlap_tolerance_s"}
)


def _former_values(environ: Mapping[str, str], config: Path | None) -> dict[str, tuple[Any, str]]:
    """The `STILL_READ` former names set in the environment or as flat keys of the config
    file: former name → (value, where it was set), the environment first."""
    found: dict[str, tuple[Any, str]] = {}
    env = {k.upper(): (k, v) for k, v in environ.items()}
    file_data: dict[str, Any] = {}
    if config is not None:
        try:
            with config.open("rb") as fh:
                file_data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError):
            file_data = {}
    for name in sorted(STILL_READ):
        variable = ENV_PREFIX + name.upper()
        if variable in env:
            found[name] = (env[variable][1], f"env {variable}")
        elif name in file_data and not isinstance(file_data[name], dict):
            found[name] = (file_data[name], f"file {config}")
    return found


class _StillReadFormerNames(PydanticBaseSettingsSource):
    """Values of the `STILL_READ` former names, placed in their group (`{"ingest": {...}}`),
    below the environment's new names and above the config file (the sources are deep-merged,
    so a group's other fields still come from wherever they are set)."""

    def __init__(self, settings_cls: type[BaseSettings], config: Path | None) -> None:
        super().__init__(settings_cls)
        self.config = config

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ answers for the whole model

    def __call__(self) -> dict[str, Any]:
        data: dict[str, dict[str, Any]] = {}
        for name, (value, _) in _former_values(os.environ, self.config).items():
            group, _, field = FORMER_NAMES[name].partition(".")
            data.setdefault(group, {})[field] = value
        return data


def renamed_to(flat: str) -> str | None:
    """The dotted setting a flat name (`smtp_host`, any case) now is, or None."""
    flat = flat.lower()
    if flat in FORMER_NAMES:
        return FORMER_NAMES[flat]
    for group, fields in _groups().items():
        prefix = f"{group}_"
        if flat.startswith(prefix) and flat[len(prefix) :] in fields:
            return f"{group}.{flat[len(prefix) :]}"
    return None


def _hint(name: str) -> str:
    """`; it is now drift.window_days` for a former flat name, else nothing."""
    new = renamed_to(name)
    return f"; it is now {new}" if new else ""


def env_name(setting: str) -> str:
    """The environment variable of a setting as `public_dict` names it (`smtp.host` →
    `TASTEMAKER_SMTP__HOST`)."""
    return ENV_PREFIX + setting.upper().replace(".", NESTED_DELIMITER)


def get_settings(**overrides: Any) -> Settings:
    """Build settings at call time, so tests and CLI options can change the environment first."""
    return Settings(**overrides)


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
    former = {
        FORMER_NAMES[old]: f"{where} (former name)"
        for old, (_, where) in _former_values(environ, config).items()
    }
    sources: dict[str, str] = {}
    for name, env_name in setting_names().items():
        group = name.split(".")[0]
        if name in overrides:
            sources[name] = overrides[name]
        elif env_name in env:
            sources[name] = f"env {env_name}"
        elif name in former:
            sources[name] = former[name]
        elif name in in_file:
            sources[name] = f"file {config}"
        elif group in settings.model_fields_set and not (
            "." in name
            and (
                _group_set_elsewhere(group, env, in_file)
                or any(n.startswith(f"{group}.") for n in former)
            )
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
    `TASTEMAKER_SMTP__HOTS` would leave mail going to the outbox with no hint why; each message
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
    for unknown in sorted(_env_names(environ) - env_fields - EXTRA_ENV):
        new = renamed_to(unknown.removeprefix(ENV_PREFIX))
        if new is not None and unknown.removeprefix(ENV_PREFIX).lower() in STILL_READ:
            messages.append(
                f"{unknown} is the former name of {new} and still sets it for now; "
                f"use {env_name(new)}"
            )
            continue
        if new is not None:  # a flat name of a group's setting: the exact name, not a guess
            group = new.split(".")[0]
            messages.append(
                f"{unknown} matches no setting and is ignored (the {group} settings are "
                f"{env_name(group)}{NESTED_DELIMITER}<FIELD>); did you mean {env_name(new)}?"
            )
            continue
        guess = closest(unknown, sorted(names.values()))
        messages.append(f"{unknown} matches no setting and is ignored; did you mean {guess}?")
    try:
        config = _config_file()
    except FileNotFoundError:
        config = None  # loading the settings reports it
    for key in sorted(_config_keys(config) - set(fields)):
        new = renamed_to(key) if "." not in key else None
        if new is not None and key.lower() in STILL_READ:
            group, _, field = new.partition(".")
            messages.append(
                f"{config}: key {key!r} is the former name of {new!r} and still sets it for "
                f"now; put it in a table: [{group}] {field} = ..."
            )
            continue
        guess = new or closest(key, fields)
        group, _, field = guess.partition(".")
        table = f"[{group}] {field} = ..." if field else "[smtp] host = ..."
        messages.append(
            f"{config}: key {key!r} matches no setting and is ignored; did you mean "
            f"{guess!r}? (a group's fields go in a table: {table})"
        )
    return messages
