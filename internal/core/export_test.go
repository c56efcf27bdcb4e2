package core_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/store/sqlite/sqlitetest"
)

// TestExportStopsWhenDeactivated: an export through a token runs one
// transaction per page, as long as its reader takes; a user deactivated
// meanwhile is refused at the next page (R8), not served to the end.
func TestExportStopsWhenDeactivated(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := core.New(db)
	admin := c.As(core.Actor{Name: "local:test"})
	if _, err := admin.Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateUser(ctx, roster.CreateUser{Email: "adm@example.com", Roles: []string{roster.RoleAdmin}}); err != nil {
		t.Fatal(err)
	}
	sqlitetest.SeedUsers(t, path, 2*roster.MaxPageSize)
	tok, err := admin.CreateToken(ctx, roster.CreateToken{User: "adm@example.com", Name: "export"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := c.Authenticate(ctx, tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = svc.Export(ctx, func(roster.UserRecord) error {
		if n++; n == 1 {
			if _, err := admin.DeactivateUser(ctx, "adm@example.com", "left mid-export"); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if !errors.Is(err, roster.ErrUnauthenticated) || n > roster.MaxPageSize {
		t.Fatalf("export after its user was deactivated: %d records, %v; want at most one page, then not authenticated", n, err)
	}
}
