package contract

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

var tokenCases = []struct {
	name string
	fn   func(*testing.T, Env)
}{
	{"tokens act as their user, until revoked, expired or deactivated", testTokenAuth},
	{"tokens of others need tokens.manage and all their user holds", testTokenRules},
}

func testTokenAuth(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "ann@example.com", roster.RoleViewer)
	tok := must(e.As("ann@example.com").CreateToken(ctx, roster.CreateToken{Name: "ci"}))(t)
	if tok.Token == "" || tok.User != "ann@example.com" || tok.ExpiresAt == nil || tok.ExpiresAt.Sub(tok.CreatedAt) != roster.DefaultTokenTTL {
		t.Fatalf("new token: %+v", tok)
	}
	s := must(e.WithToken(tok.Token))(t)
	if p := must(s.Whoami(ctx))(t); p.User == nil || p.User.Email != "ann@example.com" {
		t.Fatalf("token acts as %+v", p)
	}
	// It acts with the user's current permissions: none beyond them.
	_, err := s.DeactivateUser(ctx, e.Owner(), "")
	wantErr(t, err, roster.ErrForbidden, "a viewer's token deactivating")
	must(a.SetRoles(ctx, "ann@example.com", []string{roster.RoleAdmin}))(t)
	must(s.CreateUser(ctx, roster.CreateUser{Email: "new@example.com"}))(t)
	for _, l := range must(a.ListTokens(ctx, roster.TokenFilter{User: "ann@example.com"}))(t) {
		if l.Token != "" {
			t.Fatal("a listed token shows its secret")
		}
	}

	rotated := must(e.As("ann@example.com").RotateToken(ctx, roster.RotateToken{ID: tok.ID}))(t)
	if rotated.Token == tok.Token || rotated.ID != tok.ID {
		t.Fatalf("rotated: %+v", rotated)
	}
	_, err = e.WithToken(tok.Token)
	wantErr(t, err, roster.ErrUnauthenticated, "the secret before rotation")
	must(e.WithToken(rotated.Token))(t)

	r := must(a.RevokeToken(ctx, tok.ID))(t)
	if !r.Changed || !r.Token.Revoked {
		t.Fatalf("revoke: %+v", r)
	}
	if again := must(a.RevokeToken(ctx, tok.ID))(t); again.Changed {
		t.Fatal("revoking twice changed something")
	}
	_, err = e.WithToken(rotated.Token)
	wantErr(t, err, roster.ErrUnauthenticated, "a revoked token")

	short := must(e.As("ann@example.com").CreateToken(ctx, roster.CreateToken{Name: "short", TTL: time.Hour}))(t)
	must(e.WithToken(short.Token))(t)
	e.Advance(2 * time.Hour)
	_, err = e.WithToken(short.Token)
	wantErr(t, err, roster.ErrUnauthenticated, "an expired token")

	live := must(e.As("ann@example.com").CreateToken(ctx, roster.CreateToken{Name: "live"}))(t)
	must(a.DeactivateUser(ctx, "ann@example.com", ""))(t)
	_, err = e.WithToken(live.Token)
	wantErr(t, err, roster.ErrUnauthenticated, "a deactivated user's token")
	must(a.ReactivateUser(ctx, "ann@example.com"))(t)
	_, err = e.WithToken(live.Token)
	wantErr(t, err, roster.ErrUnauthenticated, "a token revoked by deactivation, after reactivation")

	_, err = e.WithToken("roster_pat_nonsense")
	wantErr(t, err, roster.ErrUnauthenticated, "a malformed token")
}

func testTokenRules(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "adm@example.com", roster.RoleAdmin)
	create(t, a, "mem@example.com", roster.RoleMember)
	must(a.CreateRole(ctx, roster.CreateRole{Name: "tokens", Permissions: []string{roster.PermTokensManage}}))(t)
	create(t, a, "tm@example.com", "tokens")
	tm, mem := e.As("tm@example.com"), e.As("mem@example.com")

	_, err := mem.CreateToken(ctx, roster.CreateToken{User: "adm@example.com", Name: "x"})
	wantErr(t, err, roster.ErrForbidden, "a member minting an admin's token")
	_, err = tm.CreateToken(ctx, roster.CreateToken{User: "adm@example.com", Name: "x"})
	wantErr(t, err, roster.ErrForbidden, "tokens.manage minting a token of someone holding more (R4)")
	_, err = e.As("adm@example.com").CreateToken(ctx, roster.CreateToken{User: e.Owner(), Name: "x"})
	wantErr(t, err, roster.ErrForbidden, "an admin minting an owner's token (R5)")
	other := must(e.As("adm@example.com").CreateToken(ctx, roster.CreateToken{User: "mem@example.com", Name: "for mem"}))(t)
	_, err = e.As("tm@example.com").RevokeToken(ctx, 999)
	wantErr(t, err, roster.ErrNotFound, "an unknown token")
	_, err = e.As("adm@example.com").RevokeToken(ctx, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	mine := must(mem.CreateToken(ctx, roster.CreateToken{Name: "mine"}))(t)
	_, err = e.As("adm@example.com").RotateToken(ctx, roster.RotateToken{ID: mine.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.As("nobody-perms@example.com").ListTokens(ctx, roster.TokenFilter{})
	wantErr(t, err, roster.ErrUnauthenticated, "an unknown actor")
	create(t, a, "x@example.com")
	mineX := must(e.As("x@example.com").CreateToken(ctx, roster.CreateToken{Name: "x"}))(t)
	_, err = mem.RevokeToken(ctx, mineX.ID)
	wantErr(t, err, roster.ErrNotFound, "someone else's token, without tokens.manage")
	if l := must(mem.ListTokens(ctx, roster.TokenFilter{}))(t); len(l) != 2 {
		t.Fatalf("a member lists %d own tokens; want 2", len(l))
	}
	_, err = mem.ListTokens(ctx, roster.TokenFilter{User: "x@example.com"})
	wantErr(t, err, roster.ErrForbidden, "listing someone else's tokens")
	if l := must(a.ListTokens(ctx, roster.TokenFilter{}))(t); len(l) != 3 {
		t.Fatalf("the local administrator lists %d tokens; want 3", len(l))
	}
	_, err = a.CreateToken(ctx, roster.CreateToken{Name: "x", TTL: 5000 * 24 * time.Hour})
	wantErr(t, err, roster.ErrInvalid, "a token for the local administrator, or too long")
}
