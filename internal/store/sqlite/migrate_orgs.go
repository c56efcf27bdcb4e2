package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// schemaOrgs makes organisations (DESIGN.md, "Organisations"): the table
// orgs, and an org_id in every table whose rows belong to one, with the
// keys that were unique in the store now unique in an organisation.
// SQLite cannot change a table's keys: each table is made anew, its rows
// copied into the system organisation with their ids, the old one dropped
// and the new one renamed, as https://sqlite.org/lang_altertable.html#otheralter
// gives, with foreign keys off (Migrate turns them off around the
// migrations and checks them all before it commits). The tables reached
// only through a user or a project (links, tokens, sessions, notices,
// memberships, outcomes) keep their rows and their keys.
//
// Foreign keys that name both a user and its organisation (user_links,
// user_roles) refer to users (id, org_id): a user holds only the roles
// of its own organisation.
const schemaOrgs = `
CREATE TABLE orgs (
	id         INTEGER PRIMARY KEY,
	slug       TEXT NOT NULL UNIQUE,
	name       TEXT NOT NULL,
	status     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
	created_at INTEGER NOT NULL
);

CREATE TABLE users_new (
	id                         INTEGER PRIMARY KEY,
	org_id                     INTEGER NOT NULL REFERENCES orgs (id),
	email                      TEXT NOT NULL,
	email_key                  TEXT NOT NULL,
	username                   TEXT,
	username_key               TEXT,
	name                       TEXT NOT NULL DEFAULT '',
	name_key                   TEXT NOT NULL DEFAULT '',
	status                     TEXT NOT NULL CHECK (status IN ('invited', 'active', 'deactivated')),
	password_hash              TEXT,
	must_change_password       INTEGER NOT NULL DEFAULT 0,
	created_at                 INTEGER NOT NULL,
	updated_at                 INTEGER NOT NULL,
	last_login_at              INTEGER,
	last_login_method          TEXT NOT NULL DEFAULT '',
	deactivated_at             INTEGER,
	deactivated_reason         TEXT NOT NULL DEFAULT '',
	status_before_deactivation TEXT NOT NULL DEFAULT 'active',
	UNIQUE (org_id, email_key),
	UNIQUE (org_id, username_key),
	UNIQUE (id, org_id)
);
INSERT INTO users_new (id, org_id, email, email_key, username, username_key, name, name_key, status, password_hash,
		must_change_password, created_at, updated_at, last_login_at, last_login_method, deactivated_at,
		deactivated_reason, status_before_deactivation)
	SELECT id, 1, email, email_key, username, username_key, name, name_key, status, password_hash,
		must_change_password, created_at, updated_at, last_login_at, last_login_method, deactivated_at,
		deactivated_reason, status_before_deactivation FROM users;

CREATE TABLE user_links_new (
	user_id INTEGER NOT NULL,
	org_id  INTEGER NOT NULL,
	kind    TEXT NOT NULL,
	value   TEXT NOT NULL,
	PRIMARY KEY (org_id, kind, value),
	UNIQUE (user_id, kind),
	FOREIGN KEY (user_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE
);
INSERT INTO user_links_new (user_id, org_id, kind, value) SELECT user_id, 1, kind, value FROM user_links;

CREATE TABLE permissions_new (
	org_id      INTEGER NOT NULL REFERENCES orgs (id),
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	builtin     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, name)
);
INSERT INTO permissions_new (org_id, name, description, builtin) SELECT 1, name, description, builtin FROM permissions;

CREATE TABLE permission_implies_new (
	org_id     INTEGER NOT NULL,
	permission TEXT NOT NULL,
	implies    TEXT NOT NULL,
	PRIMARY KEY (org_id, permission, implies),
	FOREIGN KEY (org_id, permission) REFERENCES permissions (org_id, name) ON DELETE CASCADE,
	FOREIGN KEY (org_id, implies) REFERENCES permissions (org_id, name)
);
INSERT INTO permission_implies_new (org_id, permission, implies) SELECT 1, permission, implies FROM permission_implies;

CREATE TABLE roles_new (
	org_id          INTEGER NOT NULL REFERENCES orgs (id),
	name            TEXT NOT NULL,
	description     TEXT NOT NULL DEFAULT '',
	builtin         INTEGER NOT NULL DEFAULT 0,
	all_permissions INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, name)
);
INSERT INTO roles_new (org_id, name, description, builtin, all_permissions)
	SELECT 1, name, description, builtin, all_permissions FROM roles;

CREATE TABLE role_permissions_new (
	org_id     INTEGER NOT NULL,
	role       TEXT NOT NULL,
	permission TEXT NOT NULL,
	PRIMARY KEY (org_id, role, permission),
	FOREIGN KEY (org_id, role) REFERENCES roles (org_id, name) ON DELETE CASCADE,
	FOREIGN KEY (org_id, permission) REFERENCES permissions (org_id, name)
);
INSERT INTO role_permissions_new (org_id, role, permission) SELECT 1, role, permission FROM role_permissions;

CREATE TABLE user_roles_new (
	user_id INTEGER NOT NULL,
	org_id  INTEGER NOT NULL,
	role    TEXT NOT NULL,
	PRIMARY KEY (user_id, role),
	FOREIGN KEY (user_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE,
	FOREIGN KEY (org_id, role) REFERENCES roles (org_id, name)
) WITHOUT ROWID;
INSERT INTO user_roles_new (user_id, org_id, role) SELECT user_id, 1, role FROM user_roles;

CREATE TABLE projects_new (
	id          INTEGER PRIMARY KEY,
	org_id      INTEGER NOT NULL REFERENCES orgs (id),
	slug        TEXT NOT NULL,
	name        TEXT NOT NULL DEFAULT '',
	archived_at INTEGER,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	UNIQUE (org_id, slug)
);
INSERT INTO projects_new (id, org_id, slug, name, archived_at, created_at, updated_at)
	SELECT id, 1, slug, name, archived_at, created_at, updated_at FROM projects;

CREATE TABLE settings_new (
	org_id INTEGER NOT NULL REFERENCES orgs (id),
	key    TEXT NOT NULL,
	value  TEXT NOT NULL,
	PRIMARY KEY (org_id, key)
);
INSERT INTO settings_new (org_id, key, value) SELECT 1, key, value FROM settings;

CREATE TABLE audit_new (
	id        INTEGER PRIMARY KEY,
	org_id    INTEGER NOT NULL REFERENCES orgs (id),
	at        INTEGER NOT NULL,
	actor     TEXT NOT NULL,
	actor_id  INTEGER,
	via       TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL DEFAULT '',
	target_id INTEGER,
	details   TEXT NOT NULL DEFAULT '{}'
);
INSERT INTO audit_new (id, org_id, at, actor, actor_id, via, action, target, target_id, details)
	SELECT id, 1, at, actor, actor_id, via, action, target, target_id, details FROM audit;

DROP TABLE user_roles;
DROP TABLE role_permissions;
DROP TABLE permission_implies;
DROP TABLE roles;
DROP TABLE permissions;
DROP TABLE user_links;
DROP TABLE users;
DROP TABLE projects;
DROP TABLE settings;
DROP TABLE audit;
ALTER TABLE users_new RENAME TO users;
ALTER TABLE user_links_new RENAME TO user_links;
ALTER TABLE permissions_new RENAME TO permissions;
ALTER TABLE permission_implies_new RENAME TO permission_implies;
ALTER TABLE roles_new RENAME TO roles;
ALTER TABLE role_permissions_new RENAME TO role_permissions;
ALTER TABLE user_roles_new RENAME TO user_roles;
ALTER TABLE projects_new RENAME TO projects;
ALTER TABLE settings_new RENAME TO settings;
ALTER TABLE audit_new RENAME TO audit;

CREATE INDEX users_status ON users (org_id, status, email_key);
CREATE INDEX permission_implies_implies ON permission_implies (org_id, implies);
CREATE INDEX role_permissions_permission ON role_permissions (org_id, permission);
CREATE INDEX user_roles_role ON user_roles (org_id, role, user_id);
CREATE INDEX audit_org ON audit (org_id, id);
CREATE INDEX audit_actor_id ON audit (actor_id) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_target_id ON audit (target_id) WHERE target_id IS NOT NULL;
CREATE INDEX audit_at ON audit (at);
-- Deleting a user sets created_by of the links they made to NULL: without
-- an index, each deletion read every link, and deleting an organisation
-- deletes all its users.
CREATE INDEX links_created_by ON links (created_by) WHERE created_by IS NOT NULL;
`

