package core_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
	"github.com/roster-dev/roster/internal/store/storetest"
	"github.com/roster-dev/roster/internal/testkit"
)

// idemEnv is a core whose owner acts through a token, as over HTTP.
type idemEnv struct {
	c     *core.Core
	clock *testkit.WallClock
	owner roster.Service
}

func newIdemEnv(t *testing.T, open func(t *testing.T) store.Admin) idemEnv {
	clk := &testkit.WallClock{}
	c := core.New(open(t), core.WithClock(clk.Now))
	admin := c.As(core.Actor{Name: "local:test"})
	if _, err := admin.Init(t.Context(), roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateToken(t.Context(), roster.CreateToken{User: "owner@example.com", Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	owner, err := c.Authenticate(t.Context(), tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	return idemEnv{c: c, clock: clk, owner: owner}
}

func (e idemEnv) admin() roster.Service { return e.c.As(core.Actor{Name: "local:test"}) }

func request(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

const idemKey = "0b7e4a52-6c1d-4f3a-9e2b-77a1d5c0f001"

// answer is what a handler would answer for err and a result.
func answer(v any, err error) core.Answer {
	if err != nil {
		return core.Answer{Status: http.StatusConflict, Body: []byte(err.Error())}
	}
	return core.Answer{Status: http.StatusOK, Body: fmt.Appendf(nil, "%v", v)}
}

func eachStore(t *testing.T, test func(t *testing.T, open func(t *testing.T) store.Admin)) {
	t.Run("sqlite", func(t *testing.T) { test(t, storetest.SQLite) })
	t.Run("postgres", func(t *testing.T) {
		pgtest.URL(t) // skips, saying why, when there is no test database
		test(t, storetest.Postgres)
	})
	t.Run("postgres-serializable", func(t *testing.T) {
		test(t, func(t *testing.T) store.Admin {
			db, err := postgres.Open(t.Context(), pgtest.URL(t)+"&roster_tx=serializable")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}

// TestIdempotentCommitsWithAnswer: a request's writes commit with its
// answer; sent again it is answered the same without running; with
// another request the key is refused.
func TestIdempotentCommitsWithAnswer(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(t *testing.T) store.Admin) {
		e := newIdemEnv(t, open)
		ctx := t.Context()
		runs := 0
		do := func(ctx context.Context) core.Answer {
			runs++
			p, err := e.owner.CreateProject(ctx, roster.CreateProject{Slug: "apollo"})
			return answer(p.Slug, err)
		}
		a, replayed, err := e.c.Idempotent(ctx, e.owner, idemKey, request("create apollo"), do)
		if err != nil || replayed || a.Status != 200 || string(a.Body) != "apollo" {
			t.Fatalf("first: %d %q, replayed %v, %v", a.Status, a.Body, replayed, err)
		}
		b, replayed, err := e.c.Idempotent(ctx, e.owner, idemKey, request("create apollo"), do)
		if err != nil || !replayed || b.Status != a.Status || !bytes.Equal(a.Body, b.Body) || runs != 1 {
			t.Fatalf("again: %d %q, replayed %v, %v, %d runs", b.Status, b.Body, replayed, err, runs)
		}
		if _, _, err := e.c.Idempotent(ctx, e.owner, idemKey, request("create gemini"), do); !errors.Is(err, core.ErrKeyReused) || runs != 1 {
			t.Fatalf("another request: %v, %d runs; want ErrKeyReused", err, runs)
		}
		// A day later the key is forgotten.
		e.clock.Advance(core.OutcomeTTL + time.Minute)
		a, replayed, err = e.c.Idempotent(ctx, e.owner, idemKey, request("create apollo"), do)
		if err != nil || replayed || a.Status != http.StatusConflict || runs != 2 {
			t.Fatalf("a day later: %d %q, replayed %v, %v; want it run again, and conflict", a.Status, a.Body, replayed, err)
		}
	})
}

// TestIdempotentFailureRollsBack: an answer of 500 or more undoes the
// request's writes, all of them, and the catalog cache keeps nothing it
// read in their transaction.
func TestIdempotentFailureRollsBack(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(t *testing.T) store.Admin) {
		e := newIdemEnv(t, open)
		ctx := t.Context()
		a, _, err := e.c.Idempotent(ctx, e.owner, idemKey, request("r"), func(ctx context.Context) core.Answer {
			if _, err := e.owner.CreateProject(ctx, roster.CreateProject{Slug: "apollo"}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.owner.CreateRole(ctx, roster.CreateRole{Name: "auditor", Permissions: []string{roster.PermUsersView}}); err != nil {
				t.Fatal(err)
			}
			// The request sees its own writes.
			if r, err := e.owner.GetRole(ctx, "auditor"); err != nil || r.Name != "auditor" {
				t.Fatalf("reading the role back: %+v, %v", r, err)
			}
			return core.Answer{Status: http.StatusInternalServerError}
		})
		if err != nil || a.Status != 500 {
			t.Fatalf("Idempotent = %d, %v", a.Status, err)
		}
		if _, err := e.admin().GetProject(ctx, "apollo"); !errors.Is(err, roster.ErrNotFound) {
			t.Errorf("project after a 500: %v, want not found", err)
		}
		roles, err := e.owner.ListRoles(ctx)
		if err != nil || slices.ContainsFunc(roles, func(r roster.Role) bool { return r.Name == "auditor" }) {
			t.Errorf("roles after a 500: %v, %v; want no auditor", roles, err)
		}
		// A role made now is the one the catalog has, not the undone one.
		if _, err := e.owner.CreateRole(ctx, roster.CreateRole{Name: "billing", Permissions: []string{roster.PermUsersView}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.owner.GetRole(ctx, "auditor"); !errors.Is(err, roster.ErrNotFound) {
			t.Errorf("the undone role is still in the catalog: %v", err)
		}
		// Nothing was recorded: the request runs again.
		a, replayed, err := e.c.Idempotent(ctx, e.owner, idemKey, request("r"), func(ctx context.Context) core.Answer {
			return answer(e.owner.CreateProject(ctx, roster.CreateProject{Slug: "apollo"}))
		})
		if err != nil || replayed || a.Status != 200 {
			t.Fatalf("sent again: %d %q, replayed %v, %v", a.Status, a.Body, replayed, err)
		}
	})
}

// TestIdempotentSavepoints: a write of the request that fails undoes only
// itself; the others commit with the answer.
func TestIdempotentSavepoints(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(t *testing.T) store.Admin) {
		e := newIdemEnv(t, open)
		ctx := t.Context()
		a, _, err := e.c.Idempotent(ctx, e.owner, idemKey, request("r"), func(ctx context.Context) core.Answer {
			if _, err := e.owner.CreateProject(ctx, roster.CreateProject{Slug: "apollo"}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.owner.CreateProject(ctx, roster.CreateProject{Slug: "apollo"}); !errors.Is(err, roster.ErrConflict) {
				t.Fatalf("apollo twice: %v", err)
			}
			return answer(e.owner.CreateProject(ctx, roster.CreateProject{Slug: "gemini"}))
		})
		if err != nil || a.Status != 200 {
			t.Fatalf("Idempotent = %d %q, %v", a.Status, a.Body, err)
		}
		for _, slug := range []string{"apollo", "gemini"} {
			if _, err := e.admin().GetProject(ctx, slug); err != nil {
				t.Errorf("%s: %v", slug, err)
			}
		}
	})
}

// TestIdempotentConcurrent: the same request sent many times at once is
// done once, and every sender gets its one answer.
func TestIdempotentConcurrent(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(t *testing.T) store.Admin) {
		e := newIdemEnv(t, open)
		ctx := t.Context()
		const n = 8
		var wg sync.WaitGroup
		answers := make([]core.Answer, n)
		errs := make([]error, n)
		var made atomic.Int32
		for i := range n {
			wg.Go(func() {
				answers[i], _, errs[i] = e.c.Idempotent(ctx, e.owner, idemKey, request("invite"), func(ctx context.Context) core.Answer {
					inv, err := e.owner.CreateInvitation(ctx, roster.CreateInvitation{Email: "ann@example.com"})
					if err == nil {
						made.Add(1)
					}
					return answer(inv.Token, err)
				})
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || answers[i].Status != 200 || !bytes.Equal(answers[i].Body, answers[0].Body) {
				t.Errorf("sender %d: %d %q, %v; want the one answer %q", i, answers[i].Status, answers[i].Body, errs[i], answers[0].Body)
			}
		}
		invs, err := e.admin().ListInvitations(ctx, "")
		if err != nil || len(invs) != 1 || made.Load() != 1 {
			t.Errorf("%d invitations, %d made, %v; want 1", len(invs), made.Load(), err)
		}
	})
}

// lostCommits is a store whose next write transaction loses its COMMIT's
// answer: it commits (or, told to, rolls back) and reports
// store.CommitUnknown, as PostgreSQL's store does when the connection
// fails during COMMIT.
type lostCommits struct {
	store.Admin
	next atomic.Int32 // 0: none; 1: commit; 2: roll back
}

var errLoseCommit = errors.New("rolled back by the test")

func (s *lostCommits) Write(ctx context.Context, fn func(store.Tx) error) error {
	unknown := &store.CommitUnknown{Err: roster.Errorf(roster.ErrUnavailable, "lost the connection while committing: the change may or may not have been made")}
	switch s.next.Swap(0) {
	case 1:
		if err := s.Admin.Write(ctx, fn); err != nil {
			return err
		}
		return unknown
	case 2:
		err := s.Admin.Write(ctx, func(tx store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			return errLoseCommit
		})
		if errors.Is(err, errLoseCommit) {
			return unknown
		}
		return err
	}
	return s.Admin.Write(ctx, fn)
}

// TestIdempotentCommitUnknown: when the COMMIT of a request made with a
// key loses its answer, the outcome recorded with its writes tells what
// happened, and that is the answer: done, or not done.
func TestIdempotentCommitUnknown(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(t *testing.T) store.Admin) {
		var db *lostCommits
		e := newIdemEnv(t, func(t *testing.T) store.Admin {
			db = &lostCommits{Admin: open(t)}
			return db
		})
		ctx := t.Context()
		create := func(slug string) func(ctx context.Context) core.Answer {
			return func(ctx context.Context) core.Answer {
				p, err := e.owner.CreateProject(ctx, roster.CreateProject{Slug: slug})
				return answer(p.Slug, err)
			}
		}

		db.next.Store(1) // committed, the answer lost
		a, replayed, err := e.c.Idempotent(ctx, e.owner, idemKey, request("create apollo"), create("apollo"))
		if err != nil || replayed || a.Status != 200 || string(a.Body) != "apollo" {
			t.Fatalf("committed without an answer: %d %q, replayed %v, %v; want it answered done", a.Status, a.Body, replayed, err)
		}
		if _, err := e.admin().GetProject(ctx, "apollo"); err != nil {
			t.Fatalf("the project: %v", err)
		}

		db.next.Store(2) // rolled back, the answer lost
		_, _, err = e.c.Idempotent(ctx, e.owner, idemKey+"2", request("create gemini"), create("gemini"))
		if !errors.Is(err, roster.ErrUnavailable) || !strings.Contains(err.Error(), "nothing was changed") {
			t.Fatalf("rolled back without an answer: %v; want unavailable, nothing changed", err)
		}
		if _, err := e.admin().GetProject(ctx, "gemini"); !errors.Is(err, roster.ErrNotFound) {
			t.Fatalf("the project not committed: %v; want not found", err)
		}
		// Nothing was recorded: sent again, the request is done.
		a, replayed, err = e.c.Idempotent(ctx, e.owner, idemKey+"2", request("create gemini"), create("gemini"))
		if err != nil || replayed || a.Status != 200 {
			t.Fatalf("sent again: %d %q, replayed %v, %v", a.Status, a.Body, replayed, err)
		}
	})
}
