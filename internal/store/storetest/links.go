package storetest

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var linkTests = []test{
	{"InsertLink stores a link that LinkByHash reads back", []string{"InsertLink", "LinkByHash"}, testInsertLink},
	{"LinkByHash matches hash and kind", []string{"LinkByHash"}, testLinkByHashKind},
	{"a link's creator may be deleted", []string{"InsertLink", "LinkByHash"}, testLinkCreatorDeleted},
	{"LatestLink returns a user's newest link of a kind", []string{"LatestLink"}, testLatestLink},
	{"CountLinksSince counts a user's links of a kind made since", []string{"CountLinksSince"}, testCountLinksSince},
	{"ConsumeLink consumes a live link once", []string{"ConsumeLink"}, testConsumeLink},
	{"ConsumeLink refuses used, revoked and expired links", []string{"ConsumeLink"}, testConsumeDeadLink},
	{"RevokeLinks revokes live links and counts them", []string{"RevokeLinks"}, testRevokeLinks},
	{"ListInvitations lists invitations newest first", []string{"ListInvitations"}, testListInvitations},
	{"MarkSent records that a link was mailed", []string{"MarkSent"}, testMarkSent},
}

// newLink is a link as the core makes one, for user id, with a token
// hash unique to name.
func newLink(kind store.LinkKind, userID int64, name string, created time.Time, life time.Duration) store.Link {
	return store.Link{Kind: kind, UserID: userID, TokenHash: []byte("sha256-of-" + name), Creator: "local:root",
		CreatedAt: created, ExpiresAt: created.Add(life)}
}

// addLink stores l in its own transaction and returns its id.
func addLink(t *testing.T, s store.Store, l store.Link) int64 {
	t.Helper()
	var id int64
	write(t, s, func(tx store.Tx) error {
		var err error
		id, err = tx.InsertLink(t.Context(), l)
		return err
	})
	if id == 0 {
		t.Fatal("InsertLink returned id 0")
	}
	return id
}

// linkByHash loads a link, failing the test if there is none.
func linkByHash(t *testing.T, s store.Store, kind store.LinkKind, name string) store.Link {
	t.Helper()
	var l store.Link
	var found bool
	read(t, s, func(tx store.Tx) error {
		var err error
		l, found, err = tx.LinkByHash(t.Context(), kind, []byte("sha256-of-"+name))
		return err
	})
	if !found {
		t.Fatalf("LinkByHash(%s, %s): not found", kind, name)
	}
	return l
}

func testInsertLink(t *testing.T, s store.Admin) {
	admin := member("admin@example.com")
	admin.Roles = []string{roster.RoleAdmin}
	creator := addUser(t, s, admin)
	u := member("ann@example.com")
	u.Name, u.Status, u.Roles = "Ann Lee", roster.StatusInvited, []string{roster.RoleViewer, roster.RoleManager}
	uid := addUser(t, s, u)

	l := newLink(store.LinkInvite, uid, "inv", t0, 72*time.Hour)
	l.CreatedBy, l.Creator = creator, "admin@example.com"
	l.Roles = []string{roster.RoleViewer, roster.RoleManager}
	id := addLink(t, s, l)

	got := linkByHash(t, s, store.LinkInvite, "inv")
	equal(t, "ID", got.ID, id)
	equal(t, "Kind", got.Kind, store.LinkInvite)
	equal(t, "UserID", got.UserID, uid)
	equal(t, "Email", got.Email, "ann@example.com")
	equal(t, "Name", got.Name, "Ann Lee")
	equal(t, "TokenHash", got.TokenHash, []byte("sha256-of-inv"))
	equal(t, "CreatedBy", got.CreatedBy, creator)
	equal(t, "Creator", got.Creator, "admin@example.com")
	equal(t, "Roles", got.Roles, []string{roster.RoleManager, roster.RoleViewer})
	sameTime(t, "CreatedAt", got.CreatedAt, t0)
	sameTime(t, "ExpiresAt", got.ExpiresAt, at(72*time.Hour))
	sameTimePtr(t, "UsedAt", got.UsedAt, nil)
	sameTimePtr(t, "RevokedAt", got.RevokedAt, nil)
	sameTimePtr(t, "SentAt", got.SentAt, nil)
	equal(t, "Reason", got.Reason, "")

	// A link made by the local administrator has no creating user.
	addLink(t, s, newLink(store.LinkReset, uid, "rst", t0, time.Hour))
	got = linkByHash(t, s, store.LinkReset, "rst")
	equal(t, "CreatedBy of the local administrator's link", got.CreatedBy, int64(0))
	equal(t, "Creator", got.Creator, "local:root")

	// A link grants its user's roles as they are now, and shows the
	// user's current email and name.
	u2 := getUser(t, s, byID(uid))
	u2.Email, u2.Name = "ann.lee@example.com", "Ann B. Lee"
	write(t, s, func(tx store.Tx) error {
		if err := tx.UpdateUser(t.Context(), u2); err != nil {
			return err
		}
		return tx.SetUserRoles(t.Context(), uid, []string{roster.RoleMember})
	})
	got = linkByHash(t, s, store.LinkInvite, "inv")
	equal(t, "Roles after the user's roles changed", got.Roles, []string{roster.RoleMember})
	equal(t, "Email after the user's email changed", got.Email, "ann.lee@example.com")
	equal(t, "Name after the user's name changed", got.Name, "Ann B. Lee")
}

