package storetest

import (
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// SQLite opens a fresh SQLite store in t's temporary directory, closed
// when t ends.
func SQLite(t *testing.T) store.Admin {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
	return closing(t, db, err)
}

// Postgres opens a fresh PostgreSQL store in a schema of t's own (see
// pgtest.URL: it skips, or fails under CI, without a test database).
func Postgres(t *testing.T) store.Admin {
	t.Helper()
	url := pgtest.URL(t)
	db, err := postgres.Open(t.Context(), url)
	return closing(t, db, err)
}

func closing(t *testing.T, db store.Admin, err error) store.Admin {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the schema's removal, so it runs before it.
	t.Cleanup(func() { db.Close() })
	return db
}
