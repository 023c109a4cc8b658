-- Teams, which can maintain metrics and metric groups. Written with the
-- metric groups work; the members and teams API extends it in later
-- migrations (0003 and up) rather than editing this file.
CREATE TABLE teams (
    key         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE team_members (
    team_key   TEXT NOT NULL REFERENCES teams(key) ON DELETE CASCADE,
    member_id  TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team_key, member_id)
);
CREATE INDEX team_members_member ON team_members(member_id);
