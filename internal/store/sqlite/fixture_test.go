package sqlite

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The stores in testdata/stores were made by the schema of the release
// before organisations (version 13), by the migrations of that release,
// which this package still holds unchanged, and the SQL below. Remake
// them with
//
//	go test ./internal/store/sqlite -run TestFixtures -update
var update = flag.Bool("update", false, "remake the stores in testdata/stores")

// fixtureVersion is the schema version of the stores in testdata/stores.
const fixtureVersion = 13

// fixtures are the stores kept, by file name: whether each holds a
// custom role named developer, the name roster later gave a locked role.
var fixtures = map[string]bool{
	fmt.Sprintf("v%d.db", fixtureVersion):           false,
	fmt.Sprintf("v%d-developer.db", fixtureVersion): true,
}

// fixtureData is one of each kind of thing a store of version 13 holds:
// users of every status (with a password, a username, links, a
// non-ASCII name), a custom role and permission with an implication,
// projects with members (one archived), links of each kind, tokens,
// sessions, notices seen, an idempotency outcome, settings and audit
// events, one of which names a deleted user's id (7), which no new user
// may take.
const fixtureData = `
INSERT INTO permissions (name, description) VALUES ('invoices.view', 'see invoices'), ('invoices.manage', 'manage invoices');
INSERT INTO permission_implies (permission, implies) VALUES ('invoices.manage', 'invoices.view');
INSERT INTO roles (name, description) VALUES ('billing', 'runs billing');
INSERT INTO role_permissions (role, permission) VALUES ('billing', 'invoices.manage'), ('billing', 'users.view');

INSERT INTO users (id, email, email_key, username, username_key, name, name_key, status, password_hash,
	must_change_password, created_at, updated_at, last_login_at, last_login_method, deactivated_at,
	deactivated_reason, status_before_deactivation) VALUES
	(1, 'Ann@Example.com', 'ann@example.com', 'Ann', 'ann', 'Ann Owner', 'ann owner', 'active', '$argon2id$fixture',
		0, 1000, 2000, 3000, 'password', NULL, '', 'active'),
	(2, 'bob@example.com', 'bob@example.com', NULL, NULL, 'Bob', 'bob', 'active', NULL, 1, 1001, 1001, NULL, '', NULL, '', 'active'),
	(3, 'carol@example.com', 'carol@example.com', NULL, NULL, '', '', 'invited', NULL, 0, 1002, 1002, NULL, '', NULL, '', 'active'),
	(4, 'dave@example.com', 'dave@example.com', 'dave', 'dave', 'Dave', 'dave', 'deactivated', NULL, 0, 1003, 4000, NULL, '',
		4000, 'left', 'invited'),
	(5, 'erin@example.com', 'erin@example.com', NULL, NULL, 'Erin', 'erin', 'active', NULL, 0, 1004, 1004, 3500, 'link', NULL, '', 'active'),
	(6, 'emile@example.com', 'emile@example.com', NULL, NULL, 'Émile Zola', 'émile zola', 'active', NULL, 0, 1005, 1005, NULL, '',
		NULL, '', 'active');
INSERT INTO user_roles (user_id, role) VALUES (1, 'owner'), (2, 'admin'), (3, 'member'), (4, 'member'), (5, 'billing'),
	(5, 'member'), (6, 'viewer');
INSERT INTO user_links (user_id, kind, value) VALUES (1, 'github', 'ann'), (5, 'okta', 'erin@corp');

INSERT INTO projects (id, slug, name, archived_at, created_at, updated_at) VALUES
	(1, 'web', 'Web site', NULL, 1100, 1100), (2, 'api', 'API', 5000, 1101, 5000);
INSERT INTO memberships (project_id, user_id, created_at) VALUES (1, 1, 1200), (1, 2, 1201), (2, 5, 1202);

INSERT INTO links (id, kind, user_id, token_hash, created_by, creator, roles, created_at, expires_at, used_at, revoked_at,
	revoke_reason, sent_at) VALUES
	(1, 'invite', 3, x'01', 1, 'ann@example.com', '["member"]', 1300, 999999, NULL, NULL, '', 1301),
	(2, 'reset', 2, x'02', 1, 'ann@example.com', '[]', 1302, 999999, 1303, NULL, '', NULL),
	(3, 'signin', 5, x'03', NULL, 'local:root', '[]', 1304, 999999, NULL, 1305, 'resent', NULL);

INSERT INTO api_tokens (id, user_id, name, token_hash, creator, created_at, expires_at, last_used_at, revoked_at) VALUES
	(1, 1, 'ci', x'a1', 'local:root', 1400, NULL, 1401, NULL),
	(2, 2, 'laptop', x'a2', 'ann@example.com', 1402, 99999999, NULL, 1403);
INSERT INTO sessions (id, user_id, token_hash, method, address, created_at, last_seen_at, expires_at) VALUES
	(1, 1, x'b1', 'password', '127.0.0.1', 1500, 1501, 99999999);
INSERT INTO idempotency (user_id, key_hash, request_hash, status, body, created_at) VALUES
	(1, x'c1', x'c2', 201, x'c3', 1600);

INSERT INTO settings (key, value) VALUES ('org.name', 'Acme Corp'), ('seats', '50');

INSERT INTO audit (id, at, actor, actor_id, via, action, target, target_id, details) VALUES
	(1, 1000, 'local:root', NULL, 'cli', 'init', 'Ann@Example.com', 1, '{}'),
	(2, 1001, 'Ann@Example.com', 1, 'api', 'user.create', 'bob@example.com', 2, '{"roles":["admin"]}'),
	(3, 1006, 'Ann@Example.com', 1, 'cli', 'user.create', 'gone@example.com', 7, '{}'),
	(4, 1007, 'Ann@Example.com', 1, 'cli', 'user.delete', 'gone@example.com', 7, '{}'),
	(5, 4000, 'bob@example.com', 2, 'pages', 'user.deactivate', 'dave@example.com', 4, '{"reason":"left"}');
INSERT INTO notices_seen (user_id, audit_id) VALUES (1, 3);
`

