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
//
// A text is prepared for the database only when a second transaction
// runs it; the first prepares it on its own connection alone. Prepared
// for the database while a transaction held the one connection a command
// of the CLI needs, every statement opened a second connection (its
// pragmas, the schema read again) and was compiled twice: a tenth of
// roster user create.
type stmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// seen are the texts a transaction prepared for itself, not yet for
	// the database; at most maxStmts.
	seen map[string]bool
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

// preparedAgain is prepared for a transaction: q prepared for the
// database if a transaction ran it before, else nil (and q is marked as
// run), as it is when the cache is full.
func (c *stmts) preparedAgain(ctx context.Context, q string) *sql.Stmt {
	c.mu.Lock()
	seen := c.seen[q]
	if !seen && len(c.seen) < maxStmts {
		if c.seen == nil {
			c.seen = map[string]bool{}
		}
		c.seen[q] = true
	}
	_, cached := c.m[q]
	c.mu.Unlock()
	if !seen && !cached {
		return nil
	}
	return c.prepared(ctx, q)
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
	if t.tx == nil {
		return t.stmts.prepared(ctx, q) // outside a transaction the statement needs no binding
	}
	// The transaction closes the statements bound to it when it ends.
	var st *sql.Stmt
	if ps := t.stmts.preparedAgain(ctx, q); ps != nil {
		st = t.tx.StmtContext(ctx, ps)
	} else {
		var err error
		if st, err = t.tx.PrepareContext(ctx, q); err != nil {
			return nil // run unprepared, its error shown where it runs
		}
	}
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
