package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// TestPasswordChangeEndsOtherSessions is R18 on the pages: changing one's
// own password ends one's other browser sessions and pending sign-in and
// reset links, keeps the session that made the change, and leaves API
// tokens alone unless asked to revoke them too.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	smtp := e.startMail()
	e.addUser("ann@example.com", userPassword)
	b1, b2 := e.browser(), e.browser()
	s1, s2 := b1.signIn("ann@example.com", userPassword), b2.signIn("ann@example.com", userPassword)
	reset := e.resetLink("ann@example.com")
	expect(t, "ask for a sign-in link", e.browser().post("/signin/email", url.Values{"link-email": {"ann@example.com"}}), 200)
	signin := mailedSignInToken(t, e.sent(smtp), "ann@example.com")
	tok, err := e.admin().CreateToken(ctx, roster.CreateToken{User: "ann@example.com", Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}

	r := b1.post("/account/password", url.Values{"current": {userPassword}, "password": {newPassword}})
	expect(t, "change the password", r, 303, "/account?m=password")
	if !e.signedIn(s1) {
		t.Error("the session that changed the password was ended")
	}
	if e.signedIn(s2) {
		t.Error("another session survived the password change (R18)")
	}
	if _, err := e.core.CheckLink(ctx, store.LinkReset, reset); err == nil {
		t.Error("a pending reset link survived the password change (R18)")
	}
	if _, err := e.core.CheckLink(ctx, store.LinkSignIn, signin); err == nil {
		t.Error("a pending sign-in link survived the password change (R18)")
	}
	if _, err := e.core.Authenticate(ctx, tok.Token); err != nil {
		t.Errorf("an API token died with the password change, unasked: %v", err)
	}
	ev := e.events("account.password")
	if len(ev) != 1 || ev[0].Details["sessions_ended"] != float64(1) || ev[0].Details["links_revoked"] != float64(2) {
		t.Errorf("account.password events: %+v; want one, with 1 session ended and 2 links revoked", ev)
	}

	// Asked to, it revokes the tokens as well.
	r = b1.post("/account/password", url.Values{"current": {newPassword}, "password": {userPassword}, "revoke-tokens": {"1"}})
	expect(t, "change the password, revoking tokens", r, 303, "/account?m=password")
	if _, err := e.core.Authenticate(ctx, tok.Token); err == nil {
		t.Error("an API token survived a password change with revoke-tokens")
	}
	if !e.signedIn(s1) {
		t.Error("the session that changed the password was ended")
	}
}

// TestResetEndsSessions is R18 for a reset link: redeeming it ends every
// session of the account and its other pending links; the reset signs in
// anew.
func TestResetEndsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	smtp := e.startMail()
	e.addUser("ann@example.com", userPassword)
	old := e.browser().signIn("ann@example.com", userPassword)
	expect(t, "ask for a sign-in link", e.browser().post("/signin/email", url.Values{"link-email": {"ann@example.com"}}), 200)
	signin := mailedSignInToken(t, e.sent(smtp), "ann@example.com")
	rst := e.resetLink("ann@example.com")
	b := e.browser()
	expect(t, "GET /reset/<token>", b.get("/reset/"+rst), 303, "/reset")
	expect(t, "POST /reset", b.post("/reset", url.Values{"password": {newPassword}}), 303, "/account?m=reset")
	if e.signedIn(old) {
		t.Error("a session from before the reset survived it (R18)")
	}
	if _, err := e.core.CheckLink(ctx, store.LinkSignIn, signin); err == nil {
		t.Error("a pending sign-in link survived the reset (R18)")
	}
	expect(t, "GET /account after the reset", b.get("/account"), 200)
}

