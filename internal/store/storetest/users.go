package storetest

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var userTests = []test{
	{"InsertUser stores a user that UserByRef reads back whole", []string{"InsertUser", "UserByRef"}, testInsertUser},
	{"UserByRef finds by email, username, id and kind:value", []string{"UserByRef"}, testUserByRef},
	{"a user without username or password", []string{"InsertUser", "UserByRef"}, testUserWithoutUsername},
	{"UpdateUser writes the user's own columns, not roles or links", []string{"UpdateUser"}, testUpdateUser},
	{"EmailTaken, UsernameTaken and LinkTaken report the holder or 0", []string{"EmailTaken", "UsernameTaken", "LinkTaken"}, testTaken},
	{"SetUserRoles replaces a user's roles", []string{"SetUserRoles"}, testSetUserRoles},
	{"SetLink adds or replaces a link, DeleteLink removes it", []string{"SetLink", "DeleteLink"}, testSetLink},
	{"DeleteUser removes the user and what hangs on it", []string{"DeleteUser"}, testDeleteUser},
	{"user ids are never reused", []string{"InsertUser", "DeleteUser"}, testUserIDsNotReused},
	{"CountActive and CountActiveOwners count active users", []string{"CountActive", "CountActiveOwners"}, testCountActive},
	{"HasActed reports users who acted", []string{"HasActed"}, testHasActed},
	{"UserCount and FirstOwner", []string{"UserCount", "FirstOwner"}, testFirstOwner},
}

func testInsertUser(t *testing.T, s store.Admin) {
	u := store.UserRow{User: roster.User{
		Email: "Ann.Lee@Example.com", Username: "ann", Name: "Ann Lee", Status: roster.StatusActive,
		Roles:              []string{roster.RoleViewer, roster.RoleAdmin}, // unsorted on purpose
		Links:              map[string]string{"github": "annlee", "okta": "ann@corp"},
		MustChangePassword: true, CreatedAt: t0, UpdatedAt: at(time.Second),
	}, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}
	id := addUser(t, s, u)
	got := getUser(t, s, byID(id))
	equal(t, "ID", got.ID, id)
	equal(t, "Email", got.Email, "Ann.Lee@Example.com")
	equal(t, "Username", got.Username, "ann")
	equal(t, "Name", got.Name, "Ann Lee")
	equal(t, "Status", got.Status, roster.StatusActive)
	equal(t, "Roles (sorted)", got.Roles, []string{roster.RoleAdmin, roster.RoleViewer})
	equal(t, "Links", got.Links, map[string]string{"github": "annlee", "okta": "ann@corp"})
	equal(t, "Projects", got.Projects, []string{})
	equal(t, "PasswordHash", got.PasswordHash, u.PasswordHash)
	equal(t, "HasPassword", got.HasPassword, true)
	equal(t, "MustChangePassword", got.MustChangePassword, true)
	sameTime(t, "CreatedAt", got.CreatedAt, t0)
	sameTime(t, "UpdatedAt", got.UpdatedAt, at(time.Second))
	sameTimePtr(t, "LastLoginAt", got.LastLoginAt, nil)
	sameTimePtr(t, "DeactivatedAt", got.DeactivatedAt, nil)
	equal(t, "LastLoginMethod", got.LastLoginMethod, "")
	equal(t, "Reason", got.Reason, "")

	// An invited user keeps that status.
	inv := member("invited@example.com")
	inv.Status = roster.StatusInvited
	got = getUser(t, s, byID(addUser(t, s, inv)))
	equal(t, "invited Status", got.Status, roster.StatusInvited)
}

