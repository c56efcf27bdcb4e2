package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/roster-dev/roster/internal/store"
)

// schemaIdempotency holds the recorded answers to write requests made
// with an idempotency key, for a day (see core.Core.Idempotent). Only the
// SHA-256 of a key and of a request are stored, and the answer sealed by
// a key derived from the idempotency key. user_id is no foreign key: 0
// stands for a request without a token, and a deleted user's outcomes
// expire like any other.
const schemaIdempotency = `
CREATE TABLE IF NOT EXISTS idempotency (
	user_id      INTEGER NOT NULL,
	key_hash     BLOB NOT NULL,
	request_hash BLOB NOT NULL,
	status       INTEGER NOT NULL,
	body         BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (user_id, key_hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_at);
`

// Outcome finds the outcome recorded for a user's key.
func (t *Tx) Outcome(ctx context.Context, userID int64, keyHash []byte) (store.Outcome, bool, error) {
	o := store.Outcome{UserID: userID, KeyHash: keyHash}
	var created int64
	err := t.queryRow(ctx, `SELECT request_hash, status, body, created_at FROM idempotency
		WHERE user_id = ? AND key_hash = ?`, userID, keyHash).Scan(&o.Request, &o.Status, &o.Body, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Outcome{}, false, nil
	}
	if err != nil {
		return store.Outcome{}, false, fmt.Errorf("read outcome: %w", err)
	}
	o.CreatedAt = fromMicros(created)
	return o, true, nil
}

// InsertOutcome records an outcome unless the user's key has one.
func (t *Tx) InsertOutcome(ctx context.Context, o store.Outcome) (bool, error) {
	res, err := t.exec(ctx, `INSERT INTO idempotency (user_id, key_hash, request_hash, status, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, key_hash) DO NOTHING`,
		o.UserID, o.KeyHash, o.Request, o.Status, o.Body, micros(o.CreatedAt))
	if err != nil {
		return false, fmt.Errorf("record outcome: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PruneOutcomes deletes the outcomes recorded before a time.
func (t *Tx) PruneOutcomes(ctx context.Context, before time.Time) (int, error) {
	res, err := t.exec(ctx, `DELETE FROM idempotency WHERE created_at < ?`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("prune outcomes: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Savepoint runs fn in a SAVEPOINT: rolled back to when fn fails, and
// released when it succeeds.
func (t *Tx) Savepoint(ctx context.Context, fn func(store.Tx) error) error {
	if t.tx == nil {
		return errors.New("savepoint outside a transaction")
	}
	t.savepoints++
	defer func() { t.savepoints-- }()
	name := "roster_" + strconv.Itoa(t.savepoints)
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(t); err != nil {
		// ROLLBACK TO leaves the savepoint in place; RELEASE ends it.
		end := context.WithoutCancel(ctx)
		if _, rerr := t.tx.ExecContext(end, "ROLLBACK TO "+name); rerr != nil {
			return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
		}
		if _, rerr := t.tx.ExecContext(end, "RELEASE "+name); rerr != nil {
			return errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
		}
		return err
	}
	if _, err := t.tx.ExecContext(ctx, "RELEASE "+name); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}
