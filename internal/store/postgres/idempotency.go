package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/store"
)

// schemaIdempotency holds the recorded answers to write requests made
// with an idempotency key, as SQLite's schemaIdempotency does.
const schemaIdempotency = `
CREATE TABLE idempotency (
	user_id      bigint NOT NULL,
	key_hash     bytea NOT NULL,
	request_hash bytea NOT NULL,
	status       integer NOT NULL,
	body         bytea NOT NULL,
	created_at   timestamptz NOT NULL,
	PRIMARY KEY (user_id, key_hash)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
`

// Outcome finds the outcome recorded for a user's key. Outcomes are a
// user's, whose id is of one organisation, and of requests without a
// token (user 0): they are found by user and key, in no organisation.
func (t *Tx) Outcome(ctx context.Context, userID int64, keyHash []byte) (store.Outcome, bool, error) {
	o := store.Outcome{UserID: userID, KeyHash: keyHash}
	err := t.queryRow(ctx, `SELECT request_hash, status, body, created_at FROM idempotency
		WHERE user_id = $1 AND key_hash = $2`, userID, keyHash).Scan(&o.Request, &o.Status, &o.Body, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Outcome{}, false, nil
	}
	if err != nil {
		return store.Outcome{}, false, fmt.Errorf("read outcome: %w", err)
	}
	o.CreatedAt = o.CreatedAt.UTC()
	return o, true, nil
}

// InsertOutcome records an outcome unless the user's key has one.
func (t *Tx) InsertOutcome(ctx context.Context, o store.Outcome) (bool, error) {
	tag, err := t.exec(ctx, `INSERT INTO idempotency (user_id, key_hash, request_hash, status, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, key_hash) DO NOTHING`,
		o.UserID, o.KeyHash, o.Request, o.Status, o.Body, o.CreatedAt.UTC())
	if err != nil {
		return false, fmt.Errorf("record outcome: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// PruneOutcomes deletes the outcomes recorded before a time.
func (t *Tx) PruneOutcomes(ctx context.Context, before time.Time) (int, error) {
	tag, err := t.exec(ctx, `DELETE FROM idempotency WHERE created_at < $1`, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("prune outcomes: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Savepoint runs fn in a SAVEPOINT (pgx's nested transaction): rolled back
// to when fn fails, released when it succeeds. A serialization failure
// inside it is still the whole transaction's.
func (t *Tx) Savepoint(ctx context.Context, fn func(store.Tx) error) (err error) {
	bctx, cancel := within(ctx, t.wait)
	sp, err := t.tx.Begin(bctx)
	cancel()
	if err != nil {
		return fmt.Errorf("savepoint: %w", t.note(err))
	}
	inner := &Tx{txConn: &txConn{tx: sp, wait: t.wait}, org: t.org}
	defer func() {
		if inner.conflict != nil && t.conflict == nil {
			t.conflict = inner.conflict
		}
	}()
	if err := fn(inner); err != nil {
		ectx, cancel := within(context.WithoutCancel(ctx), max(t.wait, endTimeout))
		defer cancel()
		if rerr := sp.Rollback(ectx); rerr != nil {
			return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", inner.note(rerr)))
		}
		return err
	}
	cctx, cancel := within(ctx, t.wait)
	defer cancel()
	if err := sp.Commit(cctx); err != nil {
		return fmt.Errorf("release savepoint: %w", inner.note(err))
	}
	return nil
}
