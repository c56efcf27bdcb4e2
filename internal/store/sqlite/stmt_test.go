package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// TestStatementsPreparedOnTheTransaction: a command of the CLI runs one
// transaction, on one SQLite connection; preparing its statements for
// the database would open a second (its pragmas, the schema read again).
// A text a second transaction runs is prepared for the database, so that
// a server compiles its hot statements once per connection.
func TestStatementsPreparedOnTheTransaction(t *testing.T) {
	ctx := store.WithOrg(context.Background(), store.SystemOrg)
	db, err := Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	list := func() {
		t.Helper()
		err := db.Write(ctx, func(tx store.Tx) error {
			if _, err := tx.UserByRef(ctx, "ann@example.com"); err != nil && !errors.Is(err, roster.ErrNotFound) {
				return err
			}
			_, err := tx.ListUsers(ctx, roster.UserFilter{Limit: 50})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	list()
	if n := db.sql.Stats().OpenConnections; n != 1 {
		t.Errorf("%d connections open after one transaction, want 1", n)
	}
	db.stmts.mu.Lock()
	prepared, seen := len(db.stmts.m), len(db.stmts.seen)
	db.stmts.mu.Unlock()
	if prepared != 0 || seen < 2 {
		t.Errorf("after one transaction: %d statements prepared for the database, %d seen; want 0 and at least 2", prepared, seen)
	}
	list()
	db.stmts.mu.Lock()
	prepared = len(db.stmts.m)
	db.stmts.mu.Unlock()
	if prepared != seen {
		t.Errorf("after a second transaction: %d statements prepared for the database, want the %d seen", prepared, seen)
	}
}
