package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// migration i brings the schema from version i to i+1.
type migration func(ctx context.Context, tx *sql.Tx) error

var migrations = []migration{
	execSQL(schemaV1),
	seedCatalog,
	execSQL(schemaLinks),
	execSQL(schemaProjects),
	// A deactivated user returns to the status they had: an invited user
	// who never accepted comes back invited, not active.
	execSQL(`ALTER TABLE users ADD COLUMN status_before_deactivation TEXT NOT NULL DEFAULT 'active'`),
	execSQL(`ALTER TABLE links ADD COLUMN sent_at INTEGER`),
	// audit list --target, and choosing ids never used before.
	execSQL(`CREATE INDEX audit_target_id ON audit (target_id) WHERE target_id IS NOT NULL`),
	addNameKey,
	execSQL(schemaTokens),
	// Stores made before roster marked its files get the mark; new stores
	// have it from their creation.
	execSQL(fmt.Sprintf("PRAGMA application_id = %d", ApplicationID)),
	execSQL(schemaCatalogVersion),
	execSQL(schemaSessions),
	execSQL(schemaIdempotency),
	addOrgs,
	// user list --search by trigram index (search.go), after addOrgs,
	// which makes users anew and would drop its triggers and index.
	execSQL(schemaSearch),
	execSQL(schemaTokenScope),
	// Account expiry (DESIGN.md, "Service accounts, scoped and expiring
	// access"): read against the clock, never by a job.
	execSQL(schemaExpiry),
	// Tamper evidence: every audit event chained by hash to the one before.
	chainAudit,
	execSQL(schemaDeviceCodes),
	execSQL(schemaKinds),
	// Bulk inserts index their users in one statement (search.go).
	execSQL(schemaSearchPause),
	// Searches of one or two characters by the index (search.go).
	execSQL(schemaSearchShort),
}

// schemaKinds tells service accounts from people (DESIGN.md, "Service
// accounts, scoped and expiring access"). A search's scan reads
// users_search_keys alone, which must then hold the kind too: user list
// keeps one kind.
const schemaKinds = `ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'service'));
DROP INDEX IF EXISTS users_search_keys;
CREATE INDEX users_search_keys ON users (org_id, email_key, username_key, name_key, status, expires_at, kind);`

// schemaTokenScope lets a token carry a scope (the permissions it may use
// of its user's, space-separated; NULL for all of them) and remember the
// address it was last used from.
const schemaTokenScope = `
ALTER TABLE api_tokens ADD COLUMN scope TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_from TEXT NOT NULL DEFAULT '';
`

// schemaExpiry gives a user the instant their account expires (NULL:
// never), and an index for user list --expiring and --status expired.
//
// A search's scan reads users_search_keys alone (search.go), which must
// then hold expires_at too: a status is read against it.
const schemaExpiry = `ALTER TABLE users ADD COLUMN expires_at INTEGER;
CREATE INDEX users_org_expires ON users (org_id, expires_at) WHERE expires_at IS NOT NULL;
DROP INDEX IF EXISTS users_search_keys;
CREATE INDEX users_search_keys ON users (org_id, email_key, username_key, name_key, status, expires_at);`

// schemaSessions holds browser sessions, of which only the SHA-256 of the
// token is stored, and the newest audit event each user has seen as a
// notice; and it lets a link be a sign-in link. SQLite cannot alter a
// CHECK: links is made anew with the new one and its rows copied, the way
// https://sqlite.org/lang_altertable.html#otheralter gives. Foreign keys
// stay on: no table refers to links, and its rows refer to users that
// exist. (IF NOT EXISTS: a store rewound to an older version by a test
// migrates again.)
const schemaSessions = `
CREATE TABLE links_new (
	id            INTEGER PRIMARY KEY,
	kind          TEXT NOT NULL CHECK (kind IN ('invite', 'reset', 'signin')),
	user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash    BLOB NOT NULL UNIQUE,
	created_by    INTEGER REFERENCES users (id) ON DELETE SET NULL,
	creator       TEXT NOT NULL,
	roles         TEXT NOT NULL DEFAULT '[]',
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	used_at       INTEGER,
	revoked_at    INTEGER,
	revoke_reason TEXT NOT NULL DEFAULT '',
	sent_at       INTEGER
);
INSERT INTO links_new (id, kind, user_id, token_hash, created_by, creator, roles, created_at, expires_at,
		used_at, revoked_at, revoke_reason, sent_at)
	SELECT id, kind, user_id, token_hash, created_by, creator, roles, created_at, expires_at,
		used_at, revoked_at, revoke_reason, sent_at FROM links;
DROP TABLE links;
ALTER TABLE links_new RENAME TO links;
CREATE INDEX links_user ON links (user_id, kind);
CREATE INDEX links_kind_created ON links (kind, created_at);

CREATE TABLE IF NOT EXISTS sessions (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash   BLOB NOT NULL UNIQUE,
	method       TEXT NOT NULL,
	address      TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);

CREATE TABLE IF NOT EXISTS notices_seen (
	user_id  INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	audit_id INTEGER NOT NULL
);
`

