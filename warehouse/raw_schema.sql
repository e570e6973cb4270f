-- The `raw` schema: landing files after ingest, typed but otherwise untouched.
-- Owned by warehouse/ingest.py (the only writer); read by dbt sources (dbt_project/models/staging).
-- Every timestamp arrives as ISO-8601 with a zone. We keep two columns for it:
--   <name>       TIMESTAMP  the instant in UTC (zone dropped after conversion)
--   <name>_local TIMESTAMP  the wall-clock time the viewer saw (the given offset applied), for hour-of-day features
-- Lineage columns on every table: _source_file (path as given), _source_line (1-based line in the file;
-- for CSV the header is line 1), _ingested_at (UTC), _batch_id.
create schema if not exists raw;

create table if not exists raw.titles (
    title_id        varchar not null primary key,
    title           varchar not null,
    kind            varchar not null,      -- movie | series
    genres          varchar,               -- pipe-separated, as landed
    release_date    date,
    runtime_minutes integer,               -- movie length, or typical episode length for series
    seasons         integer,               -- null for movies
    maturity_rating varchar,
    country         varchar,
    language        varchar,
    director        varchar,
    "cast"          varchar,               -- pipe-separated
    synopsis        varchar,
    _source_file varchar not null, _source_line bigint not null, _ingested_at timestamp not null, _batch_id varchar not null
);

create table if not exists raw.users (
    user_id      varchar not null primary key,
    signup_date  date not null,
    country      varchar,
    plan         varchar,
    age_band     varchar,
    _source_file varchar not null, _source_line bigint not null, _ingested_at timestamp not null, _batch_id varchar not null
);

create table if not exists raw.views (
    event_id          varchar not null primary key,
    user_id           varchar not null,
    title_id          varchar not null,
    device            varchar not null,   -- tv | mobile | tablet | web
    started_at        timestamp not null, -- UTC
    started_at_local  timestamp not null, -- viewer's wall clock
    watch_seconds     integer not null,   -- >= 0
    duration_seconds  integer not null,   -- > 0: length of the movie or episode
    _source_file varchar not null, _source_line bigint not null, _ingested_at timestamp not null, _batch_id varchar not null
);

create table if not exists raw.ratings (
    user_id        varchar not null,
    title_id       varchar not null,
    rated_at       timestamp not null,
    rated_at_local timestamp not null,
    rating         double not null,      -- 0.5 .. 5
    _source_file varchar not null, _source_line bigint not null, _ingested_at timestamp not null, _batch_id varchar not null,
    primary key (user_id, title_id, rated_at)
);

create table if not exists raw.subscriptions (
    user_id           varchar not null,
    event             varchar not null,  -- signup | cancel | reactivate | plan_change
    occurred_at       timestamp not null,
    occurred_at_local timestamp not null,
    plan              varchar,
    monthly_price     double,
    _source_file varchar not null, _source_line bigint not null, _ingested_at timestamp not null, _batch_id varchar not null,
    primary key (user_id, event, occurred_at)
);

create table if not exists raw.exposures (
    event_id       varchar not null primary key,
    experiment_id  varchar not null,
    variant        varchar not null,
    user_id        varchar not null,
    title_id       varchar not null,
    shown_at       timestamp not null,
    shown_at_local timestamp not null,
    clicked        boolean not null,
    _source_file varchar not null, _source_line bigint not null, _ingested_at timestamp not null, _batch_id varchar not null
);

-- Logged re-engagement decisions (randomized: propensity = P(this action) under the logging policy),
-- including control rows with action 'none'.
create table if not exists raw.nudges (
    event_id       varchar not null primary key,
    user_id        varchar not null,
    campaign_id    varchar not null,
    sent_at        timestamp not null,
    sent_at_local  timestamp not null,
    action         varchar not null,   -- none | email | push | discount | teaser
    propensity     double not null,    -- in (0, 1]
    title_id       varchar,            -- the teaser's title; null for other actions
    _source_file varchar not null, _source_line bigint not null, _ingested_at timestamp not null, _batch_id varchar not null
);

create table if not exists raw.opt_outs (
    user_id             varchar not null,
    channel             varchar not null,  -- email | push | all
    opted_out_at        timestamp not null,
    opted_out_at_local  timestamp not null,
    _source_file varchar not null, _source_line bigint not null, _ingested_at timestamp not null, _batch_id varchar not null,
    primary key (user_id, channel)
);

-- Rows that could not be loaded, with where they came from and why. Nothing is silently dropped.
create table if not exists raw.quarantine (
    batch_id     varchar not null,
    entity       varchar not null,
    source_file  varchar not null,
    source_line  bigint not null,
    reason       varchar not null,
    record       varchar,              -- the row as landed (JSON text or CSV line)
    quarantined_at timestamp not null     -- first seen
);
-- Late data (warehouse/ingest.py, readmit_waiting): a row whose only fault is an unknown user or
-- title waits for that dimension and is retried when one lands. Added with `if not exists` so a
-- warehouse created before them gains them.
alter table raw.quarantine add column if not exists waiting_for varchar;          -- users | titles | users+titles; null: a real fault
alter table raw.quarantine add column if not exists header varchar;               -- the CSV header, to parse a waiting row again
alter table raw.quarantine add column if not exists retried_at timestamp;         -- last retry
alter table raw.quarantine add column if not exists readmitted_at timestamp;      -- loaded into raw then (once)
alter table raw.quarantine add column if not exists readmitted_batch_id varchar;  -- by that batch

-- One row per file ingested (by content hash), so re-landing a file is a no-op.
create table if not exists raw.ingested_files (
    batch_id      varchar not null,
    entity        varchar not null,
    source_file   varchar not null,
    sha256        varchar not null,
    rows_read     bigint not null,
    rows_loaded   bigint not null,
    rows_duplicate bigint not null,
    rows_quarantined bigint not null,
    ingested_at   timestamp not null
);
