package contract

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

// linkCases are the rules of invitations and reset links (R8, R9, R11).
var linkCases = []struct {
	name string
	fn   func(*testing.T, Env)
}{
	{"R11 invitation accepted once", testInviteAccept},
	{"R11 resend kills the old link", testInviteResend},
	{"R11 revoked, expired and unknown links", testDeadLinks},
	{"R11 16 concurrent accepts, one wins", testAcceptRace},
	{"R11 accept re-checks the inviter", testInviterRecheck},
	{"R8 deactivation kills links", testDeactivateKillsLinks},
	{"R9 seat limit at accept", testSeatAtAccept},
	{"reset link sets a password once", testResetLink},
	{"R10 changing one's own password needs the current one", testChangePassword},
	{"R5 R11 links are no way around owner protection", testOwnerLinks},
}

const goodPassword = "Plenty-Long-Passphrase"

func invite(t *testing.T, s roster.Service, email string, roles ...string) roster.Invitation {
	t.Helper()
	return must(s.CreateInvitation(ctx, roster.CreateInvitation{Email: email, Roles: roles}))(t)
}

func accept(s roster.Service, tok string) error {
	_, err := s.AcceptInvitation(ctx, roster.AcceptInvitation{Token: tok, Password: goodPassword})
	return err
}

func testInviteAccept(t *testing.T, e Env) {
	a := e.Admin()
	inv := invite(t, a, "ann@example.com", roster.RoleManager)
	if inv.Status != roster.InvitePending || !strings.HasPrefix(inv.Token, "roster_inv_") {
		t.Fatalf("new invitation: %+v", inv)
	}
	if u := must(a.GetUser(ctx, "ann@example.com"))(t); u.Status != roster.StatusInvited || u.HasPassword {
		t.Fatalf("invited user: %+v", u)
	}
	_, err := a.CreateInvitation(ctx, roster.CreateInvitation{Email: "ANN@example.com"})
	wantErr(t, err, roster.ErrConflict, "inviting an invited email")
	u := must(a.AcceptInvitation(ctx, roster.AcceptInvitation{Token: inv.Token, Name: "Ann", Username: "ann", Password: goodPassword}))(t)
	if u.Status != roster.StatusActive || !u.HasPassword || u.Name != "Ann" || u.Username != "ann" {
		t.Fatalf("accepted user: %+v", u)
	}
	wantErr(t, accept(a, inv.Token), roster.ErrConflict, "second accept")
	list := must(a.ListInvitations(ctx, roster.InviteAccepted))(t)
	if len(list) != 1 || list[0].Token != "" || list[0].URL != "" {
		t.Fatalf("accepted invitations: %+v", list)
	}
	_, err = a.AcceptInvitation(ctx, roster.AcceptInvitation{Token: invite(t, a, "bo@example.com").Token, Password: "password1"})
	wantErr(t, err, roster.ErrInvalid, "a common password at accept")
}

func testInviteResend(t *testing.T, e Env) {
	a := e.Admin()
	old := invite(t, a, "ann@example.com")
	fresh := must(a.ResendInvitation(ctx, "ann@example.com", 0, false))(t)
	if fresh.Token == old.Token || fresh.ExpiresAt.Sub(fresh.CreatedAt) != 24*time.Hour {
		t.Fatalf("resent invitation: %+v", fresh)
	}
	wantErr(t, accept(a, old.Token), roster.ErrConflict, "accepting the replaced link")
	if err := accept(a, fresh.Token); err != nil {
		t.Fatal(err)
	}
	_, err := a.ResendInvitation(ctx, "ann@example.com", 0, false)
	wantErr(t, err, roster.ErrConflict, "resend to an active user")
}

