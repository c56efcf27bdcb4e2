package core_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// lookups is a store that counts the project lookups of its writes.
type lookups struct {
	store.Store
	n int
}

func (s *lookups) Write(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Write(ctx, func(tx store.Tx) error { return fn(&lookupsTx{Tx: tx, n: &s.n}) })
}

type lookupsTx struct {
	store.Tx
	n *int
}

func (t *lookupsTx) ProjectBySlug(ctx context.Context, slug string) (store.ProjectRow, bool, error) {
	*t.n++
	return t.Tx.ProjectBySlug(ctx, slug)
}

// TestImportFindsProjectsOnce: a project lookup counts the project's
// members, so one per row made import and apply quadratic in a project's
// size (issue 22: 40,000 users in one project took 47 s). A batch finds
// each project once, for new users and for existing ones.
func TestImportFindsProjectsOnce(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &lookups{Store: db}
	svc := core.New(s).As(core.Actor{Name: "local:test"})
	if _, err := svc.Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"web", "api", "ops"} {
		if _, err := svc.CreateProject(ctx, roster.CreateProject{Slug: p}); err != nil {
			t.Fatal(err)
		}
	}
	const n = 3000
	file := func(projects string) string {
		var b strings.Builder
		b.WriteString("email,roles,projects\n")
		for i := range n {
			fmt.Fprintf(&b, "u%04d@example.com,member,%s\n", i, projects)
		}
		return b.String()
	}
	for _, step := range []struct{ what, projects string }{
		{"new users joining two projects", "web;api"},
		{"existing users joining a third", "web;api;ops"},
	} {
		s.n = 0
		plan, err := svc.Import(ctx, strings.NewReader(file(step.projects)), roster.ImportParams{Format: "csv"})
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Changes) != n {
			t.Fatalf("%s: %d changes, want %d", step.what, len(plan.Changes), n)
		}
		if s.n > 10 {
			t.Errorf("%s: %d project lookups for %d rows; want one per project", step.what, s.n, n)
		}
	}
	u, err := svc.GetUser(ctx, "u2999@example.com")
	if err != nil || strings.Join(u.Projects, ",") != "api,ops,web" {
		t.Fatalf("u2999: %v, %v", u.Projects, err)
	}
}
