package contract

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

// scopedCases hold scoped and expiring tokens (DESIGN.md, "Service
// accounts, scoped and expiring access").
var scopedCases = []struct {
	name string
	fn   func(*testing.T, Env)
}{
	{"a token expires at its instant: a second before, at and after", testTokenExpiryInstant},
	{"tokens.max_ttl caps a token's lifetime", testTokenMaxTTL},
	{"a scoped token acts with its scope and its user's current rights", testTokenScopeIntersect},
	{"R4 applies to a token's scope", testTokenScopeGrant},
	{"token list --expiring and where a token was last used from", testTokenExpiring},
}

// wantMessage fails unless err's message contains part.
func wantMessage(t *testing.T, err error, part, what string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), part) {
		t.Fatalf("%s: got %v, want a message with %q", what, err, part)
	}
}

func testTokenExpiryInstant(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "ann@example.com", roster.RoleViewer)
	ann := e.As("ann@example.com")
	e.Freeze()
	tok := must(ann.CreateToken(ctx, roster.CreateToken{Name: "hour", TTL: time.Hour}))(t)
	if got := tok.ExpiresAt.Sub(tok.CreatedAt); got != time.Hour {
		t.Fatalf("a 1h token lives %s", got)
	}
	// An end date instead of a lifetime ends there exactly.
	end := tok.CreatedAt.Add(2 * time.Hour)
	dated := must(ann.CreateToken(ctx, roster.CreateToken{Name: "dated", ExpiresAt: &end}))(t)
	if !dated.ExpiresAt.Equal(end) {
		t.Fatalf("a token asked to end at %s ends at %s", end, dated.ExpiresAt)
	}
	past := tok.CreatedAt.Add(-time.Second)
	_, err := ann.CreateToken(ctx, roster.CreateToken{Name: "past", ExpiresAt: &past})
	wantErr(t, err, roster.ErrInvalid, "a token ending in the past")
	_, err = ann.CreateToken(ctx, roster.CreateToken{Name: "both", TTL: time.Hour, ExpiresAt: &end})
	wantErr(t, err, roster.ErrInvalid, "a lifetime and an end date")
	revoked := must(ann.CreateToken(ctx, roster.CreateToken{Name: "revoked", TTL: time.Hour}))(t)
	must(ann.RevokeToken(ctx, revoked.ID))(t)

	e.Advance(time.Hour - time.Second)
	must(e.WithToken(tok.Token))(t)
	e.Advance(time.Second)
	_, err = e.WithToken(tok.Token)
	wantErr(t, err, roster.ErrUnauthenticated, "a token at its expiry instant")
	wantMessage(t, err, "expired", "a token at its expiry instant")
	e.Advance(time.Second)
	_, err = e.WithToken(tok.Token)
	wantErr(t, err, roster.ErrUnauthenticated, "a token a second after its expiry")
	wantMessage(t, err, "expired", "a token a second after its expiry")
	must(e.WithToken(dated.Token))(t)

	// Every other failure stays "invalid", saying nothing of why.
	for what, secret := range map[string]string{"a revoked token": revoked.Token, "an unknown token": "roster_pat_nonsense"} {
		_, err = e.WithToken(secret)
		wantErr(t, err, roster.ErrUnauthenticated, what)
		wantMessage(t, err, "invalid", what)
		if strings.Contains(err.Error(), "expired") {
			t.Fatalf("%s: %v says expired", what, err)
		}
	}
}