// developerData makes a custom role named developer, held by a user.
const developerData = `
INSERT INTO roles (name, description) VALUES ('developer', 'our own developers');
INSERT INTO role_permissions (role, permission) VALUES ('developer', 'invoices.view'), ('developer', 'projects.view_all');
INSERT INTO user_roles (user_id, role) VALUES (6, 'developer');
`

// makeFixture makes a store of fixtureVersion at path.
func makeFixture(t *testing.T, path string, developer bool) {
	t.Helper()
	data := fixtureData
	if developer {
		data += developerData
	}
	db := storeAtVersion(t, path, fixtureVersion, data)
	defer db.Close()
	// One file, without a -wal beside it.
	ctx := context.Background()
	if _, err := db.sql.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.sql.ExecContext(ctx, "VACUUM"); err != nil {
		t.Fatal(err)
	}
}

// storeAtVersion makes a store at path as the migrations up to version
// left it, with data written by the SQL given, and returns it open.
func storeAtVersion(t *testing.T, path string, version int, data string) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := OpenNoMigrate(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for i := range version {
		if err := migrations[i](ctx, tx); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, data+fmt.Sprintf("; PRAGMA user_version = %d;", version)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestFixtures remakes the kept stores with -update; without it, it
// checks that each is there and of fixtureVersion.
func TestFixtures(t *testing.T) {
	dir := filepath.Join("testdata", "stores")
	for name, developer := range fixtures {
		path := filepath.Join(dir, name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			tmp := filepath.Join(t.TempDir(), name)
			makeFixture(t, tmp, developer)
			b, err := os.ReadFile(tmp)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		db, err := openStore(context.Background(), copyFixture(t, name), false)
		if err != nil {
			t.Fatal(err)
		}
		v, err := db.Version(context.Background())
		db.Close()
		if err != nil || v != fixtureVersion {
			t.Errorf("%s has version %d, %v; want %d", name, v, err, fixtureVersion)
		}
	}
}

// copyFixture copies a kept store into t's temporary directory.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stores", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
