package postgres

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
)

// The fixtures are stores of schema version 5, the last before
// organisations, dumped by pg_dump: what the migration to organisations
// must carry over whole. go test -run TestFixtures -update
// writes them again from fixtureData; the first five migrations never
// change, so neither do they.
var updateFixtures = flag.Bool("update", false, "write testdata/v5*.sql again")

// fixtureVersion is the schema version the fixtures hold.
const fixtureVersion = 5

// fixtureSchema stands for the schema's name in a fixture: loadFixture
// puts the test's own in its place.
const fixtureSchema = "roster_fixture"

// fixtureData is a store of every kind of row, with gaps in the ids (user
// 5 was deleted) so that the migration is seen to keep them.
const fixtureData = `
INSERT INTO settings (key, value) VALUES ('org.name', 'Acme Ltd'), ('seats', '10'), ('password.min_length', '12');

INSERT INTO permissions (name, description) VALUES ('reports.view', 'read reports'), ('reports.export', 'export reports');
INSERT INTO permission_implies (permission, implies) VALUES ('reports.export', 'reports.view');
INSERT INTO roles (name, description) VALUES ('auditors', 'read the log and export reports');
INSERT INTO role_permissions (role, permission) VALUES ('auditors', 'audit.view'), ('auditors', 'reports.export');

INSERT INTO users (id, email, email_key, username, username_key, name, name_key, status, status_before_deactivation,
	password_hash, must_change_password, created_at, updated_at, last_login_at, last_login_method, deactivated_at, deactivated_reason) VALUES
	(1, 'Ann@Example.com', 'ann@example.com', 'ann', 'ann', 'Ann Owner', 'ann owner', 'active', 'active',
		'$argon2id$ann', false, '2026-01-01 10:00:00.123456+00', '2026-01-02 10:00:00+00', '2026-01-03 09:00:00+00', 'password', NULL, ''),
	(2, 'bob@example.com', 'bob@example.com', 'bob', 'bob', 'Bob Builder', 'bob builder', 'active', 'active',
		'$argon2id$bob', true, '2026-01-01 11:00:00+00', '2026-01-01 11:00:00+00', NULL, '', NULL, ''),
	(3, 'cat@example.com', 'cat@example.com', NULL, NULL, 'Cat', 'cat', 'invited', 'active',
		NULL, false, '2026-01-04 08:00:00+00', '2026-01-04 08:00:00+00', NULL, '', NULL, ''),
	(4, 'dan@example.com', 'dan@example.com', 'dan', 'dan', 'Dan', 'dan', 'deactivated', 'invited',
		'$argon2id$dan', false, '2026-01-05 08:00:00+00', '2026-01-06 08:00:00+00', NULL, '', '2026-01-06 08:00:00+00', 'left the company'),
	(6, 'emile@example.com', 'emile@example.com', 'émile', 'émile', 'Émile Zola', 'émile zola', 'active', 'active',
		NULL, false, '2026-01-07 08:00:00+00', '2026-01-07 08:00:00+00', '2026-01-08 08:00:00+00', 'link', NULL, '');
SELECT setval(pg_get_serial_sequence('users', 'id'), 6);
INSERT INTO user_roles (user_id, role) VALUES (1, 'owner'), (2, 'member'), (2, 'auditors'), (3, 'viewer'), (4, 'manager'), (6, 'member');
INSERT INTO user_links (user_id, kind, value) VALUES (2, 'github', 'bob'), (6, 'okta', 'emile@corp');

INSERT INTO projects (id, slug, name, archived_at, created_at, updated_at) VALUES
	(10, 'apollo', 'Apollo', NULL, '2026-01-10 08:00:00+00', '2026-01-10 08:00:00+00'),
	(12, 'zeus', 'Zeus', '2026-01-12 08:00:00+00', '2026-01-11 08:00:00+00', '2026-01-12 08:00:00+00');
SELECT setval(pg_get_serial_sequence('projects', 'id'), 12);
INSERT INTO memberships (project_id, user_id, created_at) VALUES
	(10, 1, '2026-01-10 09:00:00+00'), (10, 2, '2026-01-10 09:00:00+00'), (12, 4, '2026-01-11 09:00:00+00');

INSERT INTO links (id, kind, user_id, token_hash, created_by, creator, roles, created_at, expires_at, used_at, revoked_at, revoke_reason, sent_at) VALUES
	(20, 'invite', 3, '\x0a01', 1, 'ann@example.com', '["viewer"]', '2026-01-04 08:00:00+00', '2026-01-11 08:00:00+00', NULL, NULL, '', '2026-01-04 08:00:01+00'),
	(21, 'reset', 2, '\x0a02', NULL, 'local:root', '[]', '2026-01-05 08:00:00+00', '2026-01-05 09:00:00+00', '2026-01-05 08:30:00+00', NULL, '', NULL),
	(22, 'signin', 6, '\x0a03', 6, 'emile@example.com', '[]', '2026-01-08 07:50:00+00', '2026-01-08 08:05:00+00', NULL, '2026-01-08 08:00:00+00', 'replaced', NULL);
SELECT setval(pg_get_serial_sequence('links', 'id'), 22);

INSERT INTO api_tokens (id, user_id, name, token_hash, creator, created_at, expires_at, last_used_at, revoked_at) VALUES
	(30, 1, 'ci', '\x0b01', 'ann@example.com', '2026-01-03 10:00:00+00', NULL, '2026-01-03 11:00:00+00', NULL),
	(31, 2, 'laptop', '\x0b02', 'ann@example.com', '2026-01-03 10:00:00+00', '2027-01-03 10:00:00+00', NULL, '2026-01-04 10:00:00+00');
SELECT setval(pg_get_serial_sequence('api_tokens', 'id'), 31);

INSERT INTO sessions (id, user_id, token_hash, method, address, created_at, last_seen_at, expires_at) VALUES
	(40, 6, '\x0c01', 'link', '192.0.2.7', '2026-01-08 08:00:00+00', '2026-01-08 08:10:00+00', '2026-01-09 08:00:00+00');
SELECT setval(pg_get_serial_sequence('sessions', 'id'), 40);

INSERT INTO audit (id, at, actor, actor_id, via, action, target, target_id, details) VALUES
	(50, '2026-01-01 10:00:00+00', 'local:root', NULL, 'local', 'store.init', '', NULL, '{}'),
	(51, '2026-01-04 08:00:00+00', 'ann@example.com', 1, 'api', 'user.invite', 'cat@example.com', 3, '{"roles": ["viewer"]}'),
	(53, '2026-01-06 08:00:00+00', 'ann@example.com', 1, 'cli', 'user.deactivate', 'dan@example.com', 4, '{"reason": "left the company"}');
SELECT setval(pg_get_serial_sequence('audit', 'id'), 53);
INSERT INTO notices_seen (user_id, audit_id) VALUES (1, 51);

INSERT INTO idempotency (user_id, key_hash, request_hash, status, body, created_at) VALUES
	(1, '\x0d01', '\x0d02', 201, '\x7b7d', '2026-01-03 10:00:00+00');
`

