package storetest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var adminTests = []test{
	{"Migrate on a current store applies nothing", nil, testMigrateIdempotent},
	{"Version is the SchemaVersion this build writes", nil, testVersion},
	{"Check finds a store in use clean", nil, testCheckClean},
	{"Path names the store and a fresh store is writable", nil, testPathReadOnly},
	{"Backup makes a copy, or says why it cannot", nil, testBackup},
}

func testMigrateIdempotent(t *testing.T, s store.Admin) {
	for i := range 2 {
		n, err := s.Migrate(t.Context())
		if err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
		if n != 0 {
			t.Errorf("Migrate #%d of an opened store applied %d migrations, want 0", i+1, n)
		}
	}
	// The data survives, and the catalog is not seeded twice.
	addUsers(t, s, "ann@example.com")
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	equal(t, "ann", getUser(t, s, "ann@example.com").Email, "ann@example.com")
	equal(t, "permissions", len(catalog(t, s).Permissions), len(roster.OrgPermissions(true)))
}

func testVersion(t *testing.T, s store.Admin) {
	if s.SchemaVersion() <= 0 {
		t.Errorf("SchemaVersion = %d, want a positive version", s.SchemaVersion())
	}
	v, err := s.Version(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "Version", v, s.SchemaVersion())
}

func testCheckClean(t *testing.T, s store.Admin) {
	check := func(when string) {
		t.Helper()
		v, problems, err := s.Check(t.Context())
		if err != nil {
			t.Fatalf("Check %s: %v", when, err)
		}
		equal(t, "version from Check "+when, v, s.SchemaVersion())
		if len(problems) > 0 {
			t.Errorf("Check %s found problems: %q", when, problems)
		}
	}
	check("of a new store")
	// Every kind of row, then deletions that must take what hangs on them.
	u := member("ann@example.com")
	u.Links = map[string]string{"github": "ann"}
	u.Roles = []string{"support", roster.RoleMember}
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		if err := tx.InsertPermission(ctx, roster.Permission{Name: "app.read"}); err != nil {
			return err
		}
		if err := tx.InsertPermission(ctx, roster.Permission{Name: "app.write", Implies: []string{"app.read"}}); err != nil {
			return err
		}
		return tx.InsertRole(ctx, roster.Role{Name: "support", Permissions: []string{"app.read"}})
	})
	ann := addUser(t, s, u)
	bob := addUser(t, s, member("bob@example.com"))
	pid := addProject(t, s, "apollo", "")
	join(t, s, pid, ann, bob)
	addToken(t, s, ann, "ci", t0, nil)
	l := newLink(store.LinkInvite, bob, "inv", t0, time.Hour)
	l.CreatedBy = ann
	addLink(t, s, l)
	addEvents(t, s, store.AuditEntry{AuditEvent: roster.AuditEvent{At: t0, Actor: "ann@example.com", Via: "local", Action: "user.create",
		Target: "bob@example.com", Details: map[string]any{"roles": []string{"member"}}}, ActorID: ann, TargetID: bob})
	write(t, s, func(tx store.Tx) error { return tx.SetSetting(t.Context(), "seats", "3") })
	check("with data")
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		if err := tx.MoveRoleHolders(ctx, "support", roster.RoleViewer); err != nil {
			return err
		}
		if err := tx.DeleteRole(ctx, "support"); err != nil {
			return err
		}
		if err := tx.DeletePermission(ctx, "app.write"); err != nil {
			return err
		}
		if err := tx.DeleteProject(ctx, pid); err != nil {
			return err
		}
		return tx.DeleteUser(ctx, ann)
	})
	check("after deletions")
}

func testPathReadOnly(t *testing.T, s store.Admin) {
	if s.Path() == "" {
		t.Error("Path is empty")
	}
	if s.ReadOnly() {
		t.Error("a fresh store is read-only")
	}
}

func testBackup(t *testing.T, s store.Admin) {
	addUsers(t, s, "ann@example.com")
	path := filepath.Join(t.TempDir(), "backup")
	err := s.Backup(t.Context(), path)
	if err != nil {
		// A store that cannot make a file copy (PostgreSQL: pg_dump) says
		// so as a domain error, which the CLI turns into an exit code and
		// a hint, not a crash report.
		var re *roster.Error
		if !errors.As(err, &re) {
			t.Errorf("Backup failed with %v (%T), want a *roster.Error that says why", err, err)
		}
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Backup succeeded but made no file: %v", err)
	}
	if fi.Size() == 0 {
		t.Error("Backup made an empty file")
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("the backup's mode is %v: others may read it", perm)
	}
	// A second backup to the same path does not overwrite the first.
	if err := s.Backup(t.Context(), path); err == nil {
		t.Error("Backup over an existing file succeeded")
	}
}