func testUserByRef(t *testing.T, s store.Admin) {
	u := member("Ann@Example.com")
	u.Username = "AnnL"
	u.Links = map[string]string{"github": "ann-gh", "okta": "ann@corp.example"}
	id := addUser(t, s, u)
	emile := addUser(t, s, member("Émile@example.com"))
	addUsers(t, s, "bob@example.com")

	for _, ref := range []string{"Ann@Example.com", "ann@example.com", "ANN@EXAMPLE.COM", "AnnL", "annl", "ANNL",
		byID(id), "github:ann-gh", "okta:ann@corp.example"} {
		got := getUser(t, s, ref)
		if got.ID != id {
			t.Errorf("UserByRef(%q) = user %d (%s), want %d", ref, got.ID, got.Email, id)
		}
		equal(t, "Links of "+ref, got.Links, u.Links)
		equal(t, "Roles of "+ref, got.Roles, []string{roster.RoleMember})
	}
	// Email is folded beyond ASCII, as roster.EmailKey folds it.
	for _, ref := range []string{"émile@example.com", "ÉMILE@EXAMPLE.COM"} {
		if got := getUser(t, s, ref); got.ID != emile {
			t.Errorf("UserByRef(%q) = user %d, want %d", ref, got.ID, emile)
		}
	}
	read(t, s, func(tx store.Tx) error {
		for _, ref := range []string{"nobody@example.com", "nobody", "999999", "github:nobody", "okta:ann@corp"} {
			_, err := tx.UserByRef(t.Context(), ref)
			isKind(t, err, roster.ErrNotFound, "UserByRef("+ref+")")
		}
		_, err := tx.UserByRef(t.Context(), "")
		isKind(t, err, roster.ErrInvalid, `UserByRef("")`)
		return nil
	})
}

func testUserWithoutUsername(t *testing.T, s store.Admin) {
	a := addUser(t, s, member("a@example.com"))
	b := addUser(t, s, member("b@example.com")) // two users without a username do not collide
	for _, id := range []int64{a, b} {
		got := getUser(t, s, byID(id))
		equal(t, "Username", got.Username, "")
		equal(t, "PasswordHash", got.PasswordHash, "")
		equal(t, "HasPassword", got.HasPassword, false)
		equal(t, "Links", got.Links, map[string]string{})
	}
	read(t, s, func(tx store.Tx) error {
		id, err := tx.UsernameTaken(t.Context(), "")
		if err == nil && id != 0 {
			t.Errorf(`UsernameTaken("") = %d, want 0`, id)
		}
		return err
	})
}

