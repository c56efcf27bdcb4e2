package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
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
			tx, err := db.sql.BeginTx(ctx, nil)
			if err != nil {
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
				if _, err := tx.ExecContext(ctx, `INSERT INTO users (email, email_key, name, status, created_at, updated_at)
					VALUES ('e@example.com', 'e@example.com', 'Émile', 'active', 1, 1)`); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if n, err := db.Migrate(ctx); err != nil || n != SchemaVersion-from {
				t.Fatalf("Migrate = %d, %v; want %d", n, err, SchemaVersion-from)
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
		})
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
