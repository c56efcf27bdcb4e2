package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/roster-dev/roster/internal/store"
)

// maxAuditChunk is the most events one INSERT carries: 8 values each,
// well under SQLite's 32,766 variables per statement.
const maxAuditChunk = 512

// InsertAudits records events in order, many to a statement: an import
// of 100,000 users spent a sixth of its time inserting their events one
// by one. Chunks are powers of two, so that whatever the count the
// statement cache holds at most ten texts of it.
func (t *Tx) InsertAudits(ctx context.Context, entries []store.AuditEntry) error {
	for len(entries) > 0 {
		n := maxAuditChunk
		for n > len(entries) {
			n /= 2
		}
		var q strings.Builder
		q.WriteString(`INSERT INTO audit (at, actor, actor_id, via, action, target, target_id, details) VALUES `)
		args := make([]any, 0, 8*n)
		for i, e := range entries[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			row, err := auditRow(e)
			if err != nil {
				return err
			}
			args = append(args, row...)
		}
		if _, err := t.exec(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("write audit events: %w", err)
		}
		entries = entries[n:]
	}
	return nil
}

// auditRow is an event's values in the order of the audit table's columns.
func auditRow(e store.AuditEntry) ([]any, error) {
	details := []byte("{}")
	if len(e.Details) > 0 {
		var err error
		if details, err = json.Marshal(e.Details); err != nil {
			return nil, fmt.Errorf("audit details: %w", err)
		}
	}
	var actorID, targetID any
	if e.ActorID != 0 {
		actorID = e.ActorID
	}
	if e.TargetID != 0 {
		targetID = e.TargetID
	}
	return []any{micros(e.At), e.Actor, actorID, e.Via, e.Action, e.Target, targetID, string(details)}, nil
}