func testDeadLinks(t *testing.T, e Env) {
	a := e.Admin()
	inv := invite(t, a, "ann@example.com")
	r := must(a.RevokeInvitation(ctx, "ann@example.com"))(t)
	if !r.Changed || r.Invitation.Status != roster.InviteRevoked {
		t.Fatalf("revoke: %+v", r)
	}
	if again := must(a.RevokeInvitation(ctx, "ann@example.com"))(t); again.Changed {
		t.Fatal("revoking twice changed something")
	}
	wantErr(t, accept(a, inv.Token), roster.ErrConflict, "a revoked link")
	bo := invite(t, a, "bo@example.com")
	e.Advance(7*24*time.Hour + time.Minute)
	wantErr(t, accept(a, bo.Token), roster.ErrConflict, "an expired link")
	if l := must(a.ListInvitations(ctx, roster.InviteExpired))(t); len(l) != 1 || l[0].Email != "bo@example.com" {
		t.Fatalf("expired invitations: %+v", l)
	}
	wantErr(t, accept(a, "roster_inv_"+strings.Repeat("a", 59)), roster.ErrNotFound, "a malformed link")
	other := invite(t, a, "cy@example.com").Token
	must(a.DeleteUser(ctx, "cy@example.com"))(t)
	wantErr(t, accept(a, other), roster.ErrNotFound, "the link of a deleted user")
}

func testAcceptRace(t *testing.T, e Env) {
	a := e.Admin()
	inv := invite(t, a, "ann@example.com")
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = accept(a, inv.Token)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, roster.ErrConflict):
			t.Errorf("a losing accept failed with %v, want a conflict", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent accepts won; want exactly 1", won, n)
	}
	events := must(a.ListAudit(ctx, roster.AuditFilter{Action: "invite.accept", Limit: 100}))(t)
	if len(events) != 1 {
		t.Fatalf("%d invite.accept events; want 1", len(events))
	}
}

func testInviterRecheck(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "adm@example.com", roster.RoleAdmin)
	inv := invite(t, e.As("adm@example.com"), "ann@example.com", roster.RoleAdmin)
	// The inviter is demoted before the invitation is accepted.
	must(a.SetRoles(ctx, "adm@example.com", []string{roster.RoleMember}))(t)
	wantErr(t, accept(a, inv.Token), roster.ErrForbidden, "accept after the inviter lost the right to grant")
	if u := must(a.GetUser(ctx, "ann@example.com"))(t); u.Status != roster.StatusInvited {
		t.Fatalf("a refused accept changed the user: %+v", u)
	}
	// The refused accept did not use up the link.
	must(a.SetRoles(ctx, "adm@example.com", []string{roster.RoleAdmin}))(t)
	if err := accept(a, inv.Token); err != nil {
		t.Fatal(err)
	}
	_, err := e.As("adm@example.com").CreateInvitation(ctx, roster.CreateInvitation{Email: "x@example.com", Roles: []string{roster.RoleOwner}})
	wantErr(t, err, roster.ErrForbidden, "an admin inviting an owner")
}

func testDeactivateKillsLinks(t *testing.T, e Env) {
	a := e.Admin()
	inv := invite(t, a, "ann@example.com")
	create(t, a, "bo@example.com")
	rl := must(a.CreateResetLink(ctx, "bo@example.com", 0, false))(t)
	must(a.DeactivateUser(ctx, "ann@example.com", ""))(t)
	must(a.DeactivateUser(ctx, "bo@example.com", ""))(t)
	wantErr(t, accept(a, inv.Token), roster.ErrConflict, "a deactivated user's invitation")
	_, err := a.RedeemResetLink(ctx, rl.Token, goodPassword)
	wantErr(t, err, roster.ErrConflict, "a deactivated user's reset link")
	// Reactivation does not bring dead links back.
	must(a.ReactivateUser(ctx, "bo@example.com"))(t)
	_, err = a.RedeemResetLink(ctx, rl.Token, goodPassword)
	wantErr(t, err, roster.ErrConflict, "a reset link revoked by deactivation")
	_, err = a.CreateResetLink(ctx, "ann@example.com", 0, false)
	wantErr(t, err, roster.ErrConflict, "a reset link for a deactivated user")
	// An invited user comes back invited, not active, and needs a new link.
	if u := must(a.ReactivateUser(ctx, "ann@example.com"))(t); u.User.Status != roster.StatusInvited {
		t.Fatalf("a reactivated invited user is %s", u.User.Status)
	}
	wantErr(t, accept(a, inv.Token), roster.ErrConflict, "the old link after reactivation")
	if err := accept(a, must(a.ResendInvitation(ctx, "ann@example.com", 0, false))(t).Token); err != nil {
		t.Fatal(err)
	}
}

