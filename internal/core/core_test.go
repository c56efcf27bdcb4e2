package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/contract"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
	"github.com/roster-dev/roster/internal/store/storetest"
	"github.com/roster-dev/roster/internal/testkit"
)

// localHarness runs the contract on the core in-process, over a store made
// by open: SQLite by default, PostgreSQL when a test database is given.
type localHarness struct {
	open func(t *testing.T) store.Admin
}

type localEnv struct {
	c     *core.Core
	clock *testkit.WallClock
}

func (e localEnv) Advance(d time.Duration) {
	e.clock.Advance(d)
}

func (e localEnv) Freeze() { e.clock.Freeze() }

func (h localHarness) New(t *testing.T) contract.Env {
	db := h.open(t)
	clk := &testkit.WallClock{}
	e := localEnv{c: core.New(db, core.WithClock(clk.Now)), clock: clk}
	if _, err := e.Admin().Init(context.Background(), roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e localEnv) Admin() roster.Service { return e.c.As(core.Actor{Name: "local:test"}) }

func (e localEnv) As(user string) roster.Service { return e.c.As(core.Actor{User: user}) }

func (localEnv) Owner() string { return "owner@example.com" }

func (localEnv) Server() bool { return false }

func (e localEnv) StartSession(t *testing.T, user, pw string) string {
	return testkit.StartSession(t, e.c, "", user, pw)
}

func (e localEnv) SessionLive(secret string) bool { return testkit.SessionLive(e.c, secret) }

func (e localEnv) WithToken(tok string) (roster.Service, error) {
	return e.c.Authenticate(context.Background(), tok)
}

func TestContract(t *testing.T) { contract.Run(t, localHarness{open: storetest.SQLite}) }

// TestContractPostgres runs the same cases on PostgreSQL: every rule holds
// whichever store is under the core.
func TestContractPostgres(t *testing.T) {
	pgtest.URL(t) // skips, saying why, when there is no test database
	contract.Run(t, localHarness{open: storetest.Postgres})
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDenialsAudited checks that a refusal is audited as <action>.denied,
// naming who tried, on whom, and why, and that an actor refused again
// and again is recorded a burst at a time, the rest counted.
func TestDenialsAudited(t *testing.T) {
	db := storetest.SQLite(t)
	c := core.New(db)
	admin := c.As(core.Actor{Name: "local:root"})
	if _, err := admin.Init(t.Context(), roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"mgr@example.com", "ann@example.com"} {
		role := roster.RoleMember
		if email == "mgr@example.com" {
			role = roster.RoleAdmin
		}
		if _, err := admin.CreateUser(t.Context(), roster.CreateUser{Email: email, Roles: []string{role}}); err != nil {
			t.Fatal(err)
		}
	}
	mgr := c.As(core.Actor{User: "mgr@example.com", Name: "mgr@example.com"})
	_, refusal := mgr.DeactivateUser(t.Context(), "owner@example.com", "")
	if !errors.Is(refusal, roster.ErrForbidden) {
		t.Fatalf("an admin deactivating the owner: %v", refusal)
	}
	c.FlushDenials()
	events, err := admin.ListAudit(t.Context(), roster.AuditFilter{Action: "user.deactivate.denied", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("denials recorded: %+v, want one", events)
	}
	e := events[0]
	if e.Actor != "mgr@example.com" || e.Target != "owner@example.com" || !strings.Contains(refusal.Error(), fmt.Sprint(e.Details["reason"])) || !strings.Contains(fmt.Sprint(e.Details["reason"]), "R5") {
		t.Errorf("denial %+v: want mgr on the owner, with the reason", e)
	}
	// A flood: the burst is recorded, the rest suppressed.
	const flood = 200
	for range flood {
		if _, err := mgr.SetRoles(t.Context(), "mgr@example.com", []string{roster.RoleOwner}); !errors.Is(err, roster.ErrForbidden) {
			t.Fatalf("an admin making themselves owner: %v", err)
		}
	}
	c.FlushDenials()
	events, err = admin.ListAudit(t.Context(), roster.AuditFilter{Action: "user.set_role.denied", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || len(events) >= flood {
		t.Errorf("%d of %d refusals recorded, want a burst and no more", len(events), flood)
	}
	if v, err := admin.VerifyAudit(t.Context()); err != nil || !v.Intact {
		t.Errorf("verify after denials: %+v, %v", v, err)
	}
}
