-- The same DDL runs on SQLite and PostgreSQL: BOOLEAN, BIGINT, TEXT and
-- BYTEA are understood by both. Times are epoch milliseconds.
CREATE TABLE members (
    id         TEXT PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL DEFAULT '',
    last_name  TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    hash       BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX tokens_member ON tokens(member_id);

CREATE TABLE projects (
    id                   TEXT PRIMARY KEY,
    key                  TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    tags                 TEXT NOT NULL,
    -- metrics_generation changes with every write that can change which
    -- metrics or metric groups a list filter matches; list counts are
    -- cached against it.
    metrics_generation   BIGINT NOT NULL DEFAULT 0,
    include_in_snippet   BOOLEAN NOT NULL,
    using_mobile_key     BOOLEAN NOT NULL,
    using_environment_id BOOLEAN NOT NULL,
    created_at           BIGINT NOT NULL
);

CREATE TABLE environments (
    id                   TEXT PRIMARY KEY,
    project_id           TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    key                  TEXT NOT NULL,
    name                 TEXT NOT NULL,
    color                TEXT NOT NULL,
    api_key              TEXT NOT NULL,
    mobile_key           TEXT NOT NULL,
    default_ttl          BIGINT NOT NULL,
    secure_mode          BOOLEAN NOT NULL,
    default_track_events BOOLEAN NOT NULL,
    require_comments     BOOLEAN NOT NULL,
    confirm_changes      BOOLEAN NOT NULL,
    critical             BOOLEAN NOT NULL,
    tags                 TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    UNIQUE (project_id, key)
);

-- metrics holds the head of each metric: the columns lists filter and sort
-- on, kept narrow so that scans stay cheap. The definition itself lives in
-- metric_versions, joined by version_id.
CREATE TABLE metrics (
    id                    TEXT PRIMARY KEY,
    project_id            TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    key                   TEXT NOT NULL,
    key_lower             TEXT NOT NULL,
    kind                  TEXT NOT NULL,
    version               BIGINT NOT NULL,
    version_id            TEXT NOT NULL,
    name                  TEXT NOT NULL,
    name_lower            TEXT NOT NULL,
    is_numeric            BOOLEAN NOT NULL,
    unit_aggregation_type TEXT NOT NULL,
    maintainer_id         TEXT REFERENCES members(id),
    maintainer_team_key   TEXT,
    data_source_key       TEXT NOT NULL,
    archived_at           BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    UNIQUE (project_id, key)
);
CREATE INDEX metrics_created ON metrics(project_id, created_at, id);
CREATE INDEX metrics_name ON metrics(project_id, name_lower, id);
CREATE INDEX metrics_kind ON metrics(project_id, kind, created_at, id);
CREATE INDEX metrics_maintainer ON metrics(maintainer_id);
CREATE INDEX metrics_team ON metrics(project_id, maintainer_team_key);
CREATE INDEX metrics_data_source ON metrics(project_id, data_source_key);

CREATE TABLE metric_tags (
    metric_id  TEXT NOT NULL REFERENCES metrics(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    tag        TEXT NOT NULL,
    PRIMARY KEY (metric_id, tag)
);
CREATE INDEX metric_tags_tag ON metric_tags(project_id, tag, metric_id);

-- metric_versions keeps every version, the current one included.
CREATE TABLE metric_versions (
    version_id          TEXT PRIMARY KEY,
    metric_id           TEXT NOT NULL REFERENCES metrics(id) ON DELETE CASCADE,
    version             BIGINT NOT NULL,
    maintainer_id       TEXT,
    maintainer_team_key TEXT,
    archived_at         BIGINT,
    def                 TEXT NOT NULL,
    comment             TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    UNIQUE (metric_id, version)
);

-- Resources that refer to metrics. Metric usage counters and expansions are
-- computed from them.
CREATE TABLE metric_groups (
    id                  TEXT PRIMARY KEY,
    project_id          TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    key                 TEXT NOT NULL,
    name                TEXT NOT NULL,
    name_lower          TEXT NOT NULL,
    key_lower           TEXT NOT NULL,
    kind                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    tags                TEXT NOT NULL DEFAULT '[]',
    maintainer_id       TEXT REFERENCES members(id),
    maintainer_team_key TEXT,
    version             BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (project_id, key)
);
CREATE INDEX metric_groups_created ON metric_groups(project_id, created_at, id);
CREATE INDEX metric_groups_name ON metric_groups(project_id, name_lower, id);
CREATE INDEX metric_groups_maintainer ON metric_groups(maintainer_id);
CREATE INDEX metric_groups_team ON metric_groups(project_id, maintainer_team_key);
-- A project has at most one guardrail group.
CREATE UNIQUE INDEX metric_groups_one_guardrail ON metric_groups(project_id) WHERE kind = 'guardrail';

CREATE TABLE metric_group_metrics (
    group_id      TEXT NOT NULL REFERENCES metric_groups(id) ON DELETE CASCADE,
    position      BIGINT NOT NULL,
    metric_id     TEXT NOT NULL REFERENCES metrics(id),
    name_in_group TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (group_id, position)
);
CREATE INDEX metric_group_metrics_metric ON metric_group_metrics(metric_id);

CREATE TABLE experiments (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,
    flag_key       TEXT NOT NULL DEFAULT '',
    flag_name      TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    archived_at    BIGINT,
    UNIQUE (environment_id, key)
);

CREATE TABLE experiment_metrics (
    experiment_id   TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    metric_id       TEXT REFERENCES metrics(id),
    metric_group_id TEXT REFERENCES metric_groups(id)
);
CREATE INDEX experiment_metrics_metric ON experiment_metrics(metric_id);
CREATE INDEX experiment_metrics_group ON experiment_metrics(metric_group_id);
CREATE INDEX experiment_metrics_experiment ON experiment_metrics(experiment_id);

CREATE TABLE guarded_rollouts (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    flag_key       TEXT NOT NULL,
    flag_name      TEXT NOT NULL,
    flag_purpose   TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE guarded_rollout_metrics (
    rollout_id      TEXT NOT NULL REFERENCES guarded_rollouts(id) ON DELETE CASCADE,
    metric_id       TEXT REFERENCES metrics(id),
    metric_group_id TEXT REFERENCES metric_groups(id)
);
CREATE INDEX guarded_rollout_metrics_metric ON guarded_rollout_metrics(metric_id);
CREATE INDEX guarded_rollout_metrics_group ON guarded_rollout_metrics(metric_group_id);

CREATE TABLE metric_event_sources (
    metric_id TEXT NOT NULL REFERENCES metrics(id) ON DELETE CASCADE,
    source    TEXT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (metric_id, source)
);

CREATE TABLE views (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    name       TEXT NOT NULL,
    UNIQUE (project_id, key)
);

CREATE TABLE view_metrics (
    view_id   TEXT NOT NULL REFERENCES views(id) ON DELETE CASCADE,
    metric_id TEXT NOT NULL REFERENCES metrics(id) ON DELETE CASCADE,
    PRIMARY KEY (view_id, metric_id)
);
CREATE INDEX view_metrics_metric ON view_metrics(metric_id);
