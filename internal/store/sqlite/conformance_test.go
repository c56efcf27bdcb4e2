package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/store/storetest"
)

// TestConformance runs the store conformance suite on a SQLite file.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Admin {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return db
	})
}
