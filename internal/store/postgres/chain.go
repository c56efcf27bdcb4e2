package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/store"
)

// chainColumns are the audit table's columns in the order chainRow gives
// their values.
var chainColumns = []string{"id", "org_id", "at", "actor", "actor_id", "via", "action", "target", "target_id", "details", "prev_hash", "hash"}

// InsertAudit records an event.
func (t *Tx) InsertAudit(ctx context.Context, e store.AuditEntry) error {
	return t.InsertAudits(ctx, []store.AuditEntry{e})
}

// InsertAudits records events in order, chained (store.Chain): one
// statement takes their ids from the sequence and the hash of the
// organisation's last event, then one INSERT, or one COPY for many: an
// import of 100,000 users would otherwise make 100,000 round trips for
// its events. Writers are serialised (or, at SERIALIZABLE, the read of
// the last hash conflicts with a concurrent insert), so the chain is a
// line.
func (t *Tx) InsertAudits(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(entries))
	var prev []byte
	ctx, cancel := within(ctx, t.wait)
	defer cancel()
	rows, err := t.tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('audit', 'id')),
		(SELECT hash FROM audit WHERE org_id = $1 ORDER BY id DESC LIMIT 1) FROM generate_series(1, $2)`, t.org, len(entries))
	if err = t.note(err); err != nil {
		return fmt.Errorf("write audit events: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &prev); err != nil {
			rows.Close()
			return fmt.Errorf("write audit events: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := t.note(rows.Err()); err != nil {
		return fmt.Errorf("write audit events: %w", err)
	}
	values := make([][]any, len(entries))
	for i, e := range entries {
		c, err := store.Chain(e, t.org, ids[i], prev)
		if err != nil {
			return err
		}
		values[i], prev = chainRow(c), c.Hash
	}
	if len(values) == 1 {
		_, err = t.tx.Exec(ctx, `INSERT INTO audit (id, org_id, at, actor, actor_id, via, action, target, target_id, details, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, values[0]...)
	} else {
		_, err = t.tx.CopyFrom(ctx, pgx.Identifier{"audit"}, chainColumns, pgx.CopyFromRows(values))
	}
	if err = t.note(err); err != nil {
		return fmt.Errorf("write audit events: %w", err)
	}
	return nil
}

// chainRow is an event's values in the order of chainColumns. Details go
// as the text Chain hashed, which jsonb reads.
func chainRow(c store.ChainedEvent) []any {
	return []any{c.ID, c.Org, c.At, c.Actor, nullID(c.ActorID), c.Via, c.Action, c.Target, nullID(c.TargetID),
		string(c.Details), c.Prev, c.Hash}
}

// AuditChain returns events after an id, oldest first, with their hashes.
func (t *Tx) AuditChain(ctx context.Context, afterID int64, limit int) ([]store.ChainedEvent, error) {
	return collect(ctx, t, chainQuery, []any{t.org, afterID, limit}, scanChained)
}

const chainQuery = `SELECT id, org_id, at, actor, COALESCE(actor_id, 0), via, action, target, COALESCE(target_id, 0),
	details::text, prev_hash, hash FROM audit WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3`

func scanChained(r pgx.Row) (store.ChainedEvent, error) {
	var c store.ChainedEvent
	var details string
	err := r.Scan(&c.ID, &c.Org, &c.At, &c.Actor, &c.ActorID, &c.Via, &c.Action, &c.Target, &c.TargetID, &details, &c.Prev, &c.Hash)
	c.At, c.Details = c.At.UTC(), []byte(details)
	return c, err
}

// PruneAudit deletes the events before a time but the newest.
func (t *Tx) PruneAudit(ctx context.Context, before time.Time) (int, []byte, error) {
	tag, err := t.exec(ctx, `DELETE FROM audit WHERE org_id = $1 AND at < $2
		AND id < (SELECT max(id) FROM audit WHERE org_id = $1)`, t.org, before)
	if err != nil {
		return 0, nil, fmt.Errorf("prune audit events: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return 0, nil, nil
	}
	var anchor []byte
	err = t.queryRow(ctx, `SELECT prev_hash FROM audit WHERE org_id = $1 ORDER BY id LIMIT 1`, t.org).Scan(&anchor)
	return int(tag.RowsAffected()), anchor, err
}

// chainAudit adds the hash columns and chains the events already stored,
// organisation by organisation, in id order.
func chainAudit(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `ALTER TABLE audit ADD COLUMN prev_hash bytea, ADD COLUMN hash bytea`); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT org_id FROM audit`)
	if err != nil {
		return err
	}
	orgs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	for _, org := range orgs {
		err := store.Rechain(ctx, org, func(after int64) ([]store.ChainedEvent, error) {
			rows, err := tx.Query(ctx, chainQuery, org, after, 1000)
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.ChainedEvent, error) { return scanChained(r) })
		}, func(c store.ChainedEvent) error {
			_, err := tx.Exec(ctx, `UPDATE audit SET prev_hash = $1, hash = $2 WHERE id = $3`, c.Prev, c.Hash, c.ID)
			return err
		})
		if err != nil {
			return fmt.Errorf("chain the audit log: %w", err)
		}
	}
	return nil
}