func testUpdateUser(t *testing.T, s store.Admin) {
	orig := member("old@example.com")
	orig.Username, orig.Name = "old", "Old Name"
	orig.Links = map[string]string{"github": "old-gh"}
	orig.Roles = []string{roster.RoleManager}
	id := addUser(t, s, orig)

	u := getUser(t, s, byID(id))
	u.Email, u.Username, u.Name = "New@Example.com", "newname", "New Name"
	u.Status, u.StatusBefore = roster.StatusDeactivated, roster.StatusActive
	u.PasswordHash, u.HasPassword, u.MustChangePassword = "hash-2", true, true
	u.UpdatedAt = at(time.Hour)
	u.LastLoginAt, u.LastLoginMethod = ptr(at(30*time.Minute)), "password"
	u.DeactivatedAt, u.Reason = ptr(at(time.Hour)), "left the company"
	// UpdateUser writes neither roles nor links.
	u.Roles, u.Links = []string{roster.RoleOwner}, map[string]string{"github": "other"}
	write(t, s, func(tx store.Tx) error { return tx.UpdateUser(t.Context(), u) })

	got := getUser(t, s, byID(id))
	equal(t, "Email", got.Email, "New@Example.com")
	equal(t, "Username", got.Username, "newname")
	equal(t, "Name", got.Name, "New Name")
	equal(t, "Status", got.Status, roster.StatusDeactivated)
	equal(t, "StatusBefore", got.StatusBefore, roster.StatusActive)
	equal(t, "PasswordHash", got.PasswordHash, "hash-2")
	equal(t, "HasPassword", got.HasPassword, true)
	equal(t, "MustChangePassword", got.MustChangePassword, true)
	sameTime(t, "CreatedAt", got.CreatedAt, t0)
	sameTime(t, "UpdatedAt", got.UpdatedAt, at(time.Hour))
	sameTimePtr(t, "LastLoginAt", got.LastLoginAt, ptr(at(30*time.Minute)))
	equal(t, "LastLoginMethod", got.LastLoginMethod, "password")
	sameTimePtr(t, "DeactivatedAt", got.DeactivatedAt, ptr(at(time.Hour)))
	equal(t, "Reason", got.Reason, "left the company")
	equal(t, "Roles", got.Roles, []string{roster.RoleManager})
	equal(t, "Links", got.Links, map[string]string{"github": "old-gh"})

	// The old email and username are free, the new ones found in any case.
	read(t, s, func(tx store.Tx) error {
		for ref, want := range map[string]int64{"old@example.com": 0, "new@example.com": id} {
			if got, err := tx.EmailTaken(t.Context(), ref); err != nil || got != want {
				t.Errorf("EmailTaken(%s) = %d, %v; want %d", ref, got, err, want)
			}
		}
		for ref, want := range map[string]int64{"old": 0, "NewName": id} {
			if got, err := tx.UsernameTaken(t.Context(), ref); err != nil || got != want {
				t.Errorf("UsernameTaken(%s) = %d, %v; want %d", ref, got, err, want)
			}
		}
		return nil
	})

	// Reactivation clears what deactivation set; a username can be removed.
	got.Status, got.DeactivatedAt, got.Reason = roster.StatusInvited, nil, ""
	got.StatusBefore = roster.StatusInvited
	got.Username, got.PasswordHash, got.LastLoginAt, got.LastLoginMethod = "", "", nil, ""
	write(t, s, func(tx store.Tx) error { return tx.UpdateUser(t.Context(), got) })
	again := getUser(t, s, byID(id))
	equal(t, "Status", again.Status, roster.StatusInvited)
	equal(t, "StatusBefore", again.StatusBefore, roster.StatusInvited)
	sameTimePtr(t, "DeactivatedAt", again.DeactivatedAt, nil)
	equal(t, "Reason", again.Reason, "")
	equal(t, "Username", again.Username, "")
	equal(t, "HasPassword", again.HasPassword, false)
	sameTimePtr(t, "LastLoginAt", again.LastLoginAt, nil)
}

func testTaken(t *testing.T, s store.Admin) {
	u := member("Ann@Example.com")
	u.Username = "Ann"
	u.Links = map[string]string{"github": "ann-gh"}
	id := addUser(t, s, u)
	other := addUser(t, s, member("bob@example.com"))
	read(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		for email, want := range map[string]int64{
			"Ann@Example.com": id, "ann@example.com": id, "ANN@EXAMPLE.COM": id, "bob@example.com": other,
			"ann@example.org": 0, "nn@example.com": 0,
		} {
			if got, err := tx.EmailTaken(ctx, email); err != nil || got != want {
				t.Errorf("EmailTaken(%s) = %d, %v; want %d", email, got, err, want)
			}
		}
		for name, want := range map[string]int64{"Ann": id, "ann": id, "ANN": id, "bob": 0, "an": 0} {
			if got, err := tx.UsernameTaken(ctx, name); err != nil || got != want {
				t.Errorf("UsernameTaken(%s) = %d, %v; want %d", name, got, err, want)
			}
		}
		for _, c := range []struct {
			kind, value string
			want        int64
		}{{"github", "ann-gh", id}, {"github", "bob", 0}, {"gitlab", "ann-gh", 0}} {
			if got, err := tx.LinkTaken(ctx, c.kind, c.value); err != nil || got != c.want {
				t.Errorf("LinkTaken(%s, %s) = %d, %v; want %d", c.kind, c.value, got, err, c.want)
			}
		}
		return nil
	})
}

