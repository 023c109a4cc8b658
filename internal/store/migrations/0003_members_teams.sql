-- The members and teams API. Same DDL on SQLite and PostgreSQL.

-- team_maintainers holds the maintainTeam permission grants: the members
-- who maintain a team, whether or not they belong to it.
CREATE TABLE team_maintainers (
    team_key   TEXT NOT NULL REFERENCES teams(key) ON DELETE CASCADE,
    member_id  TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team_key, member_id)
);
CREATE INDEX team_maintainers_member ON team_maintainers(member_id);

-- Emails are unique ignoring case: Ariel@example.com and ariel@example.com
-- are one person.
CREATE UNIQUE INDEX members_email_lower ON members(lower(email));
CREATE INDEX members_created ON members(created_at, id);
CREATE INDEX teams_created ON teams(created_at, key);
