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

// prepared returns q prepared, or nil when it is not to be cached (the
// cache is full) or does not prepare: run unprepared, its error then
// shows where it is run, as any other statement's.
func (c *stmts) prepared(ctx context.Context, q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok || len(c.m) >= maxStmts {
		return st
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.m[q] = st
	return st
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
// when q is to run unprepared.
func (t *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	t.stmts.run.Add(1)
	if st, ok := t.bound[q]; ok {
		return st
	}
	ps := t.stmts.prepared(ctx, q)
	if ps == nil || t.tx == nil {
		return ps // outside a transaction the statement needs no binding
	}
	// The transaction closes the statements bound to it when it ends.
	st := t.tx.StmtContext(ctx, ps)
	if t.bound == nil {
		t.bound = map[string]*sql.Stmt{}
	}
	t.bound[q] = st
	return st
}

// querier runs statements: a transaction, or the database itself.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func (t *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, q, args...)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, q, args...)
}

func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, q, args...)
}