func testLinkByHashKind(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("ann@example.com"))
	addLink(t, s, newLink(store.LinkInvite, uid, "inv", t0, time.Hour))
	addLink(t, s, newLink(store.LinkReset, uid, "rst", t0, time.Hour))
	read(t, s, func(tx store.Tx) error {
		for _, c := range []struct {
			kind  store.LinkKind
			hash  string
			found bool
		}{
			{store.LinkInvite, "sha256-of-inv", true},
			{store.LinkReset, "sha256-of-rst", true},
			// An invitation token is no reset link, and the other way round.
			{store.LinkReset, "sha256-of-inv", false},
			{store.LinkInvite, "sha256-of-rst", false},
			{store.LinkInvite, "sha256-of-nothing", false},
			{store.LinkInvite, "sha256-of-in", false},
		} {
			l, found, err := tx.LinkByHash(t.Context(), c.kind, []byte(c.hash))
			if err != nil {
				return err
			}
			if found != c.found {
				t.Errorf("LinkByHash(%s, %s) found %v, want %v", c.kind, c.hash, found, c.found)
			}
			if found && string(l.TokenHash) != c.hash {
				t.Errorf("LinkByHash(%s, %s) returned the link of %s", c.kind, c.hash, l.TokenHash)
			}
		}
		return nil
	})
}

func testLinkCreatorDeleted(t *testing.T, s store.Admin) {
	ids := addUsers(t, s, "admin@example.com", "ann@example.com")
	l := newLink(store.LinkInvite, ids[1], "inv", t0, time.Hour)
	l.CreatedBy, l.Creator = ids[0], "admin@example.com"
	addLink(t, s, l)
	write(t, s, func(tx store.Tx) error { return tx.DeleteUser(t.Context(), ids[0]) })
	got := linkByHash(t, s, store.LinkInvite, "inv")
	equal(t, "CreatedBy after its creator was deleted", got.CreatedBy, int64(0))
	equal(t, "Creator after its creator was deleted", got.Creator, "admin@example.com")
}

func testCountLinksSince(t *testing.T, s store.Admin) {
	ids := addUsers(t, s, "ann@example.com", "bob@example.com")
	ann, bob := ids[0], ids[1]
	count := func(uid int64, kind store.LinkKind, since time.Time) int {
		var n int
		read(t, s, func(tx store.Tx) error {
			var err error
			n, err = tx.CountLinksSince(t.Context(), uid, kind, since)
			return err
		})
		return n
	}
	equal(t, "none yet", count(ann, store.LinkSignIn, t0), 0)
	first := addLink(t, s, newLink(store.LinkSignIn, ann, "sgn-1", t0, time.Hour))
	addLink(t, s, newLink(store.LinkSignIn, ann, "sgn-2", at(time.Minute), time.Hour))
	addLink(t, s, newLink(store.LinkReset, ann, "rst-1", at(time.Minute), time.Hour))
	addLink(t, s, newLink(store.LinkSignIn, bob, "sgn-bob", at(time.Minute), time.Hour))
	// Used and revoked links count: they were made.
	write(t, s, func(tx store.Tx) error {
		if _, err := tx.ConsumeLink(t.Context(), first, at(time.Second)); err != nil {
			return err
		}
		_, err := tx.RevokeLinks(t.Context(), ann, store.LinkSignIn, at(2*time.Minute), "replaced")
		return err
	})
	equal(t, "ann's sign-in links since t0", count(ann, store.LinkSignIn, t0), 2)
	equal(t, "since the second's instant", count(ann, store.LinkSignIn, at(time.Minute)), 1)
	equal(t, "since after both", count(ann, store.LinkSignIn, at(time.Minute+time.Microsecond)), 0)
	equal(t, "ann's reset links", count(ann, store.LinkReset, t0), 1)
	equal(t, "bob's sign-in links", count(bob, store.LinkSignIn, t0), 1)
}

