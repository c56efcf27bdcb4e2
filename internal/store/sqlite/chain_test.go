package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/store/storetest"
)

// TestAuditTampering changes, removes and inserts audit events with SQL
// on a connection of its own, as someone holding the file could, and
// checks that audit verify names the first.
func TestAuditTampering(t *testing.T) {
	storetest.RunTamper(t, func(t *testing.T) (store.Admin, storetest.Tampering) {
		path := filepath.Join(t.TempDir(), "roster.db")
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db, func(t *testing.T, q string, args ...any) {
			t.Helper()
			conn, err := sql.Open("sqlite", sqlite.DSN(path))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.ExecContext(t.Context(), q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
}