// fixtureDeveloper is the same store with a custom role of its own named
// developer, which the migration must keep as it is.
const fixtureDeveloper = fixtureData + `
INSERT INTO roles (name, description) VALUES ('developer', 'our developers');
INSERT INTO role_permissions (role, permission) VALUES ('developer', 'users.view'), ('developer', 'reports.view');
INSERT INTO user_roles (user_id, role) VALUES (6, 'developer');
`

// fixtures names each fixture's file and data.
var fixtures = []struct{ file, data string }{
	{"v5.sql", fixtureData},
	{"v5-developer.sql", fixtureDeveloper},
}

// TestFixtures writes the fixtures again when -update is
// given: a store of version 5 in a schema of its own, dumped by pg_dump,
// with the schema's name replaced by fixtureSchema.
func TestFixtures(t *testing.T) {
	if !*updateFixtures {
		t.Skip("writes testdata/v5*.sql only with -update")
	}
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatalf("writing the fixtures needs pg_dump: %v", err)
	}
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			ctx := context.Background()
			db, err := OpenNoMigrate(ctx, pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
				if err := migrateTo(ctx, db, tx, fixtureVersion); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, f.data)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			base := os.Getenv(pgtest.Env)
			out, err := exec.Command(pgDump, "--schema="+db.schema, "--no-owner", "--no-privileges", "--inserts", base).Output()
			if err != nil {
				t.Fatalf("pg_dump: %v", err)
			}
			if err := os.WriteFile(filepath.Join("testdata", f.file), normaliseDump(string(out), db.schema), 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// migrateTo makes a fresh schema of version v with the migrations of this
// build, as Migrate would have when v was the newest.
func migrateTo(ctx context.Context, db *DB, tx pgx.Tx, v int) error {
	if err := db.createVersionTable(ctx, tx); err != nil {
		return err
	}
	for i := range v {
		if err := migrations[i](ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+db.versionTable()+` (version, applied_at) VALUES ($1, '2026-01-01 00:00:00+00')`, i+1); err != nil {
			return err
		}
	}
	return nil
}

// normaliseDump makes pg_dump's text loadable into any schema by one
// simple-protocol Exec: the schema's name becomes fixtureSchema, and
// psql's meta-commands (\restrict) and the CREATE SCHEMA go, as the
// schema a test loads into exists already.
func normaliseDump(dump, schema string) []byte {
	var out []string
	for _, line := range strings.Split(dump, "\n") {
		if strings.HasPrefix(line, `\`) || strings.HasPrefix(line, "CREATE SCHEMA ") {
			continue
		}
		out = append(out, line)
	}
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(schema) + `\b`)
	return []byte(re.ReplaceAllString(strings.Join(out, "\n"), fixtureSchema))
}

// loadFixture loads a fixture into the empty schema of dbURL's
// search_path.
func loadFixture(t *testing.T, db *DB, file string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	sql := strings.ReplaceAll(string(b), fixtureSchema, pgx.Identifier{db.schema}.Sanitize())
	// pg_dump's set_config empties the search_path of the session: reset
	// it for the pool's next user.
	if _, err := conn.Exec(ctx, sql+"\nRESET search_path;"); err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
}
