package contract

import (
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

// Service accounts (DESIGN.md, "Service accounts, scoped and expiring
// access"): a name instead of an email, no password, no links, roles as
// people hold them (R4, R14), no seat.
var serviceCases = []struct {
	name string
	fn   func(*testing.T, Env)
}{
	{"service accounts: named, without password or links, acting through tokens", testServiceAccounts},
	{"service accounts take no seat and are not R2's owners", testServiceSeats},
	{"service accounts hold roles under R4 and R14", testServiceRoles},
}

func service(t *testing.T, s roster.Service, name string, roles ...string) roster.User {
	t.Helper()
	return must(s.CreateUser(ctx, roster.CreateUser{Kind: roster.KindService, Username: name, Roles: roles}))(t).User
}

func testServiceAccounts(t *testing.T, e Env) {
	a := e.Admin()
	u := service(t, a, "ci-deploy", roster.RoleAdmin)
	if u.Kind != roster.KindService || u.Email != "" || u.Username != "ci-deploy" || u.HasPassword || u.Status != roster.StatusActive {
		t.Fatalf("created service account: %+v", u)
	}
	if got := must(a.GetUser(ctx, "CI-Deploy"))(t); got.ID != u.ID {
		t.Fatalf("found by its name in another case: %+v", got)
	}
	// Listed apart.
	names := func(k roster.Kind) []string {
		var out []string
		for _, x := range must(a.ListUsers(ctx, roster.UserFilter{Kind: k}))(t).Items {
			out = append(out, x.Handle())
		}
		return out
	}
	if got := names(roster.KindService); !slices.Equal(got, []string{"ci-deploy"}) {
		t.Fatalf("service accounts: %v", got)
	}
	if got := names(roster.KindPerson); slices.Contains(got, "ci-deploy") || !slices.Contains(got, e.Owner()) {
		t.Fatalf("people: %v", got)
	}
	before := auditCount(t, e)
	refused := []struct {
		what string
		err  error
		kind error
	}{
		{"a second of that name", second(a.CreateUser(ctx, roster.CreateUser{Kind: roster.KindService, Username: "ci-deploy"})), roster.ErrConflict},
		{"an email", second(a.CreateUser(ctx, roster.CreateUser{Kind: roster.KindService, Username: "x", Email: "x@example.com"})), roster.ErrInvalid},
		{"no name", second(a.CreateUser(ctx, roster.CreateUser{Kind: roster.KindService})), roster.ErrInvalid},
		{"a password at creation", second(a.CreateUser(ctx, roster.CreateUser{Kind: roster.KindService, Username: "x", Password: "long enough pass"})), roster.ErrConflict},
		{"a provider's link", second(a.CreateUser(ctx, roster.CreateUser{Kind: roster.KindService, Username: "x", Links: map[string]string{"oidc:google": "1"}})), roster.ErrInvalid},
		{"an unknown kind", second(a.CreateUser(ctx, roster.CreateUser{Kind: "robot", Username: "x"})), roster.ErrInvalid},
		{"a password", second(a.SetPassword(ctx, "ci-deploy", roster.SetPassword{RandomPassword: true})), roster.ErrConflict},
		{"a reset link", second(a.CreateResetLink(ctx, "ci-deploy", 0, false)), roster.ErrConflict},
		{"an email later", second(a.UpdateUser(ctx, "ci-deploy", roster.UpdateUser{Email: ptr("ci@example.com")})), roster.ErrConflict},
		{"losing its name", second(a.UpdateUser(ctx, "ci-deploy", roster.UpdateUser{Username: ptr("")})), roster.ErrInvalid},
		{"a provider's link later", second(a.UpdateUser(ctx, "ci-deploy", roster.UpdateUser{Links: map[string]string{"oidc:google": "1"}})), roster.ErrInvalid},
		{"a person named by its name's username", second(a.CreateUser(ctx, roster.CreateUser{Email: "p@example.com", Username: "ci-deploy"})), roster.ErrConflict},
	}
	for _, r := range refused {
		wantErr(t, r.err, r.kind, "service account: "+r.what)
	}
	if n := auditCount(t, e); n != before {
		t.Fatalf("refusals wrote %d audit events", n-before)
	}
	// It acts through a token, as its roles allow, and is audited by name.
	tok := must(a.CreateToken(ctx, roster.CreateToken{User: "ci-deploy", Name: "deploy", TTL: time.Hour}))(t)
	svc := must(e.WithToken(tok.Token))(t)
	me := must(svc.Whoami(ctx))(t)
	if me.User.Kind != roster.KindService || me.User.Username != "ci-deploy" {
		t.Fatalf("whoami of its token: %+v", me.User)
	}
	create(t, svc, "made@example.com")
	events := must(a.ListAudit(ctx, roster.AuditFilter{Action: "user.create", Limit: 1}))(t)
	if len(events) != 1 || events[0].Actor != "ci-deploy" || events[0].Target != "made@example.com" {
		t.Fatalf("the create by its token: %+v", events)
	}
	_, err := svc.ChangePassword(ctx, roster.ChangePassword{Current: "x", New: "a new long password"})
	wantErr(t, err, roster.ErrConflict, "a service account changing its password")
	// Deactivated, its token stops.
	must(a.DeactivateUser(ctx, "ci-deploy", "retired"))(t)
	_, err = e.WithToken(tok.Token)
	wantErr(t, err, roster.ErrUnauthenticated, "the token of a deactivated service account")
}

func testServiceSeats(t *testing.T, e Env) {
	a := e.Admin()
	must(a.SetSetting(ctx, "seats", "1"))(t) // the owner's
	service(t, a, "bot-one", roster.RoleOwner)
	service(t, a, "bot-two")
	_, err := a.CreateUser(ctx, roster.CreateUser{Email: "p@example.com"})
	wantErr(t, err, roster.ErrConflict, "a person beyond the seat limit")
	must(a.DeactivateUser(ctx, "bot-two", ""))(t)
	must(a.ReactivateUser(ctx, "bot-two"))(t)
	must(a.SetExpiry(ctx, "bot-two", "1h"))(t)
	e.Advance(2 * time.Hour)
	must(a.SetExpiry(ctx, "bot-two", "never"))(t)
	// A service account holding owner leaves the person the last owner.
	bot := must(a.CreateToken(ctx, roster.CreateToken{User: "bot-one", Name: "t", TTL: 3 * time.Hour}))(t)
	_, err = must(e.WithToken(bot.Token))(t).DeactivateUser(ctx, e.Owner(), "")
	wantErr(t, err, roster.ErrForbidden, "deactivating the last person who owns (R2)")
	// And losing it is no loss to R2.
	must(a.DeactivateUser(ctx, "bot-one", ""))(t)
}

func testServiceRoles(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "mgr@example.com", roster.RoleManager)
	m := e.As("mgr@example.com")
	_, err := m.CreateUser(ctx, roster.CreateUser{Kind: roster.KindService, Username: "too-high", Roles: []string{roster.RoleAdmin}})
	wantErr(t, err, roster.ErrForbidden, "a manager making an admin service account (R4)")
	service(t, a, "admin-bot", roster.RoleAdmin)
	_, err = m.DeactivateUser(ctx, "admin-bot", "")
	wantErr(t, err, roster.ErrForbidden, "a manager deactivating an admin service account (R14)")
	_, err = m.CreateToken(ctx, roster.CreateToken{User: "admin-bot", Name: "x", TTL: time.Hour})
	wantErr(t, err, roster.ErrForbidden, "a manager minting a token for an admin service account (R14)")
}