func testLatestLink(t *testing.T, s store.Admin) {
	ids := addUsers(t, s, "ann@example.com", "bob@example.com")
	ann, bob := ids[0], ids[1]
	latest := func(uid int64, kind store.LinkKind) (store.Link, bool) {
		var l store.Link
		var found bool
		read(t, s, func(tx store.Tx) error {
			var err error
			l, found, err = tx.LatestLink(t.Context(), uid, kind)
			return err
		})
		return l, found
	}
	if _, found := latest(ann, store.LinkInvite); found {
		t.Error("LatestLink found an invitation of a user without one")
	}
	addLink(t, s, newLink(store.LinkInvite, ann, "inv-1", t0, time.Hour))
	second := addLink(t, s, newLink(store.LinkInvite, ann, "inv-2", at(time.Minute), time.Hour))
	reset := addLink(t, s, newLink(store.LinkReset, ann, "rst-1", at(2*time.Minute), time.Hour))
	addLink(t, s, newLink(store.LinkInvite, bob, "inv-bob", at(3*time.Minute), time.Hour))
	// Revoked links are still a user's latest: revoking never brings an
	// older one back.
	write(t, s, func(tx store.Tx) error {
		_, err := tx.RevokeLinks(t.Context(), ann, store.LinkInvite, at(4*time.Minute), "revoked")
		return err
	})
	if l, found := latest(ann, store.LinkInvite); !found || l.ID != second {
		t.Errorf("LatestLink(ann, invite) = %d (found %v), want %d", l.ID, found, second)
	} else {
		equal(t, "TokenHash", string(l.TokenHash), "sha256-of-inv-2")
		equal(t, "Email", l.Email, "ann@example.com")
		equal(t, "Reason", l.Reason, "revoked")
	}
	if l, found := latest(ann, store.LinkReset); !found || l.ID != reset {
		t.Errorf("LatestLink(ann, reset) = %d (found %v), want %d", l.ID, found, reset)
	}
	if _, found := latest(bob, store.LinkReset); found {
		t.Error("LatestLink found a reset link of a user without one")
	}
}

// consumeLink runs ConsumeLink in its own write and reports whether it
// consumed the link.
func consumeLink(t *testing.T, s store.Store, id int64, now time.Time) bool {
	t.Helper()
	var ok bool
	write(t, s, func(tx store.Tx) error {
		var err error
		ok, err = tx.ConsumeLink(t.Context(), id, now)
		return err
	})
	return ok
}

func testConsumeLink(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("ann@example.com"))
	id := addLink(t, s, newLink(store.LinkInvite, uid, "inv", t0, time.Hour))
	other := addLink(t, s, newLink(store.LinkReset, uid, "rst", t0, time.Hour))
	if !consumeLink(t, s, id, at(time.Minute)) {
		t.Fatal("ConsumeLink of a live link = false")
	}
	got := linkByHash(t, s, store.LinkInvite, "inv")
	sameTimePtr(t, "UsedAt", got.UsedAt, ptr(at(time.Minute)))
	if consumeLink(t, s, id, at(2*time.Minute)) {
		t.Error("ConsumeLink of a used link = true")
	}
	got = linkByHash(t, s, store.LinkInvite, "inv")
	sameTimePtr(t, "UsedAt after a second try", got.UsedAt, ptr(at(time.Minute)))
	// Other links stay live.
	sameTimePtr(t, "UsedAt of another link", linkByHash(t, s, store.LinkReset, "rst").UsedAt, nil)
	if !consumeLink(t, s, other, at(time.Minute)) {
		t.Error("ConsumeLink of another live link = false")
	}
	// Consuming a link that does not exist consumes nothing.
	if consumeLink(t, s, other+id+1000, at(time.Minute)) {
		t.Error("ConsumeLink of an unknown id = true")
	}
}

