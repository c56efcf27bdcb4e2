package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/roster-dev/roster/internal/store"
)

// maxAuditChunk is the most events one INSERT carries: 12 values each,
// well under SQLite's 32,766 variables per statement.
const maxAuditChunk = 1024

// chainHeadSQL reads the largest audit id and the last hash of
// organisation ?, which the next event follows.
const chainHeadSQL = `SELECT COALESCE((SELECT max(id) FROM audit), 0),
	(SELECT hash FROM audit WHERE org_id = ? ORDER BY id DESC LIMIT 1)`

// InsertAudits records events in order, many to a statement: an import
// of 100,000 users spent a sixth of its time inserting their events one
// by one. Chunks are powers of two, so that whatever the count the
// statement cache holds at most ten texts of it. Each event is given its
// id here, the next after the largest (as SQLite would), so that its hash
// can cover it: the write lock makes the ids and the chain a line.
func (t *Tx) InsertAudits(ctx context.Context, entries []store.AuditEntry) error {
	var id int64
	var prev []byte
	if err := t.queryRow(ctx, chainHeadSQL, t.org).Scan(&id, &prev); err != nil {
		return fmt.Errorf("write audit events: %w", err)
	}
	for len(entries) > 0 {
		n := maxAuditChunk
		for n > len(entries) {
			n /= 2
		}
		vals := make([]any, 0, 12*n)
		for _, e := range entries[:n] {
			id++
			c, err := store.Chain(e, t.org, id, prev)
			if err != nil {
				return err
			}
			vals = appendChainRow(vals, c)
			prev = c.Hash
		}
		rows, args := sharedValues(vals, 12)
		if _, err := t.exec(ctx, `INSERT INTO audit (id, org_id, at, actor, actor_id, via, action, target, target_id, details, prev_hash, hash) `+rows, args...); err != nil {
			return fmt.Errorf("write audit events: %w", err)
		}
		entries = entries[n:]
	}
	return nil
}

// appendChainRow appends an event's values in the order InsertAudits
// names them.
func appendChainRow(args []any, c store.ChainedEvent) []any {
	return append(args, c.ID, c.Org, micros(c.At), c.Actor, nullID(c.ActorID), c.Via, c.Action, c.Target, nullID(c.TargetID),
		string(c.Details), c.Prev, c.Hash)
}

// nullID is NULL for an id of 0 (no user).
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// AuditChain returns events after an id, oldest first, with their hashes.
func (t *Tx) AuditChain(ctx context.Context, afterID int64, limit int) ([]store.ChainedEvent, error) {
	return auditChain(ctx, t.q, t.org, afterID, limit)
}

func auditChain(ctx context.Context, q querier, org, afterID int64, limit int) ([]store.ChainedEvent, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, org_id, at, actor, COALESCE(actor_id, 0), via, action, target,
		COALESCE(target_id, 0), details, prev_hash, hash FROM audit WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?`,
		org, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	defer rows.Close()
	var out []store.ChainedEvent
	for rows.Next() {
		var c store.ChainedEvent
		var at int64
		var details string
		if err := rows.Scan(&c.ID, &c.Org, &at, &c.Actor, &c.ActorID, &c.Via, &c.Action, &c.Target, &c.TargetID,
			&details, &c.Prev, &c.Hash); err != nil {
			return nil, fmt.Errorf("read audit events: %w", err)
		}
		c.At, c.Details = fromMicros(at), []byte(details)
		out = append(out, c)
	}
	return out, rows.Err()
}

// PruneAudit deletes the events before a time but the newest.
func (t *Tx) PruneAudit(ctx context.Context, before time.Time) (int, []byte, error) {
	res, err := t.exec(ctx, `DELETE FROM audit WHERE org_id = ? AND at < ?
		AND id < (SELECT max(id) FROM audit WHERE org_id = ?)`, t.org, micros(before), t.org)
	if err != nil {
		return 0, nil, fmt.Errorf("prune audit events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return 0, nil, err
	}
	var anchor []byte
	err = t.queryRow(ctx, `SELECT prev_hash FROM audit WHERE org_id = ? ORDER BY id LIMIT 1`, t.org).Scan(&anchor)
	return int(n), anchor, err
}

// schemaChain gives audit events their hashes (see store.Chain).
const schemaChain = `
ALTER TABLE audit ADD COLUMN prev_hash BLOB;
ALTER TABLE audit ADD COLUMN hash BLOB;
`

// chainAudit adds the hash columns and chains the events already stored,
// organisation by organisation, in id order.
func chainAudit(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, schemaChain); err != nil {
		return err
	}
	orgs, err := tx.QueryContext(ctx, `SELECT DISTINCT org_id FROM audit`)
	if err != nil {
		return err
	}
	var ids []int64
	for orgs.Next() {
		var id int64
		if err := orgs.Scan(&id); err != nil {
			orgs.Close()
			return err
		}
		ids = append(ids, id)
	}
	if err := orgs.Close(); err != nil {
		return err
	}
	for _, org := range ids {
		if err := store.Rechain(ctx, org, func(after int64) ([]store.ChainedEvent, error) {
			return auditChain(ctx, tx, org, after, 1000)
		}, func(c store.ChainedEvent) error {
			_, err := tx.ExecContext(ctx, `UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?`, c.Prev, c.Hash, c.ID)
			return err
		}); err != nil {
			return fmt.Errorf("chain the audit log: %w", err)
		}
	}
	return nil
}