func testTokenMaxTTL(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "ann@example.com", roster.RoleViewer)
	ann := e.As("ann@example.com")
	// The default cap is a year.
	_, err := ann.CreateToken(ctx, roster.CreateToken{Name: "long", TTL: roster.DefaultTokenMaxTTL + time.Second})
	wantErr(t, err, roster.ErrInvalid, "a token beyond the default tokens.max_ttl")
	wantMessage(t, err, "tokens.max_ttl", "a token beyond the default tokens.max_ttl")
	long := must(ann.CreateToken(ctx, roster.CreateToken{Name: "year", TTL: roster.DefaultTokenMaxTTL}))(t)

	_, err = ann.SetSetting(ctx, "tokens.max_ttl", "1h")
	wantErr(t, err, roster.ErrForbidden, "a viewer setting tokens.max_ttl")
	for _, bad := range []string{"0s", "30s", "3651d", "soon"} {
		_, err = a.SetSetting(ctx, "tokens.max_ttl", bad)
		wantErr(t, err, roster.ErrInvalid, "tokens.max_ttl "+bad)
	}
	must(a.SetSetting(ctx, "tokens.max_ttl", "1h"))(t)

	_, err = ann.CreateToken(ctx, roster.CreateToken{Name: "2h", TTL: 2 * time.Hour})
	wantErr(t, err, roster.ErrInvalid, "a token beyond tokens.max_ttl")
	far := long.CreatedAt.Add(30 * 24 * time.Hour)
	_, err = ann.CreateToken(ctx, roster.CreateToken{Name: "dated", ExpiresAt: &far})
	wantErr(t, err, roster.ErrInvalid, "an end date beyond tokens.max_ttl")
	// Asking for nothing gets the default cut to the cap, not an error.
	def := must(ann.CreateToken(ctx, roster.CreateToken{Name: "default"}))(t)
	if got := def.ExpiresAt.Sub(def.CreatedAt); got != time.Hour {
		t.Fatalf("a default token under a 1h cap lives %s", got)
	}
	// Rotation keeps a token's lifetime, cut to the cap; a new one asked
	// for is held to it.
	rot := must(ann.RotateToken(ctx, roster.RotateToken{ID: long.ID}))(t)
	if got := rot.ExpiresAt.Sub(rot.CreatedAt); got != time.Hour {
		t.Fatalf("a year's token rotated under a 1h cap lives %s", got)
	}
	_, err = ann.RotateToken(ctx, roster.RotateToken{ID: long.ID, TTL: 2 * time.Hour})
	wantErr(t, err, roster.ErrInvalid, "rotating to beyond tokens.max_ttl")
	rot = must(ann.RotateToken(ctx, roster.RotateToken{ID: long.ID, TTL: 30 * time.Minute}))(t)
	if got := rot.ExpiresAt.Sub(rot.CreatedAt); got != 30*time.Minute {
		t.Fatalf("a token rotated for 30m lives %s", got)
	}
}

