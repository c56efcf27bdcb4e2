package storetest

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var sessionTests = []test{
	{"InsertSession stores a session that SessionUser finds with its user, roles loaded", []string{"InsertSession", "SessionUser"}, testSessionUser},
	{"TouchSession records activity at most once a minute", []string{"TouchSession"}, testTouchSession},
	{"EndSessions ends one session of a user or all of them", []string{"EndSessions"}, testEndSessions},
	{"EndSessionsExcept ends a user's sessions but one", []string{"EndSessionsExcept"}, testEndSessionsExcept},
	{"a deleted user's sessions and notices mark go with it", []string{"DeleteUser", "EndSessions", "NoticesSeen"}, testSessionsOfDeletedUser},
	{"session ids are never reused", []string{"InsertSession"}, testSessionIDsNotReused},
	{"NoticesSeen is 0 until SetNoticesSeen sets it", []string{"NoticesSeen", "SetNoticesSeen"}, testNoticesSeen},
	{"ListAudit returns only events after AfterID", []string{"ListAudit"}, testListAuditAfterID},
	{"a sign-in link is stored, found by its kind and consumed once", []string{"InsertLink", "LinkByHash", "LatestLink", "ConsumeLink", "RevokeLinks", "ListInvitations"}, testSignInLink},
}

// newSession is a session as the core makes one at sign-in, for user id,
// with a token hash unique to name.
func newSession(userID int64, name string, created time.Time) store.SessionRow {
	return store.SessionRow{UserID: userID, TokenHash: []byte("sha256-of-session-" + name), Method: "password",
		Address: "192.0.2.7", CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(30 * 24 * time.Hour)}
}

// addSession stores a session in its own transaction and returns its id.
func addSession(t *testing.T, s store.Store, row store.SessionRow) int64 {
	t.Helper()
	var id int64
	write(t, s, func(tx store.Tx) error {
		var err error
		id, err = tx.InsertSession(t.Context(), row)
		return err
	})
	if id == 0 {
		t.Fatalf("InsertSession(%s) returned id 0", row.TokenHash)
	}
	return id
}

// sessionUser runs SessionUser for the session named name (see newSession).
func sessionUser(t *testing.T, s store.Store, name string) (store.SessionRow, store.UserRow, bool) {
	t.Helper()
	var row store.SessionRow
	var u store.UserRow
	var found bool
	read(t, s, func(tx store.Tx) error {
		var err error
		row, u, found, err = tx.SessionUser(t.Context(), []byte("sha256-of-session-"+name))
		return err
	})
	return row, u, found
}

// session loads the session named name, failing the test if there is none.
func session(t *testing.T, s store.Store, name string) store.SessionRow {
	t.Helper()
	row, _, found := sessionUser(t, s, name)
	if !found {
		t.Fatalf("SessionUser(%s): not found", name)
	}
	return row
}

// endSessions runs EndSessions in a write transaction.
func endSessions(t *testing.T, s store.Store, userID, id int64) int {
	t.Helper()
	var n int
	write(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.EndSessions(t.Context(), userID, id)
		return err
	})
	return n
}

// noticesSeen runs NoticesSeen in a read transaction.
func noticesSeen(t *testing.T, s store.Store, userID int64) int64 {
	t.Helper()
	var id int64
	read(t, s, func(tx store.Tx) error {
		var err error
		id, err = tx.NoticesSeen(t.Context(), userID)
		return err
	})
	return id
}

func testSessionUser(t *testing.T, s store.Admin) {
	u := member("Ann@Example.com")
	u.Name, u.Links = "Ann Lee", map[string]string{"github": "ann"}
	uid := addUser(t, s, u)
	write(t, s, func(tx store.Tx) error {
		return tx.SetUserRoles(t.Context(), uid, []string{roster.RoleViewer, roster.RoleManager})
	})
	other := addUser(t, s, member("bob@example.com"))
	addSession(t, s, newSession(other, "bob", t0))

	// Times given in another zone come back in UTC, to the microsecond.
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	in := store.SessionRow{UserID: uid, TokenHash: []byte("sha256-of-session-ann"), Method: "link", Address: "2001:db8::1",
		CreatedAt: t0.In(zone), LastSeenAt: at(time.Second).In(zone), ExpiresAt: at(14 * 24 * time.Hour).In(zone)}
	id := addSession(t, s, in)

	got, user, found := sessionUser(t, s, "ann")
	if !found {
		t.Fatal("SessionUser: not found")
	}
	equal(t, "ID", got.ID, id)
	equal(t, "UserID", got.UserID, uid)
	equal(t, "TokenHash", got.TokenHash, []byte("sha256-of-session-ann"))
	equal(t, "Method", got.Method, "link")
	equal(t, "Address", got.Address, "2001:db8::1")
	utc(t, "CreatedAt", &got.CreatedAt, t0)
	utc(t, "LastSeenAt", &got.LastSeenAt, at(time.Second))
	utc(t, "ExpiresAt", &got.ExpiresAt, at(14*24*time.Hour))

	// The user comes as UserByRef loads it: roles, links and all.
	equal(t, "user", user, getUser(t, s, "ann@example.com"))
	equal(t, "roles", user.Roles, []string{roster.RoleManager, roster.RoleViewer})
	equal(t, "Links", user.Links, map[string]string{"github": "ann"})

	for _, name := range []string{"nothing", "an", "ann2", "ANN"} {
		if _, _, found := sessionUser(t, s, name); found {
			t.Errorf("SessionUser(%s) found a session nobody has", name)
		}
	}
	if got, _, _ := sessionUser(t, s, "bob"); got.UserID != other {
		t.Errorf("bob's session belongs to %d, want %d", got.UserID, other)
	}
	// The hash is unique: a second session with it is refused.
	err := s.Write(t.Context(), func(tx store.Tx) error {
		_, err := tx.InsertSession(t.Context(), newSession(other, "ann", t0))
		return err
	})
	if err == nil {
		t.Error("a second session with the same token hash was stored")
	}
}

