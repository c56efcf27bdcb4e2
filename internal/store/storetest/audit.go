package storetest

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var auditTests = []test{
	{"InsertAudit records an event ListAudit reads back", []string{"InsertAudit", "ListAudit"}, testInsertAudit},
	{"ListAudit returns the newest events first", []string{"ListAudit"}, testListAuditOrder},
	{"ListAudit filters by time, actor, target and action", []string{"ListAudit"}, testListAuditFilters},
}

var settingsTests = []test{
	{"SetSetting stores and replaces settings", []string{"Settings", "SetSetting"}, testSettings},
}

// event is an audit entry by actor on target.
func event(when time.Time, actor, action, target string) store.AuditEntry {
	return store.AuditEntry{AuditEvent: roster.AuditEvent{At: when, Actor: actor, Via: "local", Action: action, Target: target}}
}

// addEvents records entries in one transaction.
func addEvents(t *testing.T, s store.Store, entries ...store.AuditEntry) {
	t.Helper()
	write(t, s, func(tx store.Tx) error {
		for _, e := range entries {
			if err := tx.InsertAudit(t.Context(), e); err != nil {
				return err
			}
		}
		return nil
	})
}

// listAudit runs ListAudit in a read transaction.
func listAudit(t *testing.T, s store.Store, q store.AuditQuery) []roster.AuditEvent {
	t.Helper()
	var out []roster.AuditEvent
	read(t, s, func(tx store.Tx) error {
		var err error
		out, err = tx.ListAudit(t.Context(), q)
		return err
	})
	return out
}

// actions lists the actions of events, in order.
func actions(events []roster.AuditEvent) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.Action)
	}
	return out
}

func testInsertAudit(t *testing.T, s store.Admin) {
	if got := listAudit(t, s, store.AuditQuery{Limit: 10}); got == nil || len(got) != 0 {
		t.Errorf("ListAudit of a new store = %#v, want an empty list", got)
	}
	uids := addUsers(t, s, "admin@example.com", "ann@example.com")
	e := store.AuditEntry{AuditEvent: roster.AuditEvent{
		At: t0, Actor: "admin@example.com", Via: "token:7", Action: "user.set_role", Target: "ann@example.com",
		Details: map[string]any{
			"from": []string{"member"}, "to": []string{"admin", "member"}, "count": 3, "has_password": true,
			"expires_at": at(time.Hour), "change": map[string]any{"from": "a", "to": "b"}, "empty": "",
		},
	}, ActorID: uids[0], TargetID: uids[1]}
	bare := event(at(time.Second), "local:root", "settings.set", "")
	addEvents(t, s, e, bare)

	got := listAudit(t, s, store.AuditQuery{Limit: 10})
	if len(got) != 2 {
		t.Fatalf("ListAudit returned %d events, want 2", len(got))
	}
	if got[0].ID == 0 || got[1].ID == 0 || got[0].ID == got[1].ID {
		t.Errorf("event ids %d and %d: want two distinct, non-zero ids", got[0].ID, got[1].ID)
	}
	// Details come back as JSON gives them: numbers are float64, lists
	// []any, times their RFC 3339 text.
	want := e.AuditEvent
	want.ID = got[1].ID
	want.Details = map[string]any{
		"from": []any{"member"}, "to": []any{"admin", "member"}, "count": float64(3), "has_password": true,
		"expires_at": at(time.Hour).Format(time.RFC3339Nano), "change": map[string]any{"from": "a", "to": "b"}, "empty": "",
	}
	sameTime(t, "At", got[1].At, t0)
	want.At = got[1].At
	equal(t, "event", got[1], want)
	// An event without details has empty details, not none.
	equal(t, "Details of an event without", got[0].Details, map[string]any{})
	equal(t, "Target of an event without", got[0].Target, "")
	equal(t, "Via", got[0].Via, "local")
}

func testListAuditOrder(t *testing.T, s store.Admin) {
	// One operation writes several events at the same instant; the one
	// written last is the newest.
	addEvents(t, s,
		event(t0, "local:root", "a.first", ""),
		event(at(time.Minute), "local:root", "a.second", ""),
	)
	addEvents(t, s,
		event(at(2*time.Minute), "local:root", "b.first", ""),
		event(at(2*time.Minute), "local:root", "b.second", ""),
		event(at(2*time.Minute), "local:root", "b.third", ""),
	)
	addEvents(t, s, event(at(3*time.Minute), "local:root", "c.only", ""))
	equal(t, "events", actions(listAudit(t, s, store.AuditQuery{Limit: 100})),
		[]string{"c.only", "b.third", "b.second", "b.first", "a.second", "a.first"})
	// The limit keeps the newest.
	equal(t, "newest 4", actions(listAudit(t, s, store.AuditQuery{Limit: 4})),
		[]string{"c.only", "b.third", "b.second", "b.first"})
	equal(t, "newest 1", actions(listAudit(t, s, store.AuditQuery{Limit: 1})), []string{"c.only"})
}