func testSeatAtAccept(t *testing.T, e Env) {
	a := e.Admin()
	inv := invite(t, a, "ann@example.com") // invited users take no seat
	must(a.SetSetting(ctx, "seats", "1"))(t)
	wantErr(t, accept(a, inv.Token), roster.ErrConflict, "accept beyond the seat limit")
	must(a.SetSetting(ctx, "seats", "2"))(t)
	if err := accept(a, inv.Token); err != nil {
		t.Fatal(err)
	}
}

func testResetLink(t *testing.T, e Env) {
	a := e.Admin()
	u := must(a.CreateUser(ctx, roster.CreateUser{Email: "bo@example.com"}))(t).User
	if u.HasPassword {
		t.Fatal("created without a password but has one")
	}
	old := must(a.CreateResetLink(ctx, "bo@example.com", 0, false))(t)
	rl := must(a.CreateResetLink(ctx, "bo@example.com", time.Hour, false))(t)
	if !strings.HasPrefix(rl.Token, "roster_rst_") || rl.ExpiresAt.Sub(old.ExpiresAt) > 0 {
		t.Fatalf("reset link: %+v", rl)
	}
	_, err := a.RedeemResetLink(ctx, old.Token, goodPassword)
	wantErr(t, err, roster.ErrConflict, "a replaced reset link")
	_, err = a.RedeemResetLink(ctx, rl.Token, "short")
	wantErr(t, err, roster.ErrInvalid, "a weak password")
	got := must(a.RedeemResetLink(ctx, rl.Token, goodPassword))(t)
	if !got.HasPassword {
		t.Fatal("no password after reset")
	}
	_, err = a.RedeemResetLink(ctx, rl.Token, goodPassword)
	wantErr(t, err, roster.ErrConflict, "a used reset link")
	_, err = a.RedeemResetLink(ctx, "roster_inv_nope", goodPassword)
	wantErr(t, err, roster.ErrNotFound, "a token of the wrong kind")
	// Setting a password leaves reset links alone, unless asked (R10).
	keep := must(a.CreateResetLink(ctx, "bo@example.com", 0, false))(t)
	must(a.SetPassword(ctx, "bo@example.com", roster.SetPassword{Password: goodPassword}))(t)
	must(a.SetPassword(ctx, "bo@example.com", roster.SetPassword{Password: goodPassword, RevokeSessions: true}))(t)
	_, err = a.RedeemResetLink(ctx, keep.Token, goodPassword)
	wantErr(t, err, roster.ErrConflict, "a reset link after set-password --revoke-sessions")
	live := must(a.CreateResetLink(ctx, "bo@example.com", 0, false))(t)
	must(a.SetPassword(ctx, "bo@example.com", roster.SetPassword{Password: goodPassword}))(t)
	must(a.RedeemResetLink(ctx, live.Token, goodPassword))(t)
	invite(t, a, "cy@example.com")
	_, err = a.CreateResetLink(ctx, "cy@example.com", 0, false)
	wantErr(t, err, roster.ErrConflict, "a reset link for an invited user")
	create(t, a, "adm@example.com", roster.RoleAdmin)
	_, err = e.As("adm@example.com").CreateResetLink(ctx, e.Owner(), 0, false)
	wantErr(t, err, roster.ErrForbidden, "an admin issuing an owner's reset link")
}

