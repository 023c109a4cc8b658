-- Experiments with iterations, and guarded rollouts, written through the
-- API. The tables of 0001 stay what metric usage is computed from:
-- experiments.status is the status of the current iteration and
-- experiment_metrics lists, per iteration, the metrics and groups it uses
-- (and, once it started, the metrics its groups held then). Same DDL on
-- SQLite and PostgreSQL.
ALTER TABLE experiments ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE experiments ADD COLUMN maintainer_id TEXT;
ALTER TABLE experiments ADD COLUMN holdout_id TEXT NOT NULL DEFAULT '';
ALTER TABLE experiments ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE experiments ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE experiments ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
-- current_iteration_id is the iteration whose status experiments.status
-- mirrors; NULL for rows written before iterations existed.
ALTER TABLE experiments ADD COLUMN current_iteration_id TEXT;
CREATE INDEX experiments_env_created ON experiments(environment_id, created_at, id);
CREATE INDEX experiments_project ON experiments(project_id);
CREATE INDEX experiments_flag ON experiments(environment_id, flag_key);

-- def is the iteration's normalised input as JSON; pins the metric (and
-- group) versions recorded when it started.
CREATE TABLE experiment_iterations (
    id                   TEXT PRIMARY KEY,
    experiment_id        TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    number               BIGINT NOT NULL,
    status               TEXT NOT NULL,
    def                  TEXT NOT NULL,
    pins                 TEXT,
    winning_treatment_id TEXT NOT NULL DEFAULT '',
    winning_reason       TEXT NOT NULL DEFAULT '',
    created_at           BIGINT NOT NULL,
    started_at           BIGINT,
    ended_at             BIGINT,
    UNIQUE (experiment_id, number)
);

-- iteration_id is NULL for rows written before iterations existed; such a
-- row counts for the experiment's current iteration.
ALTER TABLE experiment_metrics ADD COLUMN iteration_id TEXT;
CREATE INDEX experiment_metrics_iteration ON experiment_metrics(iteration_id);

ALTER TABLE guarded_rollouts ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE guarded_rollouts ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX guarded_rollouts_flag ON guarded_rollouts(environment_id, flag_key, created_at);
CREATE INDEX guarded_rollout_metrics_rollout ON guarded_rollout_metrics(rollout_id);
ALTER TABLE guarded_rollout_metrics ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
-- An environment runs at most one monitoring rollout per flag.
CREATE UNIQUE INDEX guarded_rollouts_one_active ON guarded_rollouts(environment_id, flag_key) WHERE status = 'monitoring';
