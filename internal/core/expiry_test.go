package core_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/postgres"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
)

// stopped is a clock that stands still until set, shared by the servers
// of one test so that they read the same instant.
type stopped struct {
	mu sync.Mutex
	at time.Time
}

func (c *stopped) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *stopped) set(t time.Time) {
	c.mu.Lock()
	c.at = t
	c.mu.Unlock()
}

// TestExpiryReplicasPostgres: two servers (two cores, each with its own
// connection pool) on one PostgreSQL database agree, to the second, on
// when an account expires and on the seat it frees, with no job run by
// either: a second before the expiry neither has a seat to give; at the
// instant both count one user fewer, and the seat goes to exactly one of
// them.
func TestExpiryReplicasPostgres(t *testing.T) {
	url := pgtest.URL(t)
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &stopped{at: base}
	var servers [2]*core.Core
	for i := range servers {
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		servers[i] = core.New(db, core.WithClock(clk.now))
	}
	admin := func(i int) roster.Service { return servers[i].As(core.Actor{Name: "local:test"}) }
	ctx := t.Context()
	if _, err := admin(0).Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin(1).CreateUser(ctx, roster.CreateUser{Email: "temp@example.com", Expires: "1h"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin(0).SetSetting(ctx, "seats", "2"); err != nil {
		t.Fatal(err)
	}
	look := func(when string, wantActive int, wantStatus roster.Status) {
		t.Helper()
		for i := range servers {
			org, err := admin(i).GetOrg(ctx, "default")
			if err != nil {
				t.Fatal(err)
			}
			u, err := admin(i).GetUser(ctx, "temp@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if org.ActiveUsers != wantActive || u.Status != wantStatus {
				t.Errorf("%s, server %d: %d active, temp %s; want %d, %s", when, i, org.ActiveUsers, u.Status, wantActive, wantStatus)
			}
		}
	}

	clk.set(base.Add(time.Hour - time.Second))
	look("a second before", 2, roster.StatusActive)
	for i := range servers {
		_, err := admin(i).CreateUser(ctx, roster.CreateUser{Email: "early@example.com"})
		if !errors.Is(err, roster.ErrConflict) {
			t.Fatalf("a second before, server %d created beyond the seats: %v", i, err)
		}
	}

	clk.set(base.Add(time.Hour))
	look("at the instant", 1, roster.StatusExpired)
	// Both try for the freed seat at once: exactly one gets it.
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() {
			_, errs[i] = admin(i).CreateUser(ctx, roster.CreateUser{Email: "new" + string(rune('a'+i)) + "@example.com"})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, roster.ErrConflict):
			t.Fatalf("server %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d servers filled the one freed seat: %v", won, errs)
	}

	clk.set(base.Add(time.Hour + time.Second))
	look("a second after", 2, roster.StatusExpired)
}