func testSetUserRoles(t *testing.T, s store.Admin) {
	id := addUser(t, s, member("ann@example.com"))
	other := addUser(t, s, member("bob@example.com"))
	write(t, s, func(tx store.Tx) error {
		return tx.SetUserRoles(t.Context(), id, []string{roster.RoleViewer, roster.RoleAdmin, roster.RoleManager})
	})
	equal(t, "Roles", getUser(t, s, byID(id)).Roles, []string{roster.RoleAdmin, roster.RoleManager, roster.RoleViewer})
	write(t, s, func(tx store.Tx) error { return tx.SetUserRoles(t.Context(), id, []string{roster.RoleOwner}) })
	equal(t, "Roles", getUser(t, s, byID(id)).Roles, []string{roster.RoleOwner})
	// Unassigning a user's last role leaves none.
	write(t, s, func(tx store.Tx) error { return tx.SetUserRoles(t.Context(), id, nil) })
	equal(t, "Roles", getUser(t, s, byID(id)).Roles, []string{})
	equal(t, "Roles of another user", getUser(t, s, byID(other)).Roles, []string{roster.RoleMember})
}

func testSetLink(t *testing.T, s store.Admin) {
	id := addUser(t, s, member("ann@example.com"))
	write(t, s, func(tx store.Tx) error {
		if err := tx.SetLink(t.Context(), id, "github", "ann-1"); err != nil {
			return err
		}
		return tx.SetLink(t.Context(), id, "employee", "E-42")
	})
	equal(t, "Links", getUser(t, s, byID(id)).Links, map[string]string{"github": "ann-1", "employee": "E-42"})
	// One link per kind: setting it again replaces the value.
	write(t, s, func(tx store.Tx) error { return tx.SetLink(t.Context(), id, "github", "ann-2") })
	equal(t, "Links", getUser(t, s, byID(id)).Links, map[string]string{"github": "ann-2", "employee": "E-42"})
	// Setting the value it already has changes nothing.
	write(t, s, func(tx store.Tx) error { return tx.SetLink(t.Context(), id, "github", "ann-2") })
	equal(t, "Links", getUser(t, s, byID(id)).Links, map[string]string{"github": "ann-2", "employee": "E-42"})
	read(t, s, func(tx store.Tx) error {
		if got, err := tx.LinkTaken(t.Context(), "github", "ann-1"); err != nil || got != 0 {
			t.Errorf("LinkTaken(github, ann-1) after replacing = %d, %v; want 0", got, err)
		}
		return nil
	})
	write(t, s, func(tx store.Tx) error {
		if err := tx.DeleteLink(t.Context(), id, "github"); err != nil {
			return err
		}
		return tx.DeleteLink(t.Context(), id, "gitlab") // none: not an error
	})
	equal(t, "Links", getUser(t, s, byID(id)).Links, map[string]string{"employee": "E-42"})
	// The freed value can go to someone else.
	other := addUser(t, s, member("bob@example.com"))
	write(t, s, func(tx store.Tx) error { return tx.SetLink(t.Context(), other, "github", "ann-2") })
	equal(t, "owner of github:ann-2", getUser(t, s, "github:ann-2").ID, other)
}

