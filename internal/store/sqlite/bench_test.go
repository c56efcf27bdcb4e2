package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster/internal/store/sqlite"

	"github.com/roster-dev/roster/internal/store/storetest"
)

// BenchmarkSearch measures user list --search, the first page, over
// 100,000 users (ROSTER_BENCH_USERS=1000000 for the target's million):
//
//	go test -run '^$' -bench Search -benchtime 20x ./internal/store/sqlite/
func BenchmarkSearch(b *testing.B) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "roster.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchSearch(b, db, nil)
}
