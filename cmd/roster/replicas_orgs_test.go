package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
)

// TestReplicasOrgs checks issue 18's races across servers: organisations
// made and seats taken at once through two roster serve processes on one
// PostgreSQL database.
func TestReplicasOrgs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers")
	}
	r := startReplicas(t, 2)
	ctx := context.Background()
	root := r.token("root@example.com")

	t.Run("two org create of one slug: one wins, the rest conflict", func(t *testing.T) {
		const rounds, creators = 8, 4 // creators spread over both servers
		for round := range rounds {
			slug := fmt.Sprintf("race-%d", round)
			var won atomic.Int32
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range creators {
				cl := r.as(i, root)
				wg.Go(func() {
					<-start
					_, err := cl.CreateOrg(ctx, roster.CreateOrg{Slug: slug, OwnerEmail: fmt.Sprintf("owner%d@example.com", i), RandomPassword: true})
					switch {
					case err == nil:
						won.Add(1)
					case !errors.Is(err, roster.ErrConflict):
						t.Errorf("round %d, creator %d: %v; want a conflict", round, i, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if won.Load() != 1 {
				t.Fatalf("round %d: %d creates of %s succeeded; want exactly 1", round, won.Load(), slug)
			}
			// Made once, and seeded once: one owner, each locked role once.
			if n := strings.Count(r.roster("org", "list", "-o", "name"), slug+"\n"); n != 1 {
				t.Errorf("round %d: %s listed %d times", round, slug, n)
			}
			users := strings.Fields(r.roster("--org", slug, "user", "list", "--all", "-o", "name"))
			if len(users) != 1 || !strings.HasPrefix(users[0], "owner") {
				t.Errorf("round %d: users of %s %v; want one owner", round, slug, users)
			}
			roles := strings.Fields(r.roster("--org", slug, "role", "list", "-o", "name"))
			slices.Sort(roles)
			if len(roles) != len(roster.BuiltinRoles) || len(slices.Compact(slices.Clone(roles))) != len(roles) {
				t.Errorf("round %d: roles of %s %v; want the %d locked roles once each", round, slug, roles, len(roster.BuiltinRoles))
			}
		}
	})

	t.Run("seats are counted per organisation under concurrent accepts", func(t *testing.T) {
		// acme and its neighbour bolt each have seats for their owner and
		// free more; twice as many people, with the same emails in both,
		// accept their invitations at once through both servers.
		const free = 3
		orgs := []string{"acme", "bolt"}
		type accept struct{ org, tok string }
		var accepts []accept
		for _, org := range orgs {
			r.roster("org", "create", org, "--owner-email", "owner@"+org+".example", "--random-password", "-q")
			r.roster("--org", org, "settings", "set", "seats", fmt.Sprint(1+free))
			for i := range 2 * free {
				tok := strings.TrimSpace(r.roster("--org", org, "invite", "create", fmt.Sprintf("seat%d@example.com", i)))
				accepts = append(accepts, accept{org, tok})
			}
		}
		ok := map[string]*atomic.Int32{"acme": {}, "bolt": {}}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, a := range accepts {
			cl := r.as(i, "")
			wg.Go(func() {
				<-start
				_, err := cl.AcceptInvitation(ctx, roster.AcceptInvitation{Token: a.tok, Password: "a-long-passphrase-" + fmt.Sprint(i)})
				switch {
				case err == nil:
					ok[a.org].Add(1)
				case !errors.Is(err, roster.ErrConflict):
					t.Errorf("accept %d in %s: %v; want success or a conflict", i, a.org, err)
				}
			})
		}
		close(start)
		wg.Wait()
		for _, org := range orgs {
			if n := ok[org].Load(); n != free {
				t.Errorf("%s: %d accepts succeeded with %d seats free; want %d", org, n, free, free)
			}
			var show roster.Org
			if err := json.Unmarshal([]byte(r.roster("org", "show", org, "-o", "json")), &show); err != nil {
				t.Fatal(err)
			}
			if show.ActiveUsers != 1+free || show.Seats != 1+free {
				t.Errorf("%s: %d active users of %d seats; want %d of %d", org, show.ActiveUsers, show.Seats, 1+free, 1+free)
			}
		}
	})
}
