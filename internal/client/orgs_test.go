package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/roster"
)

// TestOrgs: the client's organisation calls, and a client acting in an
// organisation (Options.Org), against a real server, every request and
// answer held to docs/openapi.yaml; errors come back as the same
// sentinels.
func TestOrgs(t *testing.T) {
	ctx := context.Background()
	url, token, hc := checkedServer(t, "orgs")
	connect := func(tok, org string) *client.Client {
		t.Helper()
		cl, err := client.New(url, client.Options{Token: tok, HTTPClient: hc, Org: org})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	sys := connect(token, "")

	const pw = "Acme-Owner-Passphrase-1"
	res, err := sys.CreateOrg(ctx, roster.CreateOrg{Slug: "acme", Name: "Acme Ltd", OwnerEmail: owner, Password: pw})
	if err != nil || !res.Changed || res.Owner == nil || res.Owner.Email != owner {
		t.Fatalf("create: %+v, %v", res, err)
	}
	if res, err := sys.CreateOrg(ctx, roster.CreateOrg{Slug: "acme", OwnerEmail: owner, IfNotExists: true}); err != nil || res.Changed {
		t.Fatalf("create again, if not exists: %+v, %v", res, err)
	}
	if _, err := sys.CreateOrg(ctx, roster.CreateOrg{Slug: "acme", OwnerEmail: owner}); !errors.Is(err, roster.ErrConflict) {
		t.Fatalf("create again: %v, want a conflict", err)
	}
	if orgs, err := sys.ListOrgs(ctx); err != nil || len(orgs) != 2 {
		t.Fatalf("list: %+v, %v", orgs, err)
	}
	name := "Acme Corporation"
	if res, err := sys.UpdateOrg(ctx, "acme", roster.UpdateOrg{Name: &name}); err != nil || !res.Changed || res.Org.Name != name {
		t.Fatalf("rename: %+v, %v", res, err)
	}

	// Acting in acme: the same email is another account there.
	inAcme := connect(token, "acme")
	p, err := inAcme.Whoami(ctx)
	if err != nil || p.Org != "acme" {
		t.Fatalf("whoami in acme: %+v, %v", p, err)
	}
	if _, err := inAcme.CreateProject(ctx, roster.CreateProject{Slug: "web"}); err != nil {
		t.Fatal(err)
	}
	if ps, err := sys.ListProjects(ctx); err != nil || len(ps) != 0 {
		t.Fatalf("the system organisation's projects: %+v, %v", ps, err)
	}
	// The organisation calls are the API's own, whatever the client acts in.
	if o, err := inAcme.GetOrg(ctx, "acme"); err != nil || o.Projects != 1 {
		t.Fatalf("show acme: %+v, %v", o, err)
	}

	// Signing in to acme gives acme's owner, who meets a wall elsewhere.
	signed, err := connect("", "acme").SignIn(ctx, owner, pw, "orgs")
	if err != nil {
		t.Fatal(err)
	}
	ann := connect(signed.Token, "")
	me, err := sys.Whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := ann.Whoami(ctx); err != nil || p.Org != "acme" || p.User == nil || p.User.ID != res.Owner.ID || p.User.ID == me.User.ID {
		t.Fatalf("acme's owner: %+v, %v; the system organisation's: %+v", p, err, me)
	}
	if _, err := connect(signed.Token, "default").ListUsers(ctx, roster.UserFilter{}); !errors.Is(err, roster.ErrNotFound) {
		t.Fatalf("another organisation by its prefix: %v, want not found", err)
	}
	if _, err := ann.GetOrg(ctx, "default"); !errors.Is(err, roster.ErrNotFound) {
		t.Fatalf("another organisation by name: %v, want not found", err)
	}
	if _, err := connect("", "nosuch").SignIn(ctx, owner, pw, "orgs"); !errors.Is(err, roster.ErrNotFound) {
		t.Fatalf("sign-in to no organisation: %v, want not found", err)
	}

	// Suspended, acme's token stops; deleted, acme is gone.
	suspend := true
	if _, err := sys.UpdateOrg(ctx, "acme", roster.UpdateOrg{Suspended: &suspend}); err != nil {
		t.Fatal(err)
	}
	if _, err := ann.Whoami(ctx); !errors.Is(err, roster.ErrUnauthenticated) {
		t.Fatalf("a suspended organisation's token: %v, want unauthenticated", err)
	}
	if _, err := sys.DeleteOrg(ctx, "acme", "other"); !errors.Is(err, roster.ErrInvalid) {
		t.Fatalf("delete, confirming another: %v, want invalid", err)
	}
	if res, err := sys.DeleteOrg(ctx, "acme", "acme"); err != nil || res.Org.Slug != "acme" {
		t.Fatalf("delete: %+v, %v", res, err)
	}
	if _, err := sys.GetOrg(ctx, "acme"); !errors.Is(err, roster.ErrNotFound) {
		t.Fatalf("show after delete: %v, want not found", err)
	}
}
