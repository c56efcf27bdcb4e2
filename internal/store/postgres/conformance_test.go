package postgres_test

import (
	"context"
	"testing"

	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
	"github.com/roster-dev/roster/internal/store/storetest"
)

// TestConformance holds the adapter to the behaviour the core relies on,
// as store/sqlite is held, each test in a schema of its own.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Postgres)
}

// TestConformanceSerializable runs the suite again with write
// transactions at SERIALIZABLE isolation instead of the advisory lock.
func TestConformanceSerializable(t *testing.T) {
	if testing.Short() {
		t.Skip("the serializable mode's conformance run is skipped in -short")
	}
	storetest.Run(t, func(t *testing.T) store.Admin {
		db, err := postgres.Open(context.Background(), withParam(t, pgtest.URL(t), "roster_tx", "serializable"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
