package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/roster-dev/roster/internal/store"
)

// Tx is one transaction acting in one organisation; its methods are the
// store's queries, and every one of them but the Org* methods and the
// look-ups by secret reads and writes only rows of org. Every statement
// goes through exec, queryRow or collect, which note a serialization
// failure however fn later reports it, and give up on an answer that
// does not come within wait.
type Tx struct {
	*txConn
	// org is the organisation the queries act in (store.OrgOf of the
	// context the transaction began with, or In's).
	org int64
}

// txConn is what the Tx of one transaction in several organisations
// (Tx.In) share.
type txConn struct {
	tx pgx.Tx
	// conflict is the first serialization failure or deadlock a statement
	// met: after it PostgreSQL refuses every statement of the transaction,
	// and only running it again can succeed.
	conflict error
	// wait bounds each statement (DB.wait); 0 is no bound.
	wait time.Duration
}

// Org is the organisation this transaction acts in.
func (t *Tx) Org() int64 { return t.org }

// In is this transaction acting in org.
func (t *Tx) In(org int64) store.Tx { return &Tx{txConn: t.txConn, org: org} }

func (t *Tx) note(err error) error {
	if err != nil && t.conflict == nil && retryable(err) {
		t.conflict = err
	}
	return err
}

func (t *Tx) exec(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := within(ctx, t.wait)
	defer cancel()
	tag, err := t.tx.Exec(ctx, q, args...)
	return tag, t.note(err)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) pgx.Row {
	ctx, cancel := within(ctx, t.wait)
	return notingRow{t: t, row: t.tx.QueryRow(ctx, q, args...), cancel: cancel}
}

type notingRow struct {
	t      *Tx
	row    pgx.Row
	cancel context.CancelFunc
}

func (r notingRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.t.note(r.row.Scan(dest...))
}

// collect runs a query and turns each row into a T with scan; an empty
// result is an empty, not nil, slice.
func collect[T any](ctx context.Context, t *Tx, q string, args []any, scan func(pgx.Row) (T, error)) ([]T, error) {
	ctx, cancel := within(ctx, t.wait)
	defer cancel()
	rows, err := t.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, t.note(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	return out, t.note(err)
}

// found turns "no rows" into found == false.
func found(err error) (bool, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// params numbers the arguments of a query built piece by piece.
type params []any

// add appends v and returns its placeholder.
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// Times are timestamptz: microseconds, like SQLite's integers, and always
// read back in UTC, as SQLite's are.

func utcPtr(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	u := p.UTC()
	return &u
}

// nullString stores "" as NULL, for columns unique when set.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullID stores 0 as NULL, for optional references to users.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// userOf is the condition that the user whose id is in column col belongs
// to the organisation of placeholder org: how the tables reached through a
// user (links, tokens, sessions, notices) are held to one organisation.
func userOf(col, org string) string {
	return col + " IN (SELECT id FROM users WHERE org_id = " + org + ")"
}

// userIDNotFound is the error of a write for a user id that is no user of
// the transaction's organisation.
func userIDNotFound(id int64) error {
	return store.UserNotFound(strconv.FormatInt(id, 10))
}
