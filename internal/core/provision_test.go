package core_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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

// TestImportFileAsStream: a regular file, or bytes in memory, is written
// while it is read (core's Import), anything else is read first. Both
// find the same bad lines, the file's own and the rules', listed by line,
// write nothing when there is one, and make the same users when there is
// none.
func TestImportFileAsStream(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(name string) roster.Service { return localService(t, filepath.Join(dir, name)) }
	write := func(name string, bad bool) string {
		var b strings.Builder
		b.WriteString("email,name,roles\n")
		for i := range 3000 {
			switch {
			case bad && i == 3: // a rule's bad line, found while writing
				fmt.Fprintf(&b, "u%04d@example.com,,nosuchrole\n", i)
			case bad && i == 2900: // the file's own, read after that
				b.WriteString("not-an-email,,\n")
			case bad && i == 2950:
				b.WriteString("u0001@example.com,again,\n")
			default:
				fmt.Fprintf(&b, "u%04d@example.com,User %d,member\n", i, i)
			}
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for i, bad := range []bool{true, false, true, false} {
		path := write(fmt.Sprintf("users-%v.csv", bad), bad)
		text, _ := os.ReadFile(path)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		streamed, read := open(fmt.Sprintf("streamed-%d.db", i)), open(fmt.Sprintf("read-%d.db", i))
		in := io.Reader(f) // a regular file, then bytes in memory
		if i >= 2 {
			in = bytes.NewReader(text)
		}
		planS, errS := streamed.Import(ctx, in, roster.ImportParams{Format: "csv"})
		// A reader that tells neither its Stat nor its Len, as a pipe.
		planR, errR := read.Import(ctx, struct{ io.Reader }{bytes.NewReader(text)}, roster.ImportParams{Format: "csv"})
		if bad {
			var ieS, ieR *roster.InputErrors
			if !errors.As(errS, &ieS) || !errors.As(errR, &ieR) {
				t.Fatalf("errors %v and %v, want bad lines", errS, errR)
			}
			if !reflect.DeepEqual(ieS.Lines, ieR.Lines) || ieS.Count() != 3 || ieS.Kind != roster.ErrInvalid {
				t.Errorf("streamed %+v, read first %+v", ieS, ieR)
			}
			lines := []int{ieS.Lines[0].Line, ieS.Lines[1].Line, ieS.Lines[2].Line}
			if !slices.Equal(lines, []int{5, 2902, 2952}) {
				t.Errorf("lines %v, want 5, 2902, 2952", lines)
			}
			for _, svc := range []roster.Service{streamed, read} {
				if _, err := svc.GetUser(ctx, "u0000@example.com"); !errors.Is(err, roster.ErrNotFound) {
					t.Errorf("a user of a file with bad lines: %v", err)
				}
			}
			continue
		}
		if errS != nil || errR != nil {
			t.Fatalf("errors %v and %v", errS, errR)
		}
		if len(planS.Changes) != 3000 || len(planR.Changes) != 3000 {
			t.Errorf("%d and %d changes, want 3000", len(planS.Changes), len(planR.Changes))
		}
		for _, svc := range []roster.Service{streamed, read} {
			if u, err := svc.GetUser(ctx, "u2999@example.com"); err != nil || u.Name != "User 2999" {
				t.Errorf("u2999: %+v, %v", u, err)
			}
		}
	}
}

// localService is a SQLite store at path, made with its owner
// owner@example.com, served to the local administrator.
func localService(t *testing.T, path string) roster.Service {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := core.New(db).As(core.Actor{Name: "local:test"})
	if _, err := s.Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	return s
}