func testTokenScopeIntersect(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "ann@example.com", roster.RoleAdmin)
	scope := []string{roster.PermUsersCreate, roster.PermUsersView}
	tok := must(e.As("ann@example.com").CreateToken(ctx, roster.CreateToken{Name: "provision", Scope: []string{"users.view", "users.create", "users.view"}}))(t)
	if !slices.Equal(tok.Scope, scope) {
		t.Fatalf("a new token's scope = %q, want %q", tok.Scope, scope)
	}
	s := must(e.WithToken(tok.Token))(t)

	must(s.CreateUser(ctx, roster.CreateUser{Email: "new@example.com"}))(t)
	_, err := s.DeactivateUser(ctx, "new@example.com", "")
	wantErr(t, err, roster.ErrForbidden, "a token scoped without users.manage deactivating")
	wantMessage(t, err, "scope", "a token scoped without users.manage deactivating")
	_, err = s.CreateRole(ctx, roster.CreateRole{Name: "x", Permissions: []string{roster.PermUsersView}})
	wantErr(t, err, roster.ErrForbidden, "a token scoped without roles.manage")

	p := must(s.Whoami(ctx))(t)
	if !slices.Equal(p.Permissions, scope) || !slices.Equal(p.Scope, scope) ||
		!slices.Contains(p.ScopeRemoved, roster.PermUsersManage) || slices.Contains(p.ScopeRemoved, roster.PermUsersView) {
		t.Fatalf("whoami of a scoped token: permissions %q, scope %q, removed %q", p.Permissions, p.Scope, p.ScopeRemoved)
	}
	d := must(s.Can(ctx, "ann@example.com", roster.PermUsersManage, ""))(t)
	if d.Allowed || !strings.Contains(d.Reason, "scope") {
		t.Fatalf("can, through a scoped token, use what the scope leaves out: %+v", d)
	}
	if d := must(s.Can(ctx, "ann@example.com", roster.PermUsersCreate, "")); !d(t).Allowed {
		t.Fatalf("can, through a scoped token, use what the scope keeps: %+v", d(t))
	}
	// Asked of someone else, can answers for them, not for the token.
	if d := must(a.Can(ctx, "ann@example.com", roster.PermUsersManage, "")); !d(t).Allowed {
		t.Fatalf("can ann, asked by the administrator: %+v", d(t))
	}

	// A scoped token cannot make a token that escapes its scope.
	_, err = s.CreateToken(ctx, roster.CreateToken{Name: "wide"})
	wantErr(t, err, roster.ErrForbidden, "a scoped token making an unscoped one")
	_, err = s.CreateToken(ctx, roster.CreateToken{Name: "wider", Scope: []string{roster.PermUsersManage}})
	wantErr(t, err, roster.ErrForbidden, "a scoped token making one scoped beyond its own")
	narrow := must(s.CreateToken(ctx, roster.CreateToken{Name: "narrow", Scope: []string{roster.PermUsersView}}))(t)
	if !slices.Equal(narrow.Scope, []string{roster.PermUsersView}) {
		t.Fatalf("a narrower token's scope = %q", narrow.Scope)
	}
	// Nor get the secret of one that is not: rotating hands it over.
	wide := must(e.As("ann@example.com").CreateToken(ctx, roster.CreateToken{Name: "wide"}))(t)
	_, err = s.RotateToken(ctx, roster.RotateToken{ID: wide.ID})
	wantErr(t, err, roster.ErrForbidden, "a scoped token rotating an unscoped one")
	rotated := must(s.RotateToken(ctx, roster.RotateToken{ID: tok.ID}))(t)
	if !slices.Equal(rotated.Scope, scope) {
		t.Fatalf("a rotated token's scope = %q, want %q", rotated.Scope, scope)
	}
	s = must(e.WithToken(rotated.Token))(t)

	// A role lost later narrows the token at once: the scope is never
	// more than the user's current rights.
	must(a.SetRoles(ctx, "ann@example.com", []string{roster.RoleMember}))(t)
	_, err = s.CreateUser(ctx, roster.CreateUser{Email: "later@example.com"})
	wantErr(t, err, roster.ErrForbidden, "a scoped token after its user lost users.create")
	// (A Service of a token is one request's: whoami is asked anew.)
	if p := must(must(e.WithToken(rotated.Token))(t).Whoami(ctx))(t); !slices.Equal(p.Permissions, []string{roster.PermUsersView}) {
		t.Fatalf("whoami after the role was lost: %q", p.Permissions)
	}
	listed := must(a.ListTokens(ctx, roster.TokenFilter{User: "ann@example.com"}))(t)
	for _, l := range listed {
		if l.ID == tok.ID && !slices.Equal(l.Scope, scope) {
			t.Fatalf("the listed scope = %q, want %q", l.Scope, scope)
		}
	}
}