func testDeleteUser(t *testing.T, s store.Admin) {
	u := member("ann@example.com")
	u.Username = "ann"
	u.Links = map[string]string{"github": "ann-gh"}
	u.Roles = []string{roster.RoleManager}
	id := addUser(t, s, u)
	keep := addUser(t, s, member("bob@example.com"))
	var pid int64
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		var err error
		if pid, err = tx.InsertProject(ctx, roster.Project{Slug: "apollo", Name: "Apollo"}, t0); err != nil {
			return err
		}
		for _, uid := range []int64{id, keep} {
			if _, err := tx.AddMember(ctx, pid, uid, t0); err != nil {
				return err
			}
		}
		if _, err := tx.InsertToken(ctx, id, "ci", []byte("token-hash-ann"), "local:root", t0, nil); err != nil {
			return err
		}
		_, err = tx.InsertLink(ctx, store.Link{Kind: store.LinkReset, UserID: id, TokenHash: []byte("link-hash-ann"),
			Creator: "local:root", CreatedAt: t0, ExpiresAt: at(time.Hour)})
		return err
	})
	write(t, s, func(tx store.Tx) error { return tx.DeleteUser(t.Context(), id) })

	read(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		for _, ref := range []string{"ann@example.com", "ann", byID(id), "github:ann-gh"} {
			_, err := tx.UserByRef(ctx, ref)
			isKind(t, err, roster.ErrNotFound, "UserByRef("+ref+") after delete")
		}
		if n, err := tx.EmailTaken(ctx, "ann@example.com"); err != nil || n != 0 {
			t.Errorf("EmailTaken after delete = %d, %v", n, err)
		}
		if n, err := tx.UsernameTaken(ctx, "ann"); err != nil || n != 0 {
			t.Errorf("UsernameTaken after delete = %d, %v", n, err)
		}
		if n, err := tx.LinkTaken(ctx, "github", "ann-gh"); err != nil || n != 0 {
			t.Errorf("LinkTaken after delete = %d, %v", n, err)
		}
		holders, err := tx.Holders(ctx)
		if err != nil {
			return err
		}
		equal(t, "manager holders", holders[roster.RoleManager], 0)
		members, err := tx.Members(ctx, pid)
		if err != nil {
			return err
		}
		equal(t, "members", members, []store.Member{{ID: keep, Email: "bob@example.com"}})
		if member, err := tx.IsMember(ctx, pid, id); err != nil || member {
			t.Errorf("IsMember after delete = %v, %v", member, err)
		}
		tokens, err := tx.ListTokens(ctx, 0)
		if err != nil {
			return err
		}
		equal(t, "tokens", len(tokens), 0)
		if _, found, err := tx.TokenByHash(ctx, []byte("token-hash-ann")); err != nil || found {
			t.Errorf("TokenByHash after delete: found %v, %v", found, err)
		}
		if _, found, err := tx.LinkByHash(ctx, store.LinkReset, []byte("link-hash-ann")); err != nil || found {
			t.Errorf("LinkByHash after delete: found %v, %v", found, err)
		}
		if n, err := tx.UserCount(ctx); err != nil || n != 1 {
			t.Errorf("UserCount after delete = %d, %v; want 1", n, err)
		}
		return nil
	})
	// The email, username and link are free again.
	again := member("ANN@example.com")
	again.Username, again.Links = "ann", map[string]string{"github": "ann-gh"}
	addUser(t, s, again)
}

func testUserIDsNotReused(t *testing.T, s store.Admin) {
	ids := addUsers(t, s, "a@example.com", "b@example.com")
	last := ids[1]
	// The core records every deletion with the user's id, and the audit
	// log must never attribute that history to someone new.
	write(t, s, func(tx store.Tx) error {
		if err := tx.DeleteUser(t.Context(), last); err != nil {
			return err
		}
		return tx.InsertAudit(t.Context(), store.AuditEntry{AuditEvent: roster.AuditEvent{
			At: t0, Actor: "local:root", Via: "local", Action: "user.delete", Target: "b@example.com"}, TargetID: last})
	})
	next := addUser(t, s, member("c@example.com"))
	if next == last || next == ids[0] {
		t.Errorf("new user got id %d, which a user had before (ids so far %v)", next, ids)
	}
}

