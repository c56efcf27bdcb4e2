package core_test

import (
	"context"
	"encoding/json"
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
