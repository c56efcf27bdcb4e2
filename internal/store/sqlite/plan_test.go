package sqlite

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// fullScan matches a step of a query plan that reads a whole table or a
// whole index: with many organisations in a store, a hot query must
// find its organisation's rows through an index instead.
var fullScan = regexp.MustCompile(`\bSCAN (users|api_tokens|sessions|audit|user_roles|user_links|projects|memberships)\b`)

// TestHotQueriesUseIndexes: the queries of a request's hot path (its
// token, a user by email, a page of users, a search, the seat count) and the
// lists and counts of an organisation search an index by organisation,
// never scan a table. The statements run are
// taken from the statement cache (seen and prepared) and each is explained.
func TestHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Read(store.WithOrg(ctx, store.SystemOrg), func(tx store.Tx) error {
		if _, _, _, err := tx.TokenUser(ctx, []byte{1}); err != nil {
			return err
		}
		if _, err := tx.UserByRef(ctx, "ann@example.com"); err != nil && !strings.Contains(err.Error(), "not found") {
			return err
		}
		for _, f := range []roster.UserFilter{{Limit: 50}, {Limit: 50, After: store.EncodeCursor("ann@example.com")},
			{Limit: 50, Status: roster.StatusActive},
			// A search's paths: the first window in email order, then
			// the index's candidates (the store is empty: the window is
			// not full, and the candidates are few), by trigram or, for
			// two characters, by the terms holding them; or the scan
			// (one character, which the index does not serve).
			{Limit: 50, Search: "a"}, {Limit: 50, Search: "an"}, {Limit: 50, Search: "ann", Status: roster.StatusActive},
			{Limit: 50, Search: "ann", After: store.EncodeCursor("ann@example.com")}} {
			if _, err := tx.ListUsers(ctx, f); err != nil {
				return err
			}
		}
		if _, err := tx.CountActiveOwners(ctx, time.Now()); err != nil {
			return err
		}
		if _, err := tx.Holders(ctx); err != nil {
			return err
		}
		if _, err := tx.ListTokens(ctx, 0); err != nil {
			return err
		}
		if _, err := tx.ListAudit(ctx, store.AuditQuery{Limit: 50}); err != nil {
			return err
		}
		_, err := tx.CountActive(ctx, time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The texts run: those a transaction ran once are marked seen, not
	// yet prepared for the database.
	db.stmts.mu.Lock()
	var queries []string
	for q := range db.stmts.seen {
		queries = append(queries, q)
	}
	for q := range db.stmts.m {
		if !db.stmts.seen[q] {
			queries = append(queries, q)
		}
	}
	db.stmts.mu.Unlock()
	if len(queries) < 10 {
		t.Fatalf("%d statements cached, want the 10 run", len(queries))
	}
	searches := 0
	for _, q := range queries {
		// The plan does not depend on the values: NULL for each.
		rows, err := db.sql.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, make([]any, strings.Count(q, "?"))...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		// A search's window is a subquery named users, a co-routine: the
		// one SCAN of it reads the window, at most searchWindow rows.
		coroutines := map[string]int{}
		for _, step := range plan {
			if name, ok := strings.CutPrefix(step, "CO-ROUTINE "); ok {
				coroutines[name]++
			}
		}
		for _, step := range plan {
			if name, ok := strings.CutPrefix(step, "SCAN "); ok && coroutines[name] > 0 {
				coroutines[name]--
				continue
			}
			if fullScan.MatchString(step) {
				t.Errorf("%s: plan step %q scans a table\n%s", q, step, strings.Join(plan, "\n"))
			}
		}
		if strings.Contains(q, " LIKE ") {
			searches++
			if !searchPlan(plan) {
				t.Errorf("%s: a search reads neither its organisation's users in users_search_keys nor the trigram index\n%s",
					q, strings.Join(plan, "\n"))
			}
		}
	}
	// The scan, the window, and the candidates of each kind, each with
	// and without a status and a cursor.
	if searches < 6 {
		t.Errorf("%d search statements explained, want at least 6", searches)
	}
}

// searchPlan reports whether plan, a search's, reads users through
// users_search_keys from its organisation's first key (the scan in email
// order, or the window), or takes the trigram index's candidates (by
// trigram, or by the terms holding a text of two characters) and reads
// each by id.
func searchPlan(plan []string) bool {
	for _, step := range plan {
		if strings.HasPrefix(step, "SEARCH users USING COVERING INDEX users_search_keys (org_id=?") {
			return true
		}
	}
	index := func(s string) bool {
		return strings.HasPrefix(s, "SCAN users_search VIRTUAL TABLE") || strings.HasPrefix(s, "SCAN users_search_terms VIRTUAL TABLE")
	}
	return slices.ContainsFunc(plan, index) && slices.Contains(plan, "SEARCH users USING INTEGER PRIMARY KEY (rowid=?)")
}
