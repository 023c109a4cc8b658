-- When each token was last used (epoch ms), recorded in batches at most
-- once per flush interval per replica; NULL until its first use.
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;

-- The custom roles a team holds; its members get them. Like the member and
-- token holdings, it does not cascade from custom_roles: a role a team
-- holds cannot be deleted.
CREATE TABLE team_custom_roles (
    team_key   TEXT NOT NULL REFERENCES teams(key) ON DELETE CASCADE,
    role_id    TEXT NOT NULL REFERENCES custom_roles(id),
    position   BIGINT NOT NULL,
    applied_at BIGINT NOT NULL,
    PRIMARY KEY (team_key, role_id)
);
CREATE INDEX team_custom_roles_role ON team_custom_roles(role_id);