// addOrgs is the migration to organisations: schemaOrgs, the system
// organisation (named as the store's org.name setting named it), its
// permissions orgs.view and orgs.manage, and the locked role developer,
// unless a custom role of that name is there: that one keeps its name
// and permissions, and an audit event says the store has no locked
// developer role.
func addOrgs(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, schemaOrgs+catalogTriggers()); err != nil {
		return err
	}
	now := micros(time.Now())
	if _, err := tx.ExecContext(ctx, `INSERT INTO orgs (id, slug, name, status, created_at) VALUES (?, 'default',
		COALESCE((SELECT value FROM settings WHERE org_id = ? AND key = 'org.name' AND value != ''), 'default'), 'active', ?)`,
		store.SystemOrg, store.SystemOrg, now); err != nil {
		return err
	}
	for _, p := range roster.SystemPermissions {
		var builtin bool
		err := tx.QueryRowContext(ctx, `SELECT builtin FROM permissions WHERE org_id = ? AND name = ?`, store.SystemOrg, p.Name).Scan(&builtin)
		if err == nil {
			// Taking a custom permission over would make whoever holds it
			// a system administrator.
			return roster.Errorf(roster.ErrConflict, "the store has a permission %s of its own, the name of a permission of system administrators", p.Name).
				WithHint("with the roster that made the store, remove it from every role and delete it (roster permission delete), then migrate again")
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	if err := seedPermissions(ctx, tx, store.SystemOrg, roster.SystemPermissions); err != nil {
		return err
	}
	var builtin bool
	err := tx.QueryRowContext(ctx, `SELECT builtin FROM roles WHERE org_id = ? AND name = ?`, store.SystemOrg, roster.RoleDeveloper).Scan(&builtin)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		for _, r := range roster.BuiltinRoles {
			if r.Name == roster.RoleDeveloper {
				return seedRole(ctx, tx, store.SystemOrg, r)
			}
		}
		return nil
	case err != nil:
		return err
	case builtin:
		return nil
	}
	details, err := json.Marshal(map[string]any{
		"role":    roster.RoleDeveloper,
		"message": "the custom role developer was kept, with its permissions; this store has no locked developer role",
	})
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit (org_id, at, actor, via, action, target, details)
		VALUES (?, ?, 'roster', 'migrate', 'store.migrate', ?, ?)`, store.SystemOrg, now, "role "+roster.RoleDeveloper, string(details))
	if err != nil {
		return fmt.Errorf("record the custom role developer: %w", err)
	}
	return nil
}

// orgsVersion is the schema version that made organisations.
const orgsVersion = 14

// orgProblems checks what each organisation must hold: the system
// organisation is there; every organisation has roster's permissions and
// the locked roles (the system one may keep a custom role named
// developer, made before developer was locked), and only the system
// organisation has the permissions of system administrators; no
// membership joins a user and a project of two organisations.
func (db *DB) orgProblems(ctx context.Context) ([]string, error) {
	var version int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil || version < orgsVersion {
		return nil, err
	}
	t := &Tx{txShared: &txShared{q: db.sql, stmts: db.stmts}}
	orgs, err := t.Orgs(ctx)
	if err != nil {
		return nil, err
	}
	var problems []string
	if !slices.ContainsFunc(orgs, func(o store.OrgRow) bool { return o.System }) {
		problems = append(problems, "the system organisation is missing")
	}
	for _, o := range orgs {
		builtin := func(table string) (map[string]bool, error) {
			names := map[string]bool{}
			err := t.eachPair(ctx, `SELECT name, builtin FROM `+table+` WHERE org_id = ?`, func(name, b string) { names[name] = b == "1" }, o.ID)
			return names, err
		}
		roles, err := builtin("roles")
		if err != nil {
			return nil, err
		}
		perms, err := builtin("permissions")
		if err != nil {
			return nil, err
		}
		for _, r := range roster.BuiltinRoles {
			locked, ok := roles[r.Name]
			if !ok || !locked && !(o.System && r.Name == roster.RoleDeveloper) {
				problems = append(problems, fmt.Sprintf("organisation %s has no locked role %s", o.Slug, r.Name))
			}
		}
		for _, p := range roster.OrgPermissions(o.System) {
			if !perms[p.Name] {
				problems = append(problems, fmt.Sprintf("organisation %s lacks the permission %s", o.Slug, p.Name))
			}
		}
		if !o.System {
			for _, p := range roster.SystemPermissions {
				if _, ok := perms[p.Name]; ok {
					problems = append(problems, fmt.Sprintf("organisation %s has %s, which only the system organisation may have", o.Slug, p.Name))
				}
			}
		}
	}
	mixed, err := t.strings(ctx, `SELECT users.email || ' in ' || projects.slug FROM memberships
		JOIN users ON users.id = memberships.user_id JOIN projects ON projects.id = memberships.project_id
		WHERE users.org_id != projects.org_id ORDER BY memberships.project_id, memberships.user_id`)
	for _, m := range mixed {
		problems = append(problems, "a membership joins two organisations: "+m)
	}
	return problems, err
}
