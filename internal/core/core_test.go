package core_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster/internal/contract"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

type localHarness struct{}

type localEnv struct{ c *core.Core }

func (localHarness) New(t *testing.T) contract.Env {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := localEnv{core.New(db)}
	if _, err := e.Admin().Init(context.Background(), roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e localEnv) Admin() roster.Service { return e.c.As(core.Actor{Name: "local:test"}) }

func (e localEnv) As(user string) roster.Service { return e.c.As(core.Actor{User: user}) }

func (localEnv) Owner() string { return "owner@example.com" }

func TestContract(t *testing.T) { contract.Run(t, localHarness{}) }
