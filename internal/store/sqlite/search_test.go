package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/store/storetest"
)

// TestSearchLimits runs the search tests again with a cap of a few
// candidates and windows of a few users, so that every way a search may
// go (the window, the index, the scan) is held to the same results.
func TestSearchLimits(t *testing.T) {
	for _, c := range []struct{ candidates, window, seeks int }{
		{3, 0, 100}, {3, 5, 100}, {1000, 5, 100}, {1000, 40, 100}, {1000, 0, 1}, {1000, 0, 5},
	} {
		t.Run(fmt.Sprintf("candidates=%d,window=%d,seeks=%d", c.candidates, c.window, c.seeks), func(t *testing.T) {
			defer sqlite.SetSearchLimits(c.candidates, c.window, c.seeks)()
			storetest.RunSearch(t, storetest.SQLite)
		})
	}
}

func TestSearchMatch(t *testing.T) {
	for _, c := range []struct{ search, match string }{
		{"ab", ""},
		{"AB", ""},
		{"中😀", ""},
		{"abc", `"abc"`},
		{"ABCD", `"abc" AND "bcd"`},
		{"aaaa", `"aaa"`},
		{`a"b"`, `"a""b" AND """b"""`},
		{"émile", `"émi" AND "mil" AND "ile"`},
		{"x\x00yz", ""},
	} {
		match, ok := sqlite.SearchMatch(c.search)
		if match != c.match || ok != (c.match != "") {
			t.Errorf("searchMatch(%q) = %q, %v; want %q", c.search, match, ok, c.match)
		}
	}
}

// TestCheckFindsSearchPaused: a pause of the search index is never
// committed, but db check says so if a store holds one.
func TestCheckFindsSearchPaused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, problems, err := db.Check(t.Context()); err != nil || len(problems) > 0 {
		t.Fatalf("a new store: %v, %v", problems, err)
	}
	raw, err := sql.Open("sqlite", sqlite.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`INSERT INTO users_search_paused (since) VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	_, problems, err := db.Check(t.Context())
	if err != nil || !slices.Equal(problems, []string{"the search index is paused: users after id 7 are not indexed"}) {
		t.Errorf("Check = %q, %v; want the pause", problems, err)
	}
}

// TestCheckBeforeSearchPause: a store without users_search_paused (made
// before it, and opened read-only, so not migrated) is checked as
// before; here the table is dropped from a new store.
func TestCheckBeforeSearchPause(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", sqlite.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`DROP TABLE users_search_paused`); err != nil {
		t.Fatal(err)
	}
	if db, err = sqlite.Open(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, problems, err := db.Check(t.Context()); err != nil || len(problems) > 0 {
		t.Errorf("Check = %q, %v; want no problem", problems, err)
	}
}
