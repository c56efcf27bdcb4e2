package sqlite_test

import (
	"testing"

	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/store/storetest"
)

// TestSearchBeyondCandidates runs the search tests again with a cap of
// a few candidates, so that searches found in more users than that take
// the scan, and both ways are held to the same results.
func TestSearchBeyondCandidates(t *testing.T) {
	defer sqlite.SetSearchCandidates(3)()
	storetest.RunSearch(t, storetest.SQLite)
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
