package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/roster-dev/roster/internal/store"
)

// auditChunk is how many events one INSERT of InsertAudits carries: 8
// values each, well under SQLite's 32,766 variables per statement. Two
// statement texts at most (a full chunk and the rest) stay in the
// statement cache.
const auditChunk = 500

// InsertAudits records events in order, many to a statement: an import
// of 100,000 users spent a sixth of its time inserting their events one
// by one.
func (t *Tx) InsertAudits(ctx context.Context, entries []store.AuditEntry) error {
	for len(entries) > 0 {
		n := min(len(entries), auditChunk)
		var q strings.Builder
		q.WriteString(`INSERT INTO audit (at, actor, actor_id, via, action, target, target_id, details) VALUES `)
		args := make([]any, 0, 8*n)
		for i, e := range entries[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			details := []byte("{}")
			if len(e.Details) > 0 {
				var err error
				if details, err = json.Marshal(e.Details); err != nil {
					return fmt.Errorf("audit details: %w", err)
				}
			}
			var actorID, targetID any
			if e.ActorID != 0 {
				actorID = e.ActorID
			}
			if e.TargetID != 0 {
				targetID = e.TargetID
			}
			args = append(args, micros(e.At), e.Actor, actorID, e.Via, e.Action, e.Target, targetID, string(details))
		}
		if _, err := t.exec(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("write audit events: %w", err)
		}
		entries = entries[n:]
	}
	return nil
}