func testTokenScopeGrant(t *testing.T, e Env) {
	a := e.Admin()
	must(a.CreatePermission(ctx, roster.CreatePermission{Name: "clients.view"}))(t)
	must(a.CreatePermission(ctx, roster.CreatePermission{Name: "clients.create", Implies: []string{"clients.view"}}))(t)
	must(a.CreateRole(ctx, roster.CreateRole{Name: "clients", Permissions: []string{"clients.create", roster.PermUsersView}}))(t)
	must(a.CreateRole(ctx, roster.CreateRole{Name: "tokens", Permissions: []string{roster.PermTokensManage, "clients.create", roster.PermUsersView}}))(t)
	create(t, a, "ann@example.com", "clients")
	create(t, a, "tm@example.com", "tokens")
	ann, tm := e.As("ann@example.com"), e.As("tm@example.com")

	before := auditCount(t, e)
	_, err := ann.CreateToken(ctx, roster.CreateToken{Name: "x", Scope: []string{roster.PermUsersManage}})
	wantErr(t, err, roster.ErrForbidden, "a scope with a permission the minter lacks (R4)")
	wantMessage(t, err, "R4", "a scope with a permission the minter lacks")
	_, err = ann.CreateToken(ctx, roster.CreateToken{Name: "x", Scope: []string{"no.such"}})
	wantErr(t, err, roster.ErrInvalid, "a scope with an unknown permission")
	wantMessage(t, err, "no.such", "a scope with an unknown permission")
	_, err = ann.CreateToken(ctx, roster.CreateToken{Name: "x", Scope: []string{}})
	wantErr(t, err, roster.ErrInvalid, "an empty scope")
	// Minting for someone else, the minter's rights bound the scope.
	_, err = tm.CreateToken(ctx, roster.CreateToken{User: "ann@example.com", Name: "x", Scope: []string{roster.PermUsersManage}})
	wantErr(t, err, roster.ErrForbidden, "tokens.manage scoping another's token beyond itself (R4)")
	if got := auditCount(t, e); got != before {
		t.Fatalf("refused scopes wrote %d audit events", got-before)
	}
	must(tm.CreateToken(ctx, roster.CreateToken{User: "ann@example.com", Name: "by tm", Scope: []string{"clients.view"}}))(t)

	// A scope's implications apply, as a role's do.
	tok := must(ann.CreateToken(ctx, roster.CreateToken{Name: "clients", Scope: []string{"clients.create"}}))(t)
	p := must(must(e.WithToken(tok.Token))(t).Whoami(ctx))(t)
	if !slices.Equal(p.Permissions, []string{"clients.create", "clients.view"}) || !slices.Equal(p.ScopeRemoved, []string{roster.PermUsersView}) {
		t.Fatalf("whoami of a token scoped to clients.create: %q, removed %q", p.Permissions, p.ScopeRemoved)
	}
}

func testTokenExpiring(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "ann@example.com", roster.RoleViewer)
	ann := e.As("ann@example.com")
	soon := must(ann.CreateToken(ctx, roster.CreateToken{Name: "soon", TTL: time.Hour}))(t)
	must(ann.CreateToken(ctx, roster.CreateToken{Name: "later", TTL: 30 * 24 * time.Hour}))(t)
	gone := must(ann.CreateToken(ctx, roster.CreateToken{Name: "gone", TTL: time.Hour}))(t)
	must(ann.RevokeToken(ctx, gone.ID))(t)

	names := func(f roster.TokenFilter) []string {
		var out []string
		for _, l := range must(ann.ListTokens(ctx, f))(t) {
			out = append(out, l.Name)
		}
		return out
	}
	if got := names(roster.TokenFilter{Expiring: 7 * 24 * time.Hour}); !slices.Equal(got, []string{"soon"}) {
		t.Fatalf("tokens expiring within 7d: %q", got)
	}
	_, err := ann.ListTokens(ctx, roster.TokenFilter{Expiring: -time.Hour})
	wantErr(t, err, roster.ErrInvalid, "a negative window")

	// A use records when and, through the server, from where.
	must(must(e.WithToken(soon.Token))(t).Whoami(ctx))(t)
	var used roster.APIToken
	for _, l := range must(ann.ListTokens(ctx, roster.TokenFilter{}))(t) {
		if l.ID == soon.ID {
			used = l
		}
	}
	want := ""
	if e.Server() {
		want = "127.0.0.1"
	}
	if used.LastUsedAt == nil || used.LastUsedFrom != want {
		t.Fatalf("a used token: last_used_at %v, last_used_from %q, want %q", used.LastUsedAt, used.LastUsedFrom, want)
	}

	// Once expired, it is no longer about to expire.
	e.Advance(2 * time.Hour)
	if got := names(roster.TokenFilter{Expiring: 7 * 24 * time.Hour}); len(got) != 0 {
		t.Fatalf("tokens expiring within 7d after the hour: %q", got)
	}
	if got := names(roster.TokenFilter{Expiring: 30 * 24 * time.Hour}); !slices.Equal(got, []string{"later"}) {
		t.Fatalf("tokens expiring within 30d: %q", got)
	}
}
