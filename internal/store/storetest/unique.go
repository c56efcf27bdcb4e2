package storetest

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// A uniqueness the store keeps is a roster.ErrConflict out of Write, so
// that a race the core's own check lost still ends as a conflict. The
// function returns the store's error at once: after a failed statement
// some databases refuse the rest of the transaction.
var uniqueTests = []test{
	{"an email belongs to one user, in any letter case", []string{"InsertUser", "UpdateUser"}, testUniqueEmail},
	{"a username belongs to one user, in any letter case", []string{"InsertUser", "UpdateUser"}, testUniqueUsername},
	{"a link kind=value belongs to one user", []string{"InsertUser", "SetLink"}, testUniqueLink},
	{"project slugs, role and permission names are unique", []string{"InsertProject", "UpdateProject", "InsertRole", "InsertPermission"}, testUniqueNames},
	{"token and link hashes are unique", []string{"InsertToken", "InsertLink"}, testUniqueHashes},
}

// conflict fails the test unless fn's Write fails with roster.ErrConflict.
func conflict(t *testing.T, s store.Store, what string, fn func(tx store.Tx) error) {
	t.Helper()
	err := s.Write(t.Context(), fn)
	isKind(t, err, roster.ErrConflict, what)
}

func testUniqueEmail(t *testing.T, s store.Admin) {
	addUsers(t, s, "ann@example.com", "Émile@example.com")
	bob := addUser(t, s, member("bob@example.com"))
	for _, email := range []string{"ann@example.com", "ANN@Example.COM", "émile@example.com", "ÉMILE@EXAMPLE.COM"} {
		conflict(t, s, "InsertUser("+email+")", func(tx store.Tx) error {
			_, err := tx.InsertUser(t.Context(), member(email))
			return err
		})
	}
	u := getUser(t, s, byID(bob))
	u.Email = "Ann@example.com"
	conflict(t, s, "UpdateUser to a taken email", func(tx store.Tx) error { return tx.UpdateUser(t.Context(), u) })
	equal(t, "email after the conflict", getUser(t, s, byID(bob)).Email, "bob@example.com")
	// A user may change the case of their own email.
	u.Email = "BOB@example.com"
	write(t, s, func(tx store.Tx) error { return tx.UpdateUser(t.Context(), u) })
	equal(t, "email", getUser(t, s, byID(bob)).Email, "BOB@example.com")
}

func testUniqueUsername(t *testing.T, s store.Admin) {
	ann := member("ann@example.com")
	ann.Username = "Ann"
	addUser(t, s, ann)
	bob := addUser(t, s, member("bob@example.com"))
	for _, name := range []string{"Ann", "ann", "ANN"} {
		u := member("other@example.com")
		u.Username = name
		conflict(t, s, "InsertUser with username "+name, func(tx store.Tx) error {
			_, err := tx.InsertUser(t.Context(), u)
			return err
		})
	}
	u := getUser(t, s, byID(bob))
	u.Username = "aNN"
	conflict(t, s, "UpdateUser to a taken username", func(tx store.Tx) error { return tx.UpdateUser(t.Context(), u) })
	equal(t, "username after the conflict", getUser(t, s, byID(bob)).Username, "")
}

func testUniqueLink(t *testing.T, s store.Admin) {
	ann := member("ann@example.com")
	ann.Links = map[string]string{"github": "octo"}
	addUser(t, s, ann)
	bob := addUser(t, s, member("bob@example.com"))
	u := member("carol@example.com")
	u.Links = map[string]string{"github": "octo"}
	conflict(t, s, "InsertUser with a taken link", func(tx store.Tx) error {
		_, err := tx.InsertUser(t.Context(), u)
		return err
	})
	conflict(t, s, "SetLink to a taken link", func(tx store.Tx) error { return tx.SetLink(t.Context(), bob, "github", "octo") })
	equal(t, "owner of github:octo", getUser(t, s, "github:octo").Email, "ann@example.com")
	// The same value under another kind is another link.
	write(t, s, func(tx store.Tx) error { return tx.SetLink(t.Context(), bob, "gitlab", "octo") })
	equal(t, "owner of gitlab:octo", getUser(t, s, "gitlab:octo").ID, bob)
}

func testUniqueNames(t *testing.T, s store.Admin) {
	addProject(t, s, "apollo", "")
	gemini := addProject(t, s, "gemini", "")
	conflict(t, s, "InsertProject of a taken slug", func(tx store.Tx) error {
		_, err := tx.InsertProject(t.Context(), roster.Project{Slug: "apollo"}, t0)
		return err
	})
	p := project(t, s, "gemini")
	p.Slug = "apollo"
	conflict(t, s, "UpdateProject to a taken slug", func(tx store.Tx) error { return tx.UpdateProject(t.Context(), p, t0) })
	equal(t, "gemini after the conflict", project(t, s, "gemini").ID, gemini)

	write(t, s, func(tx store.Tx) error {
		return tx.InsertRole(t.Context(), roster.Role{Name: "support", Permissions: []string{roster.PermUsersView}})
	})
	for _, name := range []string{"support", roster.RoleOwner} {
		conflict(t, s, "InsertRole("+name+")", func(tx store.Tx) error {
			return tx.InsertRole(t.Context(), roster.Role{Name: name, Permissions: []string{roster.PermAuditView}})
		})
	}
	equal(t, "support permissions", catalog(t, s).Roles["support"].Permissions, []string{roster.PermUsersView})

	write(t, s, func(tx store.Tx) error { return tx.InsertPermission(t.Context(), roster.Permission{Name: "app.read"}) })
	for _, name := range []string{"app.read", roster.PermUsersView} {
		conflict(t, s, "InsertPermission("+name+")", func(tx store.Tx) error {
			return tx.InsertPermission(t.Context(), roster.Permission{Name: name, Description: "again"})
		})
	}
}

func testUniqueHashes(t *testing.T, s store.Admin) {
	uids := addUsers(t, s, "ann@example.com", "bob@example.com")
	addToken(t, s, uids[0], "ci", t0, nil)
	conflict(t, s, "InsertToken with a taken hash", func(tx store.Tx) error {
		_, err := tx.InsertToken(t.Context(), uids[1], "other", []byte("hash-ci"), "local:root", t0, nil)
		return err
	})
	addLink(t, s, newLink(store.LinkInvite, uids[0], "inv", t0, time.Hour))
	conflict(t, s, "InsertLink with a taken hash", func(tx store.Tx) error {
		_, err := tx.InsertLink(t.Context(), newLink(store.LinkReset, uids[1], "inv", t0, time.Hour))
		return err
	})
}