func testConsumeDeadLink(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("ann@example.com"))
	revoked := addLink(t, s, newLink(store.LinkReset, uid, "revoked", t0, time.Hour))
	write(t, s, func(tx store.Tx) error {
		_, err := tx.RevokeLinks(t.Context(), uid, store.LinkReset, at(time.Minute), "replaced")
		return err
	})
	expired := addLink(t, s, newLink(store.LinkReset, uid, "expired", t0, time.Hour))
	write(t, s, func(tx store.Tx) error {
		if ok, err := tx.ConsumeLink(t.Context(), revoked, at(2*time.Minute)); err != nil || ok {
			t.Errorf("ConsumeLink of a revoked link = %v, %v; want false", ok, err)
		}
		// A link expires at its ExpiresAt: it is no longer live then.
		if ok, err := tx.ConsumeLink(t.Context(), expired, at(time.Hour)); err != nil || ok {
			t.Errorf("ConsumeLink at the expiry = %v, %v; want false", ok, err)
		}
		if ok, err := tx.ConsumeLink(t.Context(), expired, at(2*time.Hour)); err != nil || ok {
			t.Errorf("ConsumeLink after the expiry = %v, %v; want false", ok, err)
		}
		// A microsecond before, it is.
		if ok, err := tx.ConsumeLink(t.Context(), expired, at(time.Hour-time.Microsecond)); err != nil || !ok {
			t.Errorf("ConsumeLink a microsecond before the expiry = %v, %v; want true", ok, err)
		}
		return nil
	})
	sameTimePtr(t, "UsedAt of the revoked link", linkByHash(t, s, store.LinkReset, "revoked").UsedAt, nil)
}

func testRevokeLinks(t *testing.T, s store.Admin) {
	ids := addUsers(t, s, "ann@example.com", "bob@example.com")
	ann, bob := ids[0], ids[1]
	addLink(t, s, newLink(store.LinkInvite, ann, "inv-live", t0, 2*time.Hour))
	addLink(t, s, newLink(store.LinkReset, ann, "rst-live-1", t0, 2*time.Hour))
	addLink(t, s, newLink(store.LinkReset, ann, "rst-live-2", t0, 2*time.Hour))
	used := addLink(t, s, newLink(store.LinkReset, ann, "rst-used", t0, 2*time.Hour))
	addLink(t, s, newLink(store.LinkReset, ann, "rst-expired", t0, 30*time.Minute))
	addLink(t, s, newLink(store.LinkReset, bob, "rst-bob", t0, 2*time.Hour))
	write(t, s, func(tx store.Tx) error {
		_, err := tx.ConsumeLink(t.Context(), used, at(time.Minute))
		return err
	})
	revoke := func(uid int64, kind store.LinkKind, now time.Time, reason string) int {
		var n int
		write(t, s, func(tx store.Tx) error {
			var err error
			n, err = tx.RevokeLinks(t.Context(), uid, kind, now, reason)
			return err
		})
		return n
	}
	// Only live links count: not used, not revoked, not expired.
	equal(t, "reset links revoked", revoke(ann, store.LinkReset, at(time.Hour), "password set"), 2)
	for _, name := range []string{"rst-live-1", "rst-live-2"} {
		l := linkByHash(t, s, store.LinkReset, name)
		sameTimePtr(t, "RevokedAt of "+name, l.RevokedAt, ptr(at(time.Hour)))
		equal(t, "Reason of "+name, l.Reason, "password set")
	}
	for _, name := range []string{"rst-used", "rst-expired", "rst-bob"} {
		l := linkByHash(t, s, store.LinkReset, name)
		sameTimePtr(t, "RevokedAt of "+name, l.RevokedAt, nil)
		equal(t, "Reason of "+name, l.Reason, "")
	}
	sameTimePtr(t, "RevokedAt of the invitation", linkByHash(t, s, store.LinkInvite, "inv-live").RevokedAt, nil)
	// Revoked links are not revoked again, and keep their reason.
	equal(t, "reset links revoked again", revoke(ann, store.LinkReset, at(90*time.Minute), "again"), 0)
	equal(t, "Reason", linkByHash(t, s, store.LinkReset, "rst-live-1").Reason, "password set")
	// Every kind at once.
	addLink(t, s, newLink(store.LinkReset, ann, "rst-live-3", at(time.Hour), 2*time.Hour))
	equal(t, "links of every kind revoked", revoke(ann, "", at(90*time.Minute), "deactivated"), 2)
	equal(t, "Reason of the invitation", linkByHash(t, s, store.LinkInvite, "inv-live").Reason, "deactivated")
	equal(t, "Reason of the new reset link", linkByHash(t, s, store.LinkReset, "rst-live-3").Reason, "deactivated")
	equal(t, "links of a user without live links revoked", revoke(ann, "", at(90*time.Minute), "x"), 0)
	sameTimePtr(t, "RevokedAt of bob's link", linkByHash(t, s, store.LinkReset, "rst-bob").RevokedAt, nil)
}

