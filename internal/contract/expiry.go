package contract

import (
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

// Account expiry (DESIGN.md, "Service accounts, scoped and expiring
// access"): judged against the clock at every read, with no job running.
var expiryCases = []struct {
	name string
	fn   func(*testing.T, Env)
}{
	{"an account stops at the instant it expires: sign-in, tokens and the seat", testExpiryInstant},
	{"extending or reactivating an expired account takes a seat again (R9)", testExpiryComesBack},
	{"set-expiry: what it accepts, R2, R3 and R13", testSetExpiry},
}

// statusOf is a user's status as the service reads it now.
func statusOf(t *testing.T, s roster.Service, ref string) roster.Status {
	t.Helper()
	return must(s.GetUser(ctx, ref))(t).Status
}

// emails lists the emails of the users a filter finds.
func emails(t *testing.T, s roster.Service, f roster.UserFilter) []string {
	t.Helper()
	var out []string
	for _, u := range must(s.ListUsers(ctx, f))(t).Items {
		out = append(out, u.Email)
	}
	return out
}

func testExpiryInstant(t *testing.T, e Env) {
	a := e.Admin()
	u := must(a.CreateUser(ctx, roster.CreateUser{Email: "temp@example.com", Roles: []string{roster.RoleViewer}, Expires: "1h"}))(t).User
	if u.ExpiresAt == nil || u.Status != roster.StatusActive {
		t.Fatalf("created with --expires 1h: %+v", u)
	}
	tok := must(e.As("temp@example.com").CreateToken(ctx, roster.CreateToken{Name: "ci", TTL: 24 * time.Hour}))(t)
	// Every seat is taken: the owner and temp.
	must(a.SetSetting(ctx, "seats", "2"))(t)

	e.Advance(time.Hour - time.Second) // one second before
	if st := statusOf(t, a, "temp@example.com"); st != roster.StatusActive {
		t.Fatalf("a second before the expiry: status %s", st)
	}
	must(e.WithToken(tok.Token))(t)
	must(e.As("temp@example.com").Whoami(ctx))(t)
	_, err := a.CreateUser(ctx, roster.CreateUser{Email: "next@example.com"})
	wantErr(t, err, roster.ErrConflict, "a second before the expiry, every seat is taken")
	if got := emails(t, a, roster.UserFilter{Expiring: time.Minute}); !slices.Equal(got, []string{"temp@example.com"}) {
		t.Fatalf("expiring within a minute: %v", got)
	}

	e.Advance(time.Second) // at the instant
	if st := statusOf(t, a, "temp@example.com"); st != roster.StatusExpired {
		t.Fatalf("at the expiry: status %s, want expired", st)
	}
	_, err = e.WithToken(tok.Token)
	wantErr(t, err, roster.ErrUnauthenticated, "the token of an expired account")
	_, err = e.As("temp@example.com").Whoami(ctx)
	wantErr(t, err, roster.ErrUnauthenticated, "acting as an expired account")
	if got := emails(t, a, roster.UserFilter{Status: roster.StatusExpired}); !slices.Equal(got, []string{"temp@example.com"}) {
		t.Fatalf("--status expired: %v", got)
	}
	if got := emails(t, a, roster.UserFilter{Status: roster.StatusActive}); slices.Contains(got, "temp@example.com") {
		t.Fatalf("--status active lists an expired account: %v", got)
	}
	if got := emails(t, a, roster.UserFilter{Expiring: time.Minute}); len(got) != 0 {
		t.Fatalf("expiring lists an account already expired: %v", got)
	}
	// The seat freed at that instant, with nothing run.
	create(t, a, "next@example.com")

	e.Advance(time.Second) // after
	_, err = e.WithToken(tok.Token)
	wantErr(t, err, roster.ErrUnauthenticated, "the token of an account expired a second ago")
	if st := statusOf(t, a, "temp@example.com"); st != roster.StatusExpired {
		t.Fatalf("after the expiry: status %s", st)
	}
	_, err = a.CreateToken(ctx, roster.CreateToken{User: "temp@example.com", Name: "more"})
	wantErr(t, err, roster.ErrConflict, "a token for an expired account")
}

func testExpiryComesBack(t *testing.T, e Env) {
	a := e.Admin()
	must(a.CreateUser(ctx, roster.CreateUser{Email: "temp@example.com", Expires: "1h"}))(t)
	tok := must(e.As("temp@example.com").CreateToken(ctx, roster.CreateToken{Name: "ci", TTL: 24 * time.Hour}))(t)
	must(a.SetSetting(ctx, "seats", "2"))(t)
	e.Advance(time.Hour)
	create(t, a, "taker@example.com") // takes the seat temp freed

	_, err := a.SetExpiry(ctx, "temp@example.com", "never")
	wantErr(t, err, roster.ErrConflict, "extending an expired account beyond the seat limit")
	_, err = a.ReactivateUser(ctx, "temp@example.com")
	wantErr(t, err, roster.ErrConflict, "reactivating an expired account beyond the seat limit")
	if st := statusOf(t, a, "temp@example.com"); st != roster.StatusExpired {
		t.Fatalf("after refused extensions: status %s", st)
	}

	must(a.DeactivateUser(ctx, "taker@example.com", ""))(t)
	res := must(a.SetExpiry(ctx, "temp@example.com", "30d"))(t)
	if !res.Changed || res.User.Status != roster.StatusActive || res.User.ExpiresAt == nil {
		t.Fatalf("extended: %+v", res)
	}
	// Its token was never revoked: it works again.
	must(e.WithToken(tok.Token))(t)
	_, err = a.ReactivateUser(ctx, "taker@example.com")
	wantErr(t, err, roster.ErrConflict, "reactivating beyond the seat limit the extension filled")

	// Reactivating an expired account removes the expiry that passed.
	e.Advance(30 * 24 * time.Hour)
	must(a.SetSetting(ctx, "seats", "0"))(t)
	res = must(a.ReactivateUser(ctx, "temp@example.com"))(t)
	if !res.Changed || res.User.Status != roster.StatusActive || res.User.ExpiresAt != nil {
		t.Fatalf("reactivated: %+v", res)
	}
	if again := must(a.ReactivateUser(ctx, "temp@example.com"))(t); again.Changed {
		t.Fatal("reactivating an active account changed something")
	}
}

func testSetExpiry(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "ann@example.com", roster.RoleAdmin)
	for _, bad := range []string{"", "yesterday", "-1h", "2001-01-01", "0s"} {
		_, err := a.SetExpiry(ctx, "ann@example.com", bad)
		wantErr(t, err, roster.ErrInvalid, "set-expiry "+bad)
	}
	_, err := a.CreateUser(ctx, roster.CreateUser{Email: "past@example.com", Expires: "2001-01-01"})
	wantErr(t, err, roster.ErrInvalid, "create with an expiry in the past")

	res := must(a.SetExpiry(ctx, "ann@example.com", "2099-07-01"))(t)
	want := time.Date(2099, 7, 1, 0, 0, 0, 0, time.UTC)
	if !res.Changed || res.User.ExpiresAt == nil || !res.User.ExpiresAt.Equal(want) {
		t.Fatalf("set-expiry 2099-07-01: %+v", res)
	}
	if again := must(a.SetExpiry(ctx, "ann@example.com", "2099-07-01T00:00:00Z"))(t); again.Changed {
		t.Fatal("setting the same expiry again changed something (R13)")
	}
	_, err = e.As("ann@example.com").SetExpiry(ctx, "ann@example.com", "never")
	wantErr(t, err, roster.ErrForbidden, "setting one's own expiry (R3)")
	res = must(a.SetExpiry(ctx, "ann@example.com", "never"))(t)
	if !res.Changed || res.User.ExpiresAt != nil {
		t.Fatalf("set-expiry never: %+v", res)
	}
	// The last active owner cannot be given an expiry (R2).
	_, err = a.SetExpiry(ctx, e.Owner(), "30d")
	wantErr(t, err, roster.ErrForbidden, "an expiry on the last active owner")
	var found bool
	for _, ev := range must(a.ListAudit(ctx, roster.AuditFilter{Action: "user.set_expiry", Limit: 10}))(t) {
		found = found || ev.Target == "ann@example.com"
	}
	if !found {
		t.Fatal("no user.set_expiry event")
	}

	// An expired owner is no owner: the last one who is not stays (R2).
	create(t, a, "boss@example.com", roster.RoleOwner)
	must(a.SetExpiry(ctx, "boss@example.com", "1h"))(t)
	e.Advance(time.Hour)
	_, err = a.DeactivateUser(ctx, e.Owner(), "")
	wantErr(t, err, roster.ErrForbidden, "deactivating the last owner who has not expired (R2)")
}