func testListAuditFilters(t *testing.T, s store.Admin) {
	uids := addUsers(t, s, "admin@example.com", "ann@example.com", "bob@example.com")
	admin, ann, bob := uids[0], uids[1], uids[2]
	by := func(e store.AuditEntry, actorID, targetID int64) store.AuditEntry {
		e.ActorID, e.TargetID = actorID, targetID
		return e
	}
	addEvents(t, s,
		by(event(t0, "local:root", "user.create", "admin@example.com"), 0, admin),
		by(event(at(1*time.Minute), "admin@example.com", "user.create", "ann@example.com"), admin, ann),
		by(event(at(2*time.Minute), "admin@example.com", "users.import", ""), admin, 0),
		by(event(at(3*time.Minute), "ann@example.com", "user.update", "ann@example.com"), ann, ann),
		by(event(at(4*time.Minute), "admin@example.com", "role.assign", "bob@example.com"), admin, bob),
		// A deleted user's events keep their names, not their ids.
		event(at(5*time.Minute), "gone@example.com", "user.update", "gone@example.com"),
		by(event(at(6*time.Minute), "local:root", "user.deactivate", "bob.old@example.com"), 0, bob),
	)
	for _, c := range []struct {
		name string
		q    store.AuditQuery
		want []string
	}{
		{"since, inclusive", store.AuditQuery{Since: at(4 * time.Minute)}, []string{"user.deactivate", "user.update", "role.assign"}},
		{"until, inclusive", store.AuditQuery{Until: at(1 * time.Minute)}, []string{"user.create", "user.create"}},
		{"between", store.AuditQuery{Since: at(time.Minute + time.Microsecond), Until: at(3 * time.Minute)}, []string{"user.update", "users.import"}},
		{"actor by id", store.AuditQuery{ActorID: admin}, []string{"role.assign", "users.import", "user.create"}},
		// The core passes the reference it was given as Actor too: the id wins.
		{"actor by id, whatever the name", store.AuditQuery{ActorID: admin, Actor: "admin"}, []string{"role.assign", "users.import", "user.create"}},
		{"actor by name", store.AuditQuery{Actor: "local:root"}, []string{"user.deactivate", "user.create"}},
		{"a deleted actor by name", store.AuditQuery{Actor: "gone@example.com"}, []string{"user.update"}},
		{"target by id, across renames", store.AuditQuery{TargetID: bob, Target: "bob"}, []string{"user.deactivate", "role.assign"}},
		{"target by name", store.AuditQuery{Target: "ann@example.com"}, []string{"user.update", "user.create"}},
		{"action", store.AuditQuery{Action: "user.create"}, []string{"user.create", "user.create"}},
		{"action prefix", store.AuditQuery{Action: "user.*"}, []string{"user.deactivate", "user.update", "user.update", "user.create", "user.create"}},
		{"action prefix of another", store.AuditQuery{Action: "role.*"}, []string{"role.assign"}},
		{"no such action", store.AuditQuery{Action: "user"}, []string{}},
		{"combined", store.AuditQuery{ActorID: admin, Action: "user.*", Since: at(time.Minute)}, []string{"user.create"}},
		{"combined, limited", store.AuditQuery{Action: "user.*", Limit: 2}, []string{"user.deactivate", "user.update"}},
	} {
		if c.q.Limit == 0 {
			c.q.Limit = 100
		}
		equal(t, c.name, actions(listAudit(t, s, c.q)), c.want)
	}
}

func testSettings(t *testing.T, s store.Admin) {
	get := func() map[string]string {
		var m map[string]string
		read(t, s, func(tx store.Tx) error {
			var err error
			m, err = tx.Settings(t.Context())
			return err
		})
		return m
	}
	equal(t, "settings of a new store", get(), map[string]string{})
	write(t, s, func(tx store.Tx) error {
		if err := tx.SetSetting(t.Context(), "seats", "10"); err != nil {
			return err
		}
		return tx.SetSetting(t.Context(), "org.name", "Acmé Corp")
	})
	equal(t, "settings", get(), map[string]string{"seats": "10", "org.name": "Acmé Corp"})
	write(t, s, func(tx store.Tx) error {
		if err := tx.SetSetting(t.Context(), "seats", "0"); err != nil {
			return err
		}
		return tx.SetSetting(t.Context(), "base_url", "")
	})
	equal(t, "settings", get(), map[string]string{"seats": "0", "org.name": "Acmé Corp", "base_url": ""})
}