func testListInvitations(t *testing.T, s store.Admin) {
	read(t, s, func(tx store.Tx) error {
		out, err := tx.ListInvitations(t.Context())
		if err == nil && (out == nil || len(out) != 0) {
			t.Errorf("ListInvitations of a new store = %#v, want an empty list", out)
		}
		return err
	})
	ids := addUsers(t, s, "ann@example.com", "bob@example.com", "carol@example.com")
	first := addLink(t, s, newLink(store.LinkInvite, ids[0], "inv-ann", t0, time.Hour))
	addLink(t, s, newLink(store.LinkReset, ids[0], "rst-ann", at(time.Minute), time.Hour))
	third := addLink(t, s, newLink(store.LinkInvite, ids[2], "inv-carol", at(2*time.Minute), time.Hour))
	// Made in the same instant: the one made later is newer.
	fourth := addLink(t, s, newLink(store.LinkInvite, ids[1], "inv-bob", at(2*time.Minute), time.Hour))
	fifth := addLink(t, s, newLink(store.LinkInvite, ids[0], "inv-ann-2", at(3*time.Minute), time.Hour))
	// Used and revoked invitations are listed too.
	write(t, s, func(tx store.Tx) error {
		if _, err := tx.ConsumeLink(t.Context(), first, at(time.Minute)); err != nil {
			return err
		}
		_, err := tx.RevokeLinks(t.Context(), ids[2], store.LinkInvite, at(4*time.Minute), "revoked")
		return err
	})
	var got []store.Link
	read(t, s, func(tx store.Tx) error {
		var err error
		got, err = tx.ListInvitations(t.Context())
		return err
	})
	var order []int64
	for _, l := range got {
		order = append(order, l.ID)
		if l.Kind != store.LinkInvite {
			t.Errorf("ListInvitations listed a %s link", l.Kind)
		}
	}
	equal(t, "invitations, newest first", order, []int64{fifth, fourth, third, first})
	if len(got) == 4 {
		equal(t, "Email", got[1].Email, "bob@example.com")
		sameTimePtr(t, "UsedAt", got[3].UsedAt, ptr(at(time.Minute)))
		sameTimePtr(t, "RevokedAt", got[2].RevokedAt, ptr(at(4*time.Minute)))
		equal(t, "Roles", got[0].Roles, []string{roster.RoleMember})
	}
}

func testMarkSent(t *testing.T, s store.Admin) {
	uid := addUser(t, s, member("ann@example.com"))
	id := addLink(t, s, newLink(store.LinkInvite, uid, "inv", t0, time.Hour))
	addLink(t, s, newLink(store.LinkInvite, uid, "inv-2", t0, time.Hour))
	write(t, s, func(tx store.Tx) error { return tx.MarkSent(t.Context(), id, at(time.Second)) })
	sameTimePtr(t, "SentAt", linkByHash(t, s, store.LinkInvite, "inv").SentAt, ptr(at(time.Second)))
	sameTimePtr(t, "SentAt of another link", linkByHash(t, s, store.LinkInvite, "inv-2").SentAt, nil)
	// Sending again records the last sending.
	write(t, s, func(tx store.Tx) error { return tx.MarkSent(t.Context(), id, at(time.Minute)) })
	sameTimePtr(t, "SentAt", linkByHash(t, s, store.LinkInvite, "inv").SentAt, ptr(at(time.Minute)))
}