func testTouchSession(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("ann@example.com"))
	id := addSession(t, s, newSession(uid, "a", t0))
	addSession(t, s, newSession(uid, "b", t0))
	touch := func(now time.Time) {
		write(t, s, func(tx store.Tx) error { return tx.TouchSession(t.Context(), id, now, now.Add(-time.Minute)) })
	}
	touch(at(30 * time.Second))
	sameTime(t, "LastSeenAt after activity within a minute", session(t, s, "a").LastSeenAt, t0)
	touch(at(time.Minute - time.Microsecond))
	sameTime(t, "LastSeenAt a microsecond short of a minute", session(t, s, "a").LastSeenAt, t0)
	touch(at(time.Minute))
	sameTime(t, "LastSeenAt a minute later", session(t, s, "a").LastSeenAt, at(time.Minute))
	sameTime(t, "LastSeenAt of another session", session(t, s, "b").LastSeenAt, t0)
	touch(at(90 * time.Second))
	sameTime(t, "LastSeenAt after activity within the next minute", session(t, s, "a").LastSeenAt, at(time.Minute))
	touch(at(time.Hour))
	got := session(t, s, "a")
	sameTime(t, "LastSeenAt an hour later", got.LastSeenAt, at(time.Hour))
	// Nothing else changes.
	sameTime(t, "CreatedAt", got.CreatedAt, t0)
	sameTime(t, "ExpiresAt", got.ExpiresAt, at(30*24*time.Hour))
	// Touching a session that does not exist (ended meanwhile) is no error.
	write(t, s, func(tx store.Tx) error { return tx.TouchSession(t.Context(), id+1000, at(time.Hour), t0) })
	// The caller chooses how stale: with a 6-second threshold, activity
	// 6 seconds after the last recorded is recorded.
	write(t, s, func(tx store.Tx) error {
		return tx.TouchSession(t.Context(), id, at(time.Hour+6*time.Second), at(time.Hour))
	})
	sameTime(t, "LastSeenAt with a short threshold", session(t, s, "a").LastSeenAt, at(time.Hour+6*time.Second))
}

func testEndSessionsExcept(t *testing.T, s store.Admin) {
	uids := addUsers(t, s, "ann@example.com", "bob@example.com")
	ann, bob := uids[0], uids[1]
	a1 := addSession(t, s, newSession(ann, "a1", t0))
	addSession(t, s, newSession(ann, "a2", t0))
	addSession(t, s, newSession(ann, "a3", t0))
	b1 := addSession(t, s, newSession(bob, "b1", t0))
	except := func(uid, keep int64) int {
		var n int
		write(t, s, func(tx store.Tx) error {
			var err error
			n, err = tx.EndSessionsExcept(t.Context(), uid, keep)
			return err
		})
		return n
	}
	exists := func(name string) bool {
		_, _, found := sessionUser(t, s, name)
		return found
	}
	equal(t, "ann's sessions but a1 ended", except(ann, a1), 2)
	equal(t, "a1 exists", exists("a1"), true)
	equal(t, "a2 exists", exists("a2"), false)
	equal(t, "a3 exists", exists("a3"), false)
	equal(t, "b1 exists", exists("b1"), true)
	equal(t, "keeping another user's session ends ann's", except(ann, b1), 1)
	equal(t, "b1 exists", exists("b1"), true)
	equal(t, "bob's sessions, keeping none", except(bob, 0), 1)
	equal(t, "b1 exists", exists("b1"), false)
}

