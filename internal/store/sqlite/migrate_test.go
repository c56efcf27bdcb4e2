package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/store"
)

// TestMigrateFromEveryVersion builds a store at each older schema version,
// with a user in it where the schema allows, and migrates it to the
// current one: the data survives and the schema equals a fresh store's.
func TestMigrateFromEveryVersion(t *testing.T) {
	ctx := context.Background()
	fresh, err := Open(ctx, filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	want := schemaOf(t, fresh)

	for from := 0; from < SchemaVersion; from++ {
		t.Run(fmt.Sprintf("from %d", from), func(t *testing.T) {
			db, err := OpenNoMigrate(ctx, filepath.Join(t.TempDir(), "old.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// As Migrate does: migration 14 (addOrgs) makes tables anew,
			// which needs foreign keys off.
			conn, err := db.foreignKeysOff(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				conn.close()
				t.Fatal(err)
			}
			for i := range from {
				if err := migrations[i](ctx, tx); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", from)); err != nil {
				t.Fatal(err)
			}
			if from >= 1 {
				// From version 14 (organisations) a user is of one.
				cols, vals := "", ""
				if from >= 14 {
					cols, vals = ", org_id", ", 1"
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO users (email, email_key, name, status, created_at, updated_at`+cols+`)
					VALUES ('e@example.com', 'e@example.com', 'Émile', 'active', 1, 1`+vals+`)`); err != nil {
					t.Fatal(err)
				}
				// Events written before the chain (version 18, chainAudit)
				// get chained by the migration; after it, an event written
				// so would be one inserted behind roster's back.
				for i := range 3 * btoi(from < 18) {
					if _, err := tx.ExecContext(ctx, `INSERT INTO audit (at, actor, via, action, target, details`+cols+`)
						VALUES (?, 'local:root', 'local', 'user.update', 'e@example.com', '{"n":1}'`+vals+`)`, i+1); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Links exist from version 3 (index 2), with sent_at from 6.
			if from >= 3 {
				sent := ""
				if from >= 6 {
					sent = ", sent_at = 5"
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO links (id, kind, user_id, token_hash, created_by, creator, roles,
					created_at, expires_at, used_at, revoke_reason)
					VALUES (41, 'invite', 1, x'0102', 1, 'local:root', '["member"]', 2, 3, 4, 'why')`); err != nil {
					t.Fatal(err)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE links SET revoked_at = 6`+sent); err != nil {
					t.Fatal(err)
				}
			}
			err = tx.Commit()
			conn.close()
			if err != nil {
				t.Fatal(err)
			}
			conn.close()
			if n, err := db.Migrate(ctx); err != nil || n != SchemaVersion-from {
				t.Fatalf("Migrate = %d, %v; want %d", n, err, SchemaVersion-from)
			}
			if from >= 1 && from < 18 {
				err := db.Read(ctx, func(tx store.Tx) error {
					v, err := store.VerifyAudit(ctx, tx)
					if err == nil && (!v.Intact || v.Events < 3) {
						t.Errorf("the audit log after migrating from %d: %+v, want its events chained", from, v)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := schemaOf(t, db); got != want {
				t.Fatalf("schema after migrating from %d differs from a fresh store's:\n%s\nwant:\n%s", from, got, want)
			}
			// Migration 8 (index 7) fills name_key for users already there.
			if from >= 1 && from <= 7 {
				var key string
				if err := db.sql.QueryRowContext(ctx, `SELECT name_key FROM users WHERE email = 'e@example.com'`).Scan(&key); err != nil || key != "émile" {
					t.Fatalf("name_key = %q, %v", key, err)
				}
			}
			// Migration 12 (index 11) makes links anew to allow sign-in
			// links: the rows already there survive, and every foreign key
			// still holds.
			if from >= 3 {
				checkLinkSurvived(t, db, from >= 6)
			}
		})
	}
}

// checkLinkSurvived checks the link TestMigrateFromEveryVersion made,
// that the store's foreign keys hold, and that a sign-in link may now be
// stored.
func checkLinkSurvived(t *testing.T, db *DB, withSent bool) {
	t.Helper()
	ctx := context.Background()
	var kind, creator, roles, reason string
	var user, createdBy, created, expires, used, revoked int64
	var hash []byte
	var sent sql.NullInt64
	err := db.sql.QueryRowContext(ctx, `SELECT kind, user_id, token_hash, created_by, creator, roles, created_at, expires_at,
		used_at, revoked_at, revoke_reason, sent_at FROM links WHERE id = 41`).
		Scan(&kind, &user, &hash, &createdBy, &creator, &roles, &created, &expires, &used, &revoked, &reason, &sent)
	if err != nil {
		t.Fatalf("the link made before migrating: %v", err)
	}
	var wantSent int64
	if withSent {
		wantSent = 5
	}
	got := fmt.Sprint(kind, user, hash, createdBy, creator, roles, created, expires, used, revoked, reason, sent.Valid, sent.Int64)
	want := fmt.Sprint("invite", 1, []byte{1, 2}, 1, "local:root", `["member"]`, 2, 3, 4, 6, "why", withSent, wantSent)
	if got != want {
		t.Errorf("the link after migrating = %s, want %s", got, want)
	}
	if _, problems, err := db.Check(ctx); err != nil || len(problems) > 0 {
		t.Errorf("Check after migrating: %q, %v", problems, err)
	}
	err = db.Write(ctx, func(stx store.Tx) error {
		_, err := stx.InsertLink(ctx, store.Link{Kind: store.LinkSignIn, UserID: 1, TokenHash: []byte{3}, Creator: "ann",
			CreatedAt: time.UnixMicro(7), ExpiresAt: time.UnixMicro(8)})
		return err
	})
	if err != nil {
		t.Errorf("a sign-in link after migrating: %v", err)
	}
	// The CHECK still refuses other kinds.
	if _, err := db.sql.ExecContext(ctx, `INSERT INTO links (kind, user_id, token_hash, creator, created_at, expires_at)
		VALUES ('other', 1, x'04', 'ann', 7, 8)`); err == nil {
		t.Error("a link of an unknown kind was stored")
	}
	// Deleting the user takes its links with it, as before.
	if _, err := db.sql.ExecContext(ctx, `DELETE FROM users WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM links`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d links, %v after deleting their user; want 0", n, err)
	}
}

func schemaOf(t *testing.T, db *DB) string {
	t.Helper()
	rows, err := db.sql.Query(`SELECT type, name, COALESCE(sql, '') FROM sqlite_schema ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out string
	for rows.Next() {
		var typ, name, sql string
		if err := rows.Scan(&typ, &name, &sql); err != nil {
			t.Fatal(err)
		}
		out += typ + " " + name + "\n"
	}
	return out
}

// TestFileModes: the store is created 0600 in a 0700 directory, and so
// is a backup.
func TestFileModes(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "new")
	db, err := Open(ctx, filepath.Join(dir, "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := db.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "roster.db"): 0o600, backup: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %o, want %o", path, got, want)
		}
	}
	if err := db.Backup(ctx, backup); err == nil {
		t.Error("a backup over an existing file succeeded")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
