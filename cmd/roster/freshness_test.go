package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
)

// TestServerSeesOtherProcesses: the server caches the role catalog, yet a
// change another roster process makes to the store, to a role's
// permissions or to a user's roles, rules the server's very next request.
func TestServerSeesOtherProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	r := &replicas{t: t, db: filepath.Join(t.TempDir(), "roster.db")}
	r.roster("init", "--owner-email", "root@example.com", "--random-password")
	r.roster("role", "create", "helper", "--permission", "users.view")
	r.roster("user", "create", "bob@example.com", "--role", "helper", "--no-password")
	r.urls = []string{r.serve()}
	bob := r.as(0, r.token("bob@example.com"))
	ctx := context.Background()
	list := func() error {
		_, err := bob.ListUsers(ctx, roster.UserFilter{})
		return err
	}
	if err := list(); err != nil {
		t.Fatalf("bob lists users: %v", err)
	}

	// Another process takes users.view from the role.
	r.roster("role", "update", "helper", "--remove-permission", "users.view", "--add-permission", "roles.view")
	if err := list(); !errors.Is(err, roster.ErrForbidden) {
		t.Fatalf("the request after the role lost users.view: %v; want forbidden", err)
	}
	r.roster("role", "update", "helper", "--add-permission", "users.view")
	if err := list(); err != nil {
		t.Fatalf("the request after the role got users.view back: %v", err)
	}

	// Another process changes bob's roles.
	r.roster("user", "set-role", "bob@example.com", "member")
	if _, err := bob.ListRoles(ctx); !errors.Is(err, roster.ErrForbidden) {
		t.Fatalf("roles.view after bob lost the role that held it: %v; want forbidden", err)
	}
}