// schemaCatalogVersion counts changes to the catalog, so that a process
// may cache it and still see, at its next request, a change another
// process made. Triggers bump it, so no writer can forget to. (IF NOT
// EXISTS: a store rewound to an older version by a test migrates again.)
var schemaCatalogVersion = `CREATE TABLE IF NOT EXISTS catalog_version (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
);
INSERT OR IGNORE INTO catalog_version VALUES (1, 1);
` + catalogTriggers()

func catalogTriggers() string {
	var b strings.Builder
	for _, table := range []string{"roles", "role_permissions", "permissions", "permission_implies"} {
		for _, event := range []string{"INSERT", "UPDATE", "DELETE"} {
			fmt.Fprintf(&b, "CREATE TRIGGER IF NOT EXISTS %s_%s AFTER %s ON %s BEGIN UPDATE catalog_version SET version = version + 1; END;\n",
				table, strings.ToLower(event), event, table)
		}
	}
	return b.String()
}

// SchemaVersion is the version a current store has.
var SchemaVersion = len(migrations)

const schemaV1 = `
CREATE TABLE users (
	id                   INTEGER PRIMARY KEY,
	email                TEXT NOT NULL,
	email_key            TEXT NOT NULL UNIQUE,
	username             TEXT,
	username_key         TEXT UNIQUE,
	name                 TEXT NOT NULL DEFAULT '',
	status               TEXT NOT NULL CHECK (status IN ('invited', 'active', 'deactivated')),
	password_hash        TEXT,
	must_change_password INTEGER NOT NULL DEFAULT 0,
	created_at           INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL,
	last_login_at        INTEGER,
	last_login_method    TEXT NOT NULL DEFAULT '',
	deactivated_at       INTEGER,
	deactivated_reason   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX users_status ON users (status, email_key);

CREATE TABLE user_links (
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind    TEXT NOT NULL,
	value   TEXT NOT NULL,
	PRIMARY KEY (kind, value),
	UNIQUE (user_id, kind)
);

CREATE TABLE permissions (
	name        TEXT PRIMARY KEY,
	description TEXT NOT NULL DEFAULT '',
	builtin     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE permission_implies (
	permission TEXT NOT NULL REFERENCES permissions (name) ON DELETE CASCADE,
	implies    TEXT NOT NULL REFERENCES permissions (name),
	PRIMARY KEY (permission, implies)
);

CREATE TABLE roles (
	name            TEXT PRIMARY KEY,
	description     TEXT NOT NULL DEFAULT '',
	builtin         INTEGER NOT NULL DEFAULT 0,
	all_permissions INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE role_permissions (
	role       TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
	permission TEXT NOT NULL REFERENCES permissions (name),
	PRIMARY KEY (role, permission)
);
CREATE INDEX role_permissions_permission ON role_permissions (permission);

CREATE TABLE user_roles (
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role    TEXT NOT NULL REFERENCES roles (name),
	PRIMARY KEY (user_id, role)
) WITHOUT ROWID;
CREATE INDEX user_roles_role ON user_roles (role, user_id);

CREATE TABLE audit (
	id        INTEGER PRIMARY KEY,
	at        INTEGER NOT NULL,
	actor     TEXT NOT NULL,
	actor_id  INTEGER,
	via       TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL DEFAULT '',
	target_id INTEGER,
	details   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_actor_id ON audit (actor_id) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_at ON audit (at);

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`

// schemaLinks holds invitations and reset links. Only the SHA-256 of a
// link's token is stored; roles are the roles an invitation grants.
const schemaLinks = `
CREATE TABLE links (
	id            INTEGER PRIMARY KEY,
	kind          TEXT NOT NULL CHECK (kind IN ('invite', 'reset')),
	user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash    BLOB NOT NULL UNIQUE,
	created_by    INTEGER REFERENCES users (id) ON DELETE SET NULL,
	creator       TEXT NOT NULL,
	roles         TEXT NOT NULL DEFAULT '[]',
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	used_at       INTEGER,
	revoked_at    INTEGER,
	revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX links_user ON links (user_id, kind);
CREATE INDEX links_kind_created ON links (kind, created_at);
`

// schemaProjects holds projects and who is a member of which.
const schemaProjects = `
CREATE TABLE projects (
	id          INTEGER PRIMARY KEY,
	slug        TEXT NOT NULL UNIQUE,
	name        TEXT NOT NULL DEFAULT '',
	archived_at INTEGER,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);

CREATE TABLE memberships (
	project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (project_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships (user_id, project_id);
`

// schemaTokens holds API tokens; only the SHA-256 of a token is stored.
const schemaTokens = `
CREATE TABLE api_tokens (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	token_hash   BLOB NOT NULL UNIQUE,
	creator      TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,
	last_used_at INTEGER,
	revoked_at   INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
`