// TestSignInLinkLimit is R20: however many addresses ask, one account is
// mailed at most 3 sign-in links in 15 minutes, only the newest lives,
// every answer is the same, and each mail sent is recorded.
func TestSignInLinkLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{proxy: true})
	smtp := e.startMail()
	e.addUser("ann@example.com", userPassword)
	var first string
	for i := range 6 {
		r := e.browser().from("192.0.2."+string(rune('1'+i))).post("/signin/email", url.Values{"link-email": {"ann@example.com"}})
		expect(t, "ask for a sign-in link", r, 200)
		if first == "" {
			first = r.body
		} else if r.body != first {
			t.Errorf("answer %d differs from the first:\n%s\n---\n%s", i+1, r.body, first)
		}
		e.pages.Wait() // one at a time, so that which link is newest is known
	}
	msgs := e.sent(smtp)
	if len(msgs) != core.SignInLinksPerWindow {
		t.Fatalf("%d mails to one account; want %d (R20)", len(msgs), core.SignInLinksPerWindow)
	}
	var live []string
	for _, m := range msgs {
		tok := signInTokenRE.FindString(m.Body)
		if _, err := e.core.CheckLink(ctx, store.LinkSignIn, tok); err == nil {
			live = append(live, tok)
		}
	}
	if len(live) != 1 || !strings.Contains(msgs[len(msgs)-1].Body, live[0]) {
		t.Errorf("live sign-in links: %d; want only the newest (R20)", len(live))
	}
	// Each mail sent is recorded, as the account's own doing.
	sends := e.events("account.signin_link.send")
	if len(sends) != core.SignInLinksPerWindow {
		t.Errorf("%d account.signin_link.send events; want %d", len(sends), core.SignInLinksPerWindow)
	}
	for _, ev := range sends {
		if ev.Actor != "ann@example.com" {
			t.Errorf("a mailed sign-in link recorded as done by %q", ev.Actor)
		}
	}
	// The window passes: a link may be mailed again.
	e.clock.Advance(core.SignInLinkWindow + time.Second)
	expect(t, "ask after the window", e.browser().post("/signin/email", url.Values{"link-email": {"ann@example.com"}}), 200)
	if n := len(e.sent(smtp)); n != core.SignInLinksPerWindow+1 {
		t.Errorf("%d mails after the window passed; want %d", n, core.SignInLinksPerWindow+1)
	}
}

// TestNoticesSeenByPost is R20's last sentence: looking at the account
// page, even by a cross-site navigation, marks nothing seen; the button's
// POST does.
func TestNoticesSeenByPost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	e.addUser("ann@example.com", userPassword, roster.RoleMember)
	b := e.browser()
	b.signIn("ann@example.com", userPassword)
	if _, err := e.admin().AssignRole(ctx, roster.RoleViewer, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Sec-Fetch-Mode": {"navigate"}}
	for range 2 {
		r := b.do(http.MethodGet, "/account", nil, cross)
		expect(t, "GET /account", r, 200)
		if !strings.Contains(r.body, "viewer") || !strings.Contains(r.body, `action="/account/notices/seen"`) {
			t.Fatalf("the account page shows no notice of the new role, or no button:\n%s", r.body)
		}
	}
	r := b.do(http.MethodPost, "/account/notices/seen", url.Values{}, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if r.status != http.StatusForbidden {
		t.Errorf("a cross-site POST marking notices seen: %d, want 403", r.status)
	}
	expect(t, "mark seen", b.post("/account/notices/seen", nil), 303, "/account?m=seen")
	if r := b.get("/account"); strings.Contains(r.body, `action="/account/notices/seen"`) {
		t.Errorf("notices still shown after they were marked seen:\n%s", r.body)
	}
}

// TestShortIdleSession: a session in use outlives its idle lifetime, even
// a short one, because its activity is written often enough.
func TestShortIdleSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	e.set("session.idle", "1m")
	e.addUser("ann@example.com", userPassword)
	s := e.browser().signIn("ann@example.com", userPassword)
	for range 10 {
		e.clock.Advance(20 * time.Second)
		if !e.signedIn(s) {
			t.Fatalf("a session in use every 20s ended at %s with session.idle 1m", e.clock.Now())
		}
	}
	e.clock.Advance(time.Minute)
	if e.signedIn(s) {
		t.Error("a session unused for session.idle lived on")
	}
}
