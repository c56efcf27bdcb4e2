package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/api/openapitest"
	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/contract"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
	"github.com/roster-dev/roster/internal/store/storetest"
	"github.com/roster-dev/roster/internal/testkit"
)

// TestContract runs the behaviour every roster.Service must show against
// the client, talking to a real server over a real store: a rule the
// client or the server loses on the way fails here.
func TestContract(t *testing.T) { contract.Run(t, remoteHarness{open: storetest.SQLite}) }

// TestContractInOrg runs the contract inside an organisation that is not
// the system one, every call under its /api/v1/orgs/{org}/ prefix, beside
// a neighbour organisation holding the same names, which must not change
// (R21).
func TestContractInOrg(t *testing.T) {
	contract.Run(t, remoteHarness{open: storetest.SQLite, org: "acme"})
}

// TestContractInOrgPostgres runs TestContractInOrg's cases on PostgreSQL.
func TestContractInOrgPostgres(t *testing.T) {
	pgtest.URL(t) // skips, saying why, when there is no test database
	contract.Run(t, remoteHarness{open: storetest.Postgres, org: "acme"})
}

// TestContractPostgres runs the contract through a server on PostgreSQL.
func TestContractPostgres(t *testing.T) {
	pgtest.URL(t) // skips, saying why, when there is no test database
	contract.Run(t, remoteHarness{open: storetest.Postgres})
}

const owner = "owner@example.com"

// remoteGaps are the contract cases that cannot pass through a token, and
// why: each relies on the local administrator, a superuser with no
// account, for whom a token has no counterpart. They are skipped with
// their reason rather than weakened.
var remoteGaps = map[string]string{
	"R2 last active owner stays": "its last step has the administrator deactivate the first owner; " +
		"remotely the administrator is that owner, and nobody acts on themselves (R3)",
	"R13 repeating changes nothing": "it calls Init, which has no endpoint: init acts on the store's host",
	"R10 changing one's own password needs the current one": "it wants ErrInvalid because the local administrator " +
		"has no password; the remote administrator is the owner, whose wrong current password is ErrUnauthenticated",
	"tokens of others need tokens.manage and all their user holds": "it counts tokens: remotely every Service " +
		"is a token of its own (a member lists 3, not 2), and the administrator, a person, lists only their own",
}

// remoteHarness gives each case a store, a core over it, and an API
// server on loopback; every Service it hands out is a client of that
// server with a token.
type remoteHarness struct {
	open func(t *testing.T) store.Admin
	// org, when set, is the organisation the cases act in: its first owner
	// is the contract's owner, and every client calls under its prefix.
	org string
}

type remoteEnv struct {
	t     *testing.T
	core  *core.Core
	url   string
	clock *testkit.WallClock
	admin roster.Service
	org   string // remoteHarness.org
	// openapi checks every request the clients send, and every answer,
	// against docs/openapi.yaml.
	openapi *openapitest.Validator
}

func (h remoteHarness) New(t *testing.T) contract.Env {
	for name, why := range remoteGaps {
		if strings.HasSuffix(t.Name(), "/"+strings.ReplaceAll(name, " ", "_")) {
			t.Skip("not remotely: " + why)
		}
	}
	ctx := context.Background()
	db := h.open(t)
	clk := &testkit.WallClock{}
	c := core.New(db, core.WithClock(clk.Now), core.WithServer(""))
	// Initialising is done on the store's host, as roster init does.
	sys := c.As(core.Actor{Name: "local:test"})
	first := owner
	if h.org != "" {
		first = "root@example.com"
	}
	if _, err := sys.Init(ctx, roster.InitParams{OwnerEmail: first, RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	if h.org != "" {
		for _, slug := range []string{h.org, "noise"} {
			if _, err := sys.CreateOrg(ctx, roster.CreateOrg{Slug: slug, OwnerEmail: owner, RandomPassword: true}); err != nil {
				t.Fatal(err)
			}
		}
		noise := c.As(core.Actor{Name: "local:test", Org: "noise"})
		contract.FillNeighbour(t, noise)
		contract.WatchNeighbour(t, noise)
	}
	// The contract is about the rules, not the failure limiter (package
	// api tests that): lifted, 16 concurrent accepts from one address are
	// not turned away.
	srv := httptest.NewServer(api.New(c, api.Options{FailureRate: 1e9}))
	t.Cleanup(srv.Close) // before db.Close: cleanups run last first
	v, err := openapitest.New()
	if err != nil {
		t.Fatal(err)
	}
	e := &remoteEnv{t: t, core: c, url: srv.URL, clock: clk, openapi: v, org: h.org}
	// With a token the administrator is a person: the first owner.
	e.admin = e.As(owner)
	return e
}

func (e *remoteEnv) Admin() roster.Service { return e.admin }

func (e *remoteEnv) Owner() string { return owner }

func (e *remoteEnv) Server() bool { return true }

func (e *remoteEnv) Advance(d time.Duration) {
	e.clock.Advance(d)
}

func (e *remoteEnv) Freeze() { e.clock.Freeze() }

// As is a client with a fresh token of user, minted on the store's host
// by the local administrator, as roster token create --user would (the
// user's own token create is refused while they must change their
// password, R17). The longest lifetime tokens.max_ttl allows by default keeps it alive
// across Advance.
func (e *remoteEnv) As(user string) roster.Service {
	e.t.Helper()
	tok, err := e.core.As(core.Actor{Name: "local:test", Org: e.org}).CreateToken(context.Background(),
		roster.CreateToken{User: user, Name: "contract", TTL: roster.DefaultTokenMaxTTL})
	switch {
	case errors.Is(err, roster.ErrNotFound), errors.Is(err, roster.ErrConflict):
		// No such user, or not active: no token can act as them, so the
		// client's token is one the server knows nothing of, and every
		// call fails as acting as them locally does.
		return e.client("roster_pat_unknown")
	case err != nil:
		e.t.Fatalf("a token for %s: %v", user, err)
	}
	return e.client(tok.Token)
}

// StartSession signs user in with a browser on the store's host, where
// the pages are served; what the clients do to the session is remote.
func (e *remoteEnv) StartSession(t *testing.T, user, pw string) string {
	return testkit.StartSession(t, e.core, e.org, user, pw)
}

func (e *remoteEnv) SessionLive(secret string) bool { return testkit.SessionLive(e.core, secret) }

func (e *remoteEnv) WithToken(tok string) (roster.Service, error) {
	c := e.client(tok)
	if _, err := c.Whoami(context.Background()); err != nil {
		return nil, err
	}
	return c, nil
}

func (e *remoteEnv) client(tok string) *client.Client {
	e.t.Helper()
	// As client.New's own, but carried by a transport that holds each
	// request and response to docs/openapi.yaml.
	hc := &http.Client{
		Timeout:       client.DefaultTimeout,
		Transport:     e.openapi.Transport(e.t, nil),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c, err := client.New(e.url, client.Options{Token: tok, HTTPClient: hc, Org: e.org})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}