// addNameKey keeps each name lower-cased by Go for --search: SQLite's
// lower() folds ASCII only, so "Émile" was not found by "émile".
func addNameKey(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT ''`); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, name FROM users WHERE name != ''`)
	if err != nil {
		return err
	}
	names := map[int64]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		names[id] = name
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for id, name := range names {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET name_key = ? WHERE id = ?`, store.FoldKey(name), id); err != nil {
			return err
		}
	}
	return nil
}

func execSQL(q string) migration {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, q)
		return err
	}
}

// seedCatalog writes roster's own permissions and the locked roles from
// the catalog in package roster, the one place they are defined.
func seedCatalog(ctx context.Context, tx *sql.Tx) error {
	for _, p := range roster.BuiltinPermissions {
		if _, err := tx.ExecContext(ctx, `INSERT INTO permissions (name, description, builtin) VALUES (?, ?, 1)`, p.Name, p.Description); err != nil {
			return err
		}
	}
	for _, r := range roster.BuiltinRoles {
		// developer came with organisations: migration 14 adds it, to
		// new stores as to old ones.
		if r.Name == roster.RoleDeveloper {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO roles (name, description, builtin, all_permissions) VALUES (?, ?, 1, ?)`, r.Name, r.Description, r.AllPermissions); err != nil {
			return err
		}
		for _, p := range r.Permissions {
			if _, err := tx.ExecContext(ctx, `INSERT INTO role_permissions (role, permission) VALUES (?, ?)`, r.Name, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// Migrate applies every pending migration in one IMMEDIATE transaction and
// returns how many it applied. A store newer than this binary is refused,
// and so is a read-only store that needs migrating.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	// Most opens find the schema current: check without the write lock, so
	// that concurrent processes do not queue behind each other at start-up.
	v, err := db.Version(ctx)
	if err == nil && v == SchemaVersion {
		return 0, nil
	}
	if err == nil && v > SchemaVersion {
		return 0, newerSchema(v)
	}
	if db.readOnly {
		if err != nil {
			return 0, err
		}
		return 0, roster.Errorf(roster.ErrUnavailable, "cannot bring %s up to date: the store is read-only and its schema (version %d) is older than this roster's (version %d)", db.path, v, SchemaVersion).
			WithHint("make the store writable (chmod u+w) and run roster db migrate as its owner, or use the roster that made it")
	}
	release, err := db.lockWriter(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	conn, err := db.foreignKeysOff(ctx)
	if err != nil {
		return 0, db.mapErr(fmt.Errorf("migrate: %w", err))
	}
	defer conn.close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, db.mapErr(fmt.Errorf("migrate: %w", err))
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, db.mapErr(fmt.Errorf("migrate: %w", err))
	}
	if v > SchemaVersion {
		return 0, newerSchema(v)
	}
	if v == SchemaVersion {
		return 0, nil
	}
	for i := v; i < SchemaVersion; i++ {
		if err := migrations[i](ctx, tx); err != nil {
			return 0, db.mapErr(fmt.Errorf("migrate to version %d: %w", i+1, err))
		}
	}
	if err := foreignKeyCheck(ctx, tx); err != nil {
		return 0, db.mapErr(fmt.Errorf("migrate to version %d: %w", SchemaVersion, err))
	}
	// PRAGMA takes no bound parameters; the value is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)); err != nil {
		return 0, db.mapErr(err)
	}
	if err := tx.Commit(); err != nil {
		return 0, db.mapErr(fmt.Errorf("migrate: %w", err))
	}
	return SchemaVersion - v, nil
}

// fkOffConn is a connection of its own with foreign keys off, for
// migrations that make tables anew: PRAGMA foreign_keys cannot change
// inside a transaction, and dropping a table with foreign keys on would
// delete, through ON DELETE CASCADE, the rows that refer to it.
type fkOffConn struct{ *sql.Conn }

func (db *DB) foreignKeysOff(ctx context.Context) (fkOffConn, error) {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fkOffConn{}, err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		conn.Close()
		return fkOffConn{}, err
	}
	return fkOffConn{conn}, nil
}

// close turns foreign keys back on and returns the connection to the
// pool, or, if they cannot be turned on, discards it: no transaction may
// ever run on it without them.
func (c fkOffConn) close() {
	if _, err := c.ExecContext(context.Background(), "PRAGMA foreign_keys = ON"); err != nil {
		c.Raw(func(any) error { return driver.ErrBadConn })
	}
	c.Close()
}

// foreignKeyCheck fails when a row refers to one that is not there, as
// PRAGMA foreign_key_check finds them.
func foreignKeyCheck(ctx context.Context, q querier) error {
	problems, err := foreignKeyProblems(ctx, q)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("foreign keys broken: %s", strings.Join(problems, "; "))
	}
	return nil
}

func newerSchema(v int) error {
	return roster.Errorf(roster.ErrConflict, "store schema version %d is newer than this roster (%d)", v, SchemaVersion).
		WithHint("upgrade roster")
}

// Version reads the schema version.
func (db *DB) Version(ctx context.Context) (int, error) {
	var v int
	err := db.sql.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, db.mapErr(err)
}