func testChangePassword(t *testing.T, e Env) {
	a := e.Admin()
	must(a.CreateUser(ctx, roster.CreateUser{Email: "bo@example.com", Password: goodPassword}))(t)
	me := e.As("bo@example.com")
	_, err := me.ChangePassword(ctx, roster.ChangePassword{Current: "Not-The-Password", New: "Another-Long-Pass"})
	wantErr(t, err, roster.ErrUnauthenticated, "a wrong current password")
	_, err = me.ChangePassword(ctx, roster.ChangePassword{Current: goodPassword, New: "password123"})
	wantErr(t, err, roster.ErrInvalid, "a common new password")
	must(me.ChangePassword(ctx, roster.ChangePassword{Current: goodPassword, New: "Another-Long-Pass"}))(t)
	_, err = me.ChangePassword(ctx, roster.ChangePassword{Current: goodPassword, New: "Yet-Another-Pass"})
	wantErr(t, err, roster.ErrUnauthenticated, "the old password after a change")
	_, err = a.ChangePassword(ctx, roster.ChangePassword{Current: "x", New: "Yet-Another-Pass"})
	wantErr(t, err, roster.ErrInvalid, "the local administrator has no password")
	p := must(me.Whoami(ctx))(t)
	if p.User == nil || p.User.Email != "bo@example.com" {
		t.Fatalf("whoami: %+v", p)
	}

	// R18: the change ends pending reset links; API tokens survive it
	// unless RevokeTokens asks otherwise.
	rl := must(a.CreateResetLink(ctx, "bo@example.com", 0, false))(t)
	tok := must(a.CreateToken(ctx, roster.CreateToken{User: "bo@example.com", Name: "ci"}))(t)
	must(me.ChangePassword(ctx, roster.ChangePassword{Current: "Another-Long-Pass", New: "Yet-Another-Pass"}))(t)
	_, err = a.RedeemResetLink(ctx, rl.Token, "Fourth-Long-Passphrase")
	if err == nil {
		t.Fatal("a reset link issued before a password change still works (R18)")
	}
	ci, err := e.WithToken(tok.Token)
	if err == nil {
		_, err = ci.Whoami(ctx)
	}
	if err != nil {
		t.Fatalf("an API token after its user's password change: %v; want it alive (R18)", err)
	}
	must(me.ChangePassword(ctx, roster.ChangePassword{Current: "Yet-Another-Pass", New: "Fourth-Long-Passphrase", RevokeTokens: true}))(t)
	ci, err = e.WithToken(tok.Token)
	if err == nil {
		_, err = ci.Whoami(ctx)
	}
	wantErr(t, err, roster.ErrUnauthenticated, "an API token after a password change with RevokeTokens")
}

// testOwnerLinks: links cannot be a way around R5. A link made by an admin
// stops working when its user becomes an owner, and an admin cannot make
// or kill an owner's links.
func testOwnerLinks(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "adm@example.com", roster.RoleAdmin)
	adm := e.As("adm@example.com")

	invite(t, a, "erin@example.com")
	must(a.SetRoles(ctx, "erin@example.com", []string{roster.RoleOwner}))(t)
	_, err := adm.ResendInvitation(ctx, "erin@example.com", 0, false)
	wantErr(t, err, roster.ErrForbidden, "an admin resending an owner's invitation")
	_, err = adm.RevokeInvitation(ctx, "erin@example.com")
	wantErr(t, err, roster.ErrForbidden, "an admin revoking an owner's invitation")

	carol := invite(t, adm, "carol@example.com", roster.RoleMember)
	must(a.SetRoles(ctx, "carol@example.com", []string{roster.RoleOwner}))(t)
	wantErr(t, accept(a, carol.Token), roster.ErrForbidden, "an admin's invitation of a user made owner since")

	create(t, a, "bob@example.com")
	rl := must(adm.CreateResetLink(ctx, "bob@example.com", 0, false))(t)
	must(a.SetRoles(ctx, "bob@example.com", []string{roster.RoleOwner}))(t)
	_, err = a.RedeemResetLink(ctx, rl.Token, goodPassword)
	wantErr(t, err, roster.ErrForbidden, "an admin's reset link of a user made owner since")
	// The refused use left the link alive; back to member, it works.
	must(a.SetRoles(ctx, "bob@example.com", []string{roster.RoleMember}))(t)
	must(a.RedeemResetLink(ctx, rl.Token, goodPassword))(t)

	// A demoted admin's reset link dies with the right to set passwords.
	create(t, a, "dan@example.com")
	rl = must(adm.CreateResetLink(ctx, "dan@example.com", 0, false))(t)
	must(a.SetRoles(ctx, "adm@example.com", []string{roster.RoleMember}))(t)
	_, err = a.RedeemResetLink(ctx, rl.Token, goodPassword)
	wantErr(t, err, roster.ErrForbidden, "a reset link from someone who lost users.manage")
}