func testEndSessions(t *testing.T, s store.Admin) {
	uids := addUsers(t, s, "ann@example.com", "bob@example.com")
	ann, bob := uids[0], uids[1]
	a1 := addSession(t, s, newSession(ann, "a1", t0))
	a2 := addSession(t, s, newSession(ann, "a2", t0))
	addSession(t, s, newSession(ann, "a3", t0))
	b1 := addSession(t, s, newSession(bob, "b1", t0))
	exists := func(name string) bool {
		_, _, found := sessionUser(t, s, name)
		return found
	}

	// A session is ended only by its own user.
	equal(t, "ann's session ended as bob's", endSessions(t, s, bob, a1), 0)
	equal(t, "bob's session ended as ann's", endSessions(t, s, ann, b1), 0)
	equal(t, "a1 exists", exists("a1"), true)
	equal(t, "b1 exists", exists("b1"), true)

	equal(t, "one session ended", endSessions(t, s, ann, a2), 1)
	equal(t, "a2 exists", exists("a2"), false)
	equal(t, "a1 exists", exists("a1"), true)
	equal(t, "the same session ended again", endSessions(t, s, ann, a2), 0)
	equal(t, "an unknown session ended", endSessions(t, s, ann, a1+b1+1000), 0)

	equal(t, "ann's sessions ended", endSessions(t, s, ann, 0), 2)
	for _, name := range []string{"a1", "a2", "a3"} {
		equal(t, name+" exists", exists(name), false)
	}
	equal(t, "b1 exists", exists("b1"), true)
	equal(t, "ann's sessions ended again", endSessions(t, s, ann, 0), 0)
	equal(t, "bob's sessions ended", endSessions(t, s, bob, 0), 1)
}

func testSessionsOfDeletedUser(t *testing.T, s store.Admin) {
	uids := addUsers(t, s, "ann@example.com", "bob@example.com")
	ann, bob := uids[0], uids[1]
	addSession(t, s, newSession(ann, "a1", t0))
	addSession(t, s, newSession(ann, "a2", t0))
	addSession(t, s, newSession(bob, "b1", t0))
	write(t, s, func(tx store.Tx) error {
		if err := tx.SetNoticesSeen(t.Context(), ann, 7); err != nil {
			return err
		}
		return tx.SetNoticesSeen(t.Context(), bob, 8)
	})
	write(t, s, func(tx store.Tx) error { return tx.DeleteUser(t.Context(), ann) })
	if _, _, found := sessionUser(t, s, "a1"); found {
		t.Error("SessionUser found a deleted user's session")
	}
	// The rows themselves are gone, not merely unjoined.
	equal(t, "a deleted user's sessions ended", endSessions(t, s, ann, 0), 0)
	equal(t, "a deleted user's notices mark", noticesSeen(t, s, ann), int64(0))
	// Others' stay.
	if _, _, found := sessionUser(t, s, "b1"); !found {
		t.Error("another user's session went with the deleted user")
	}
	equal(t, "another user's notices mark", noticesSeen(t, s, bob), int64(8))
	_, problems, err := s.Check(t.Context())
	if err != nil || len(problems) > 0 {
		t.Errorf("Check after deleting a user with sessions: %q, %v", problems, err)
	}
}

func testSessionIDsNotReused(t *testing.T, s store.Admin) {
	uids := addUsers(t, s, "ann@example.com", "bob@example.com")
	first := addSession(t, s, newSession(uids[0], "a", t0))
	last := addSession(t, s, newSession(uids[1], "b", t0))
	// Sessions are ended by id: a new session must not take the id of one
	// ended before, which a stale page may still name.
	endSessions(t, s, uids[1], last)
	next := addSession(t, s, newSession(uids[0], "c", t0))
	if next == last || next == first {
		t.Errorf("new session got id %d, which a session had before (%d, %d)", next, first, last)
	}
}

func testNoticesSeen(t *testing.T, s store.Admin) {
	uids := addUsers(t, s, "ann@example.com", "bob@example.com")
	ann, bob := uids[0], uids[1]
	equal(t, "NoticesSeen of a user who never looked", noticesSeen(t, s, ann), int64(0))
	equal(t, "NoticesSeen of an unknown user", noticesSeen(t, s, ann+bob+1000), int64(0))
	set := func(uid, auditID int64) {
		write(t, s, func(tx store.Tx) error { return tx.SetNoticesSeen(t.Context(), uid, auditID) })
	}
	set(ann, 5)
	equal(t, "ann's mark", noticesSeen(t, s, ann), int64(5))
	equal(t, "bob's mark", noticesSeen(t, s, bob), int64(0))
	set(ann, 12)
	set(bob, 3)
	equal(t, "ann's mark, overwritten", noticesSeen(t, s, ann), int64(12))
	equal(t, "bob's mark", noticesSeen(t, s, bob), int64(3))
	set(ann, 12)
	equal(t, "ann's mark, set again", noticesSeen(t, s, ann), int64(12))
}

