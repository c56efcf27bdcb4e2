package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/store"
)

// The writes of many things at once (import, apply), kept apart from the
// aggregates' files.
func init() {
	auditTests = append(auditTests,
		test{"InsertAudits records many events in order, as InsertAudit would", []string{"InsertAudits"}, testInsertAudits})
}

func testInsertAudits(t *testing.T, s store.Admin) {
	uids := addUsers(t, s, "admin@example.com", "ann@example.com")
	// More than one statement's worth, so that chunking shows.
	const n = 1234
	entries := make([]store.AuditEntry, n)
	for i := range entries {
		entries[i] = event(at(time.Duration(i)*time.Millisecond), "admin@example.com", fmt.Sprintf("bulk.%04d", i), "ann@example.com")
		entries[i].ActorID, entries[i].TargetID = uids[0], uids[1]
	}
	entries[0].Details = map[string]any{"roles": []string{"member"}, "has_password": false}
	write(t, s, func(tx store.Tx) error {
		if err := tx.InsertAudits(t.Context(), nil); err != nil {
			return fmt.Errorf("no events: %w", err)
		}
		return tx.InsertAudits(t.Context(), entries)
	})
	got := listAudit(t, s, store.AuditQuery{Limit: 2 * n})
	if len(got) != n {
		t.Fatalf("ListAudit returned %d events, want %d", len(got), n)
	}
	for i, e := range got {
		if want := fmt.Sprintf("bulk.%04d", n-1-i); e.Action != want {
			t.Fatalf("event %d is %s, want %s: newest first, in the order written", i, e.Action, want)
		}
	}
	oldest := got[n-1]
	sameTime(t, "At", oldest.At, t0)
	equal(t, "Details", oldest.Details, map[string]any{"roles": []any{"member"}, "has_password": false})
	equal(t, "Details of an event without", got[0].Details, map[string]any{})
	equal(t, "Actor", oldest.Actor, "admin@example.com")
	equal(t, "Target", oldest.Target, "ann@example.com")
	// The ids given are the ones filters use.
	byTarget := listAudit(t, s, store.AuditQuery{TargetID: uids[1], Limit: 1})
	if len(byTarget) != 1 || byTarget[0].Action != fmt.Sprintf("bulk.%04d", n-1) {
		t.Errorf("ListAudit by target id = %v", actions(byTarget))
	}
}
