package sqlite

import (
	"context"
	"path/filepath"
	"regexp"
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
// token, a user by email, a page of users, the seat count) and the
// lists and counts of an organisation search an index by organisation,
// never scan a table. The statements run are
// taken from the statement cache and each is explained.
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
			{Limit: 50, Status: roster.StatusActive}} {
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
	db.stmts.mu.Lock()
	var queries []string
	for q := range db.stmts.m {
		queries = append(queries, q)
	}
	db.stmts.mu.Unlock()
	if len(queries) < 10 {
		t.Fatalf("%d statements cached, want the 10 run", len(queries))
	}
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
		for _, step := range plan {
			if fullScan.MatchString(step) {
				t.Errorf("%s: plan step %q scans a table\n%s", q, step, strings.Join(plan, "\n"))
			}
		}
	}
}