func testListAuditAfterID(t *testing.T, s store.Admin) {
	addEvents(t, s,
		event(t0, "local:root", "user.create", "ann@example.com"),
		event(at(time.Minute), "local:root", "role.assign", "ann@example.com"),
		event(at(2*time.Minute), "local:root", "user.update", "ann@example.com"),
		event(at(3*time.Minute), "local:root", "user.deactivate", "ann@example.com"),
	)
	all := listAudit(t, s, store.AuditQuery{Limit: 100})
	if len(all) != 4 {
		t.Fatalf("ListAudit returned %d events, want 4", len(all))
	}
	// all is newest first.
	for _, c := range []struct {
		name string
		q    store.AuditQuery
		want []string
	}{
		{"no bound", store.AuditQuery{AfterID: 0}, []string{"user.deactivate", "user.update", "role.assign", "user.create"}},
		{"after the oldest", store.AuditQuery{AfterID: all[3].ID}, []string{"user.deactivate", "user.update", "role.assign"}},
		{"after the second", store.AuditQuery{AfterID: all[2].ID}, []string{"user.deactivate", "user.update"}},
		{"after the newest", store.AuditQuery{AfterID: all[0].ID}, []string{}},
		{"with an action", store.AuditQuery{AfterID: all[3].ID, Action: "user.*"}, []string{"user.deactivate", "user.update"}},
		{"limited: the newest", store.AuditQuery{AfterID: all[3].ID, Limit: 1}, []string{"user.deactivate"}},
		{"with since", store.AuditQuery{AfterID: all[2].ID, Since: at(3 * time.Minute)}, []string{"user.deactivate"}},
	} {
		if c.q.Limit == 0 {
			c.q.Limit = 100
		}
		equal(t, c.name, actions(listAudit(t, s, c.q)), c.want)
	}
}

func testSignInLink(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("ann@example.com"))
	id := addLink(t, s, newLink(store.LinkSignIn, uid, "signin", t0, 15*time.Minute))
	addLink(t, s, newLink(store.LinkInvite, uid, "inv", t0, time.Hour))

	got := linkByHash(t, s, store.LinkSignIn, "signin")
	equal(t, "ID", got.ID, id)
	equal(t, "Kind", got.Kind, store.LinkSignIn)
	equal(t, "UserID", got.UserID, uid)
	equal(t, "Email", got.Email, "ann@example.com")
	sameTime(t, "ExpiresAt", got.ExpiresAt, at(15*time.Minute))
	read(t, s, func(tx store.Tx) error {
		// A sign-in token is neither an invitation nor a reset link, nor
		// the other way round.
		for _, c := range []struct {
			kind store.LinkKind
			name string
		}{
			{store.LinkInvite, "signin"}, {store.LinkReset, "signin"}, {store.LinkSignIn, "inv"},
		} {
			if _, found, err := tx.LinkByHash(t.Context(), c.kind, []byte("sha256-of-"+c.name)); err != nil || found {
				t.Errorf("LinkByHash(%s, %s) found %v, %v", c.kind, c.name, found, err)
			}
		}
		l, found, err := tx.LatestLink(t.Context(), uid, store.LinkSignIn)
		if err == nil && (!found || l.ID != id) {
			t.Errorf("LatestLink(signin) = %d (found %v), want %d", l.ID, found, id)
		}
		invitations, err := tx.ListInvitations(t.Context())
		if err == nil && len(invitations) != 1 {
			t.Errorf("ListInvitations lists %d links, want the one invitation", len(invitations))
		}
		return err
	})

	if !consumeLink(t, s, id, at(time.Minute)) {
		t.Fatal("ConsumeLink of a live sign-in link = false")
	}
	if consumeLink(t, s, id, at(2*time.Minute)) {
		t.Error("ConsumeLink of a used sign-in link = true")
	}
	sameTimePtr(t, "UsedAt", linkByHash(t, s, store.LinkSignIn, "signin").UsedAt, ptr(at(time.Minute)))

	// Asking for another revokes the live ones of the kind only.
	addLink(t, s, newLink(store.LinkSignIn, uid, "signin-2", at(time.Minute), 15*time.Minute))
	addLink(t, s, newLink(store.LinkSignIn, uid, "signin-3", at(2*time.Minute), 15*time.Minute))
	var n int
	write(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.RevokeLinks(t.Context(), uid, store.LinkSignIn, at(3*time.Minute), "replaced")
		return err
	})
	equal(t, "sign-in links revoked", n, 2)
	sameTimePtr(t, "RevokedAt of the invitation", linkByHash(t, s, store.LinkInvite, "inv").RevokedAt, nil)
	if consumeLink(t, s, linkByHash(t, s, store.LinkSignIn, "signin-2").ID, at(4*time.Minute)) {
		t.Error("ConsumeLink of a revoked sign-in link = true")
	}
}
