package client_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/storetest"
)

// TestConcurrentClients: 8 clients, each with its own token, change the
// store through the server at once; nothing is lost and nothing fails.
func TestConcurrentClients(t *testing.T) {
	const clients, each = 8, 15
	e := remoteHarness{open: storetest.SQLite}.New(t).(*remoteEnv)
	ctx := context.Background()
	if _, err := e.core.As(core.Actor{Name: "local:test"}).CreateProject(ctx, roster.CreateProject{Slug: "shared"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients*each*3)
	for c := range clients {
		svc := e.As(owner)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				email := fmt.Sprintf("c%d-u%d@example.com", c, i)
				if _, err := svc.CreateUser(ctx, roster.CreateUser{Email: email}); err != nil {
					errs <- fmt.Errorf("create %s: %w", email, err)
					continue
				}
				if _, err := svc.AddMembers(ctx, "shared", []string{email}); err != nil {
					errs <- fmt.Errorf("add %s: %w", email, err)
				}
				if i%3 == 0 {
					if _, err := svc.DeactivateUser(ctx, email, "load"); err != nil {
						errs <- fmt.Errorf("deactivate %s: %w", email, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	admin := e.Admin()
	p, err := admin.GetProject(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if p.Members != clients*each {
		t.Errorf("shared has %d members; want %d", p.Members, clients*each)
	}
	deact := 0
	f := roster.UserFilter{Status: roster.StatusDeactivated, Limit: roster.MaxPageSize}
	page, err := admin.ListUsers(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	deact = len(page.Items)
	if want := clients * ((each + 2) / 3); deact != want {
		t.Errorf("%d users deactivated; want %d", deact, want)
	}
	events, err := admin.ListAudit(ctx, roster.AuditFilter{Action: "user.create", Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	// Init's owner, plus every client's users.
	if len(events) != 1+clients*each {
		t.Errorf("%d user.create events; want %d", len(events), 1+clients*each)
	}
}
