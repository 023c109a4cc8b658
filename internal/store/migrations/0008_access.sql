-- Access control: what a token may do (a base role, custom roles or an
-- inline policy), custom roles, and the custom roles members hold.
ALTER TABLE tokens ADD COLUMN description TEXT NOT NULL DEFAULT '';
-- role is the token's base role; '' means "its member's permissions", as
-- for tokens made before tokens had roles (the bootstrap admin token).
ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT '';
-- inline_role is a JSON array of policy statements.
ALTER TABLE tokens ADD COLUMN inline_role TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tokens ADD COLUMN service_token BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tokens ADD COLUMN default_api_version BIGINT NOT NULL DEFAULT 0;
-- ending is the last four characters of the value, all a token shows
-- after it was created or reset.
ALTER TABLE tokens ADD COLUMN ending TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
-- A reset may keep the previous value valid until old_expires_at.
ALTER TABLE tokens ADD COLUMN old_hash BYTEA;
ALTER TABLE tokens ADD COLUMN old_expires_at BIGINT;
CREATE UNIQUE INDEX tokens_old_hash ON tokens(old_hash);

CREATE TABLE custom_roles (
    id               TEXT PRIMARY KEY,
    key              TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    -- policy is a JSON array of statements.
    policy           TEXT NOT NULL,
    base_permissions TEXT NOT NULL,
    version          BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- Neither table cascades from custom_roles: a role in use cannot be
-- deleted (the service says by whom it is used).
CREATE TABLE member_custom_roles (
    member_id TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    role_id   TEXT NOT NULL REFERENCES custom_roles(id),
    position  BIGINT NOT NULL,
    PRIMARY KEY (member_id, role_id)
);
CREATE INDEX member_custom_roles_role ON member_custom_roles(role_id);

CREATE TABLE token_custom_roles (
    token_id TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    role_id  TEXT NOT NULL REFERENCES custom_roles(id),
    position BIGINT NOT NULL,
    PRIMARY KEY (token_id, role_id)
);
CREATE INDEX token_custom_roles_role ON token_custom_roles(role_id);