func testCountActive(t *testing.T, s store.Admin) {
	count := func() (active, owners int) {
		read(t, s, func(tx store.Tx) error {
			var err error
			if active, err = tx.CountActive(t.Context(), t0); err != nil {
				return err
			}
			owners, err = tx.CountActiveOwners(t.Context(), t0)
			return err
		})
		return active, owners
	}
	if a, o := count(); a != 0 || o != 0 {
		t.Errorf("empty store: CountActive %d, CountActiveOwners %d; want 0, 0", a, o)
	}
	mk := func(email string, status roster.Status, roles ...string) int64 {
		u := member(email)
		u.Status, u.Roles = status, roles
		return addUser(t, s, u)
	}
	mk("owner1@example.com", roster.StatusActive, roster.RoleOwner)
	o2 := mk("owner2@example.com", roster.StatusActive, roster.RoleOwner, roster.RoleAdmin)
	mk("owner3@example.com", roster.StatusDeactivated, roster.RoleOwner)
	mk("invited-owner@example.com", roster.StatusInvited, roster.RoleOwner)
	mk("admin@example.com", roster.StatusActive, roster.RoleAdmin)
	mk("member@example.com", roster.StatusActive, roster.RoleMember)
	mk("invited@example.com", roster.StatusInvited, roster.RoleMember)
	mk("gone@example.com", roster.StatusDeactivated, roster.RoleMember)
	if a, o := count(); a != 4 || o != 2 {
		t.Errorf("CountActive %d, CountActiveOwners %d; want 4, 2", a, o)
	}
	// Deactivating an owner frees a seat and removes an active owner.
	u := getUser(t, s, byID(o2))
	u.Status, u.DeactivatedAt = roster.StatusDeactivated, ptr(t0)
	write(t, s, func(tx store.Tx) error { return tx.UpdateUser(t.Context(), u) })
	if a, o := count(); a != 3 || o != 1 {
		t.Errorf("after deactivating an owner: CountActive %d, CountActiveOwners %d; want 3, 1", a, o)
	}
}

func testHasActed(t *testing.T, s store.Admin) {
	ids := addUsers(t, s, "actor@example.com", "target@example.com", "idle@example.com")
	write(t, s, func(tx store.Tx) error {
		return tx.InsertAudit(t.Context(), store.AuditEntry{AuditEvent: roster.AuditEvent{
			At: t0, Actor: "actor@example.com", Via: "local", Action: "user.update", Target: "target@example.com"},
			ActorID: ids[0], TargetID: ids[1]})
	})
	read(t, s, func(tx store.Tx) error {
		for i, want := range []bool{true, false, false} {
			if got, err := tx.HasActed(t.Context(), ids[i]); err != nil || got != want {
				t.Errorf("HasActed(user %d) = %v, %v; want %v", i, got, err, want)
			}
		}
		return nil
	})
}

func testFirstOwner(t *testing.T, s store.Admin) {
	read(t, s, func(tx store.Tx) error {
		n, err := tx.UserCount(t.Context())
		if err != nil {
			return err
		}
		equal(t, "UserCount of a new store", n, 0)
		_, found, err := tx.FirstOwner(t.Context())
		if err != nil {
			return err
		}
		equal(t, "FirstOwner found in a new store", found, false)
		return nil
	})
	addUsers(t, s, "member@example.com")
	mk := func(email string) int64 {
		u := member(email)
		u.Roles = []string{roster.RoleOwner, roster.RoleViewer}
		u.Links = map[string]string{"github": email[:2]}
		return addUser(t, s, u)
	}
	first := mk("zz-first@example.com")
	mk("aa-second@example.com")
	read(t, s, func(tx store.Tx) error {
		n, err := tx.UserCount(t.Context())
		if err != nil {
			return err
		}
		equal(t, "UserCount", n, 3)
		u, found, err := tx.FirstOwner(t.Context())
		if err != nil {
			return err
		}
		equal(t, "found", found, true)
		equal(t, "FirstOwner", u.ID, first)
		equal(t, "FirstOwner email", u.Email, "zz-first@example.com")
		equal(t, "FirstOwner roles", u.Roles, []string{roster.RoleOwner, roster.RoleViewer})
		equal(t, "FirstOwner links", u.Links, map[string]string{"github": "zz"})
		return nil
	})
}
