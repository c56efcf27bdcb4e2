package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// The writes of many things at once (import, apply), kept apart from the
// aggregates' files.
func init() {
	auditTests = append(auditTests,
		test{"InsertAudits records many events in order, as InsertAudit would", []string{"InsertAudits"}, testInsertAudits})
	userTests = append(userTests,
		test{"InsertUsers stores many users as InsertUser would, ids in order and never reused", []string{"InsertUsers"}, testInsertUsers},
		test{"UsersByKey finds many users by email in any letter case", []string{"UsersByKey"}, testUsersByKey})
	projectTests = append(projectTests,
		test{"InsertMembers adds many memberships and keeps those that exist", []string{"InsertMembers"}, testInsertMembers})
}

func testInsertUsers(t *testing.T, s store.Admin) {
	old := addUsers(t, s, "old@example.com", "gone@example.com")
	// A deleted user's id, kept by the audit log, is not given again.
	write(t, s, func(tx store.Tx) error {
		if err := tx.DeleteUser(t.Context(), old[1]); err != nil {
			return err
		}
		return tx.InsertAudit(t.Context(), store.AuditEntry{AuditEvent: roster.AuditEvent{
			At: t0, Actor: "local:root", Via: "local", Action: "user.delete", Target: "gone@example.com"}, TargetID: old[1]})
	})
	// More than one statement's worth, so that chunking shows.
	const n = 1100
	users := make([]store.UserRow, n)
	for i := range users {
		users[i] = member(fmt.Sprintf("bulk%04d@example.com", i))
	}
	full := &users[7]
	full.Email, full.Name, full.Username, full.PasswordHash = "Full@Example.com", "Full Name", "full", "$argon2id$v=19$x"
	full.Roles = []string{roster.RoleAdmin, roster.RoleMember}
	full.Links = map[string]string{"github": "full-gh", "employee": "7"}
	gone := &users[8]
	gone.Status, gone.StatusBefore, gone.DeactivatedAt, gone.Reason = roster.StatusDeactivated, roster.StatusInvited, ptr(at(time.Hour)), "left"
	var ids []int64
	write(t, s, func(tx store.Tx) error {
		if got, err := tx.InsertUsers(t.Context(), nil); err != nil || len(got) != 0 {
			return fmt.Errorf("no users: %v, %v", got, err)
		}
		var err error
		ids, err = tx.InsertUsers(t.Context(), users)
		return err
	})
	if len(ids) != n {
		t.Fatalf("InsertUsers returned %d ids, want %d", len(ids), n)
	}
	seen := map[int64]bool{old[0]: true, old[1]: true}
	for i, id := range ids {
		if seen[id] || id == 0 {
			t.Fatalf("id %d (user %d) is 0 or given before", id, i)
		}
		seen[id] = true
	}
	for _, i := range []int{0, 7, 8, n - 1} {
		got := getUser(t, s, byID(ids[i]))
		want := users[i]
		equal(t, "Email", got.Email, want.Email)
		equal(t, "Name", got.Name, want.Name)
		equal(t, "Username", got.Username, want.Username)
		equal(t, "Status", got.Status, want.Status)
		equal(t, "PasswordHash", got.PasswordHash, want.PasswordHash)
		equal(t, "Roles", got.Roles, want.Roles)
		sameTime(t, "CreatedAt", got.CreatedAt, t0)
		if len(want.Links) > 0 {
			equal(t, "Links", got.Links, want.Links)
		}
		if i == 8 {
			equal(t, "StatusBefore", store.StatusBefore(got), roster.StatusInvited)
			equal(t, "Reason", got.Reason, "left")
			sameTimePtr(t, "DeactivatedAt", got.DeactivatedAt, ptr(at(time.Hour)))
		}
	}
	// The keys lookups use are set: by username, by link, by email in
	// another case.
	equal(t, "by username", getUser(t, s, "full").ID, ids[7])
	equal(t, "by link", getUser(t, s, "github:full-gh").ID, ids[7])
	equal(t, "by email", getUser(t, s, "full@example.COM").ID, ids[7])
	// And the next single insert goes on after them.
	if next := addUser(t, s, member("next@example.com")); seen[next] {
		t.Errorf("InsertUser after InsertUsers gave id %d again", next)
	}
}

func testUsersByKey(t *testing.T, s store.Admin) {
	ids := addUsers(t, s, "Ann@example.com", "bob@example.com")
	emails := []string{"ann@EXAMPLE.com", "nobody@example.com", "bob@example.com"}
	for i := range 1100 { // more than one statement's worth
		emails = append(emails, fmt.Sprintf("none%04d@example.com", i))
	}
	var got map[string]int64
	read(t, s, func(tx store.Tx) error {
		var err error
		found, err := tx.UsersByKey(t.Context(), emails)
		got = idsOf(found)
		if u := found["ann@example.com"]; u.Email != "Ann@example.com" || len(u.Roles) == 0 {
			t.Errorf("UsersByKey's ann: %+v, want her whole row", u)
		}
		return err
	})
	equal(t, "UsersByKey", got, map[string]int64{"ann@example.com": ids[0], "bob@example.com": ids[1]})
}

// idsOf is the ids of users by key.
func idsOf(users map[string]store.UserRow) map[string]int64 {
	out := make(map[string]int64, len(users))
	for k, u := range users {
		out[k] = u.ID
	}
	return out
}

func testInsertMembers(t *testing.T, s store.Admin) {
	uids := addUsers(t, s, "a@example.com", "b@example.com")
	web, api := addProject(t, s, "web", ""), addProject(t, s, "api", "")
	join(t, s, web, uids[0])
	write(t, s, func(tx store.Tx) error {
		if err := tx.InsertMembers(t.Context(), nil, t0); err != nil {
			return err
		}
		return tx.InsertMembers(t.Context(), []store.Membership{{ProjectID: web, UserID: uids[0]}, {ProjectID: web, UserID: uids[1]}, {ProjectID: api, UserID: uids[1]}}, t0)
	})
	equal(t, "a's projects", getUser(t, s, "a@example.com").Projects, []string{"web"})
	equal(t, "b's projects", getUser(t, s, "b@example.com").Projects, []string{"api", "web"})
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
