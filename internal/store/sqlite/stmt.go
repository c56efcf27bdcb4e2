package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// stmts caches prepared statements by their text. database/sql keeps each
// prepared on every connection that ran it, so a hot query is compiled
// once per connection rather than once per call: compiling SQL dominated
// the server's profile. Queries built from filters have a few shapes
// each; past maxStmts new texts are run unprepared, so the cache cannot
// grow without bound.
type stmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// run counts the statements run through transactions, for tests that
	// hold a request to a number of statements.
	run atomic.Int64
}

const maxStmts = 256

func (c *stmts) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok || len(c.m) >= maxStmts {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.m[q] = st
	return st, nil
}

func (c *stmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	clear(c.m)
}

// Statements is how many statements transactions have run so far.
func (db *DB) Statements() int64 { return db.stmts.run.Load() }

// stmt is q prepared for this transaction (its own connection), or nil
// when q is not cached.
func (t *Tx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	t.stmts.run.Add(1)
	if st, ok := t.bound[q]; ok {
		return st, nil
	}
	ps, err := t.stmts.prepared(ctx, q)
	if ps == nil || err != nil {
		return nil, err
	}
	// The transaction closes the statements bound to it when it ends.
	st := t.tx.StmtContext(ctx, ps)
	if t.bound == nil {
		t.bound = map[string]*sql.Stmt{}
	}
	t.bound[q] = st
	return st, nil
}

func (t *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, q)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return t.tx.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, q)
	if err != nil || st == nil {
		// A failed prepare shows again, as the row's error, when run.
		return t.tx.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, q)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return t.tx.ExecContext(ctx, q, args...)
	}
	return st.ExecContext(ctx, args...)
}
