package web_test

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/roster-dev/roster/internal/idp"
	"github.com/roster-dev/roster/internal/roster"
)

// oidcEnv is an env offering sign-in with a real OpenID provider
// running on loopback, named mock.
func oidcEnv(t *testing.T) (*env, *mockoidc.MockOIDC) {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	cfg := m.Config()
	e := newEnv(t, config{proxy: true, oidc: []idp.Config{{Name: "mock", Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret}}})
	return e, m
}

// at sends a GET to an absolute address.
func (b *browser) at(addr string) result {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, addr, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", addr, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return result{status: resp.StatusCode, header: resp.Header, body: sb.String(), cookies: resp.Cookies()}
}

// providerSignIn goes through a provider's sign-in as a browser does,
// starting at base's start page, with the provider signing in as u. It
// returns the callback's address and the callback's answer.
func (b *browser) providerSignIn(m *mockoidc.MockOIDC, base string, u *mockoidc.MockUser) (string, result) {
	b.t.Helper()
	callback := b.providerCallback(m, base, u)
	return callback, b.at(callback)
}

// providerCallback goes through a provider's sign-in as providerSignIn
// does, up to the provider sending the browser back, and returns the
// callback's address, not yet visited.
func (b *browser) providerCallback(m *mockoidc.MockOIDC, base string, u *mockoidc.MockUser) string {
	b.t.Helper()
	m.QueueUser(u)
	r := b.get(base + "/oidc/mock/start")
	expect(b.t, "start", r, http.StatusSeeOther)
	if !strings.HasPrefix(r.location(), m.Issuer()) {
		b.t.Fatalf("start sent the browser to %q, not to the provider", r.location())
	}
	auth, err := url.Parse(r.location())
	if err != nil {
		b.t.Fatal(err)
	}
	q := auth.Query()
	if q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
		b.t.Fatalf("authorization request without PKCE, nonce or state: %s", auth)
	}
	r = b.at(r.location())
	expect(b.t, "provider", r, http.StatusFound)
	callback := r.location()
	if !strings.HasPrefix(callback, b.e.url+"/oidc/mock/callback?") {
		b.t.Fatalf("provider sent the browser to %q", callback)
	}
	return callback
}

// lastEvent is the newest audit event of action.
func (e *env) lastEvent(action string) roster.AuditEvent {
	e.t.Helper()
	var last roster.AuditEvent
	for _, ev := range e.events(action) {
		if ev.ID > last.ID {
			last = ev
		}
	}
	if last.ID == 0 {
		e.t.Fatalf("no %s event", action)
	}
	return last
}

func TestProviderSignIn(t *testing.T) {
	e, m := oidcEnv(t)
	e.addUser("ann@example.com", userPassword)
	b := e.browser().from("203.0.113.7")

	r := b.get("/signin")
	if !strings.Contains(r.body, `href="/oidc/mock/start"`) || !strings.Contains(r.body, "Continue with mock") {
		t.Fatalf("the sign-in page offers no provider:\n%s", r.body)
	}
	_, r = b.providerSignIn(m, "", &mockoidc.MockUser{Subject: "s-ann", Email: "Ann@example.com", EmailVerified: true})
	expect(t, "callback", r, http.StatusSeeOther, "/account")
	c := r.cookie(sessionCookie)
	if c == nil || !e.signedIn(c.Value) {
		t.Fatalf("not signed in: %v", c)
	}
	u := e.user("ann@example.com")
	if u.Links["oidc:mock"] != "s-ann" || u.LastLoginMethod != "mock" || u.LastLoginAt == nil {
		t.Fatalf("after the first sign-in: links %v, last login %v by %q", u.Links, u.LastLoginAt, u.LastLoginMethod)
	}
	ev := e.lastEvent("account.signin")
	if ev.Details["method"] != "mock" || ev.Details["linked"] != "oidc:mock" || ev.Details["client"] != "203.0.113.7" || ev.Target != "ann@example.com" {
		t.Fatalf("sign-in event: %+v", ev)
	}
	// The binding is a link like any other: a USER reference finds it.
	if got := e.user("oidc:mock:s-ann"); got.Email != "ann@example.com" {
		t.Fatalf("oidc:mock:s-ann is %s", got.Email)
	}
	acct := b.get("/account")
	if !strings.Contains(acct.body, "with mock") {
		t.Fatalf("the account page does not say how ann signed in:\n%s", acct.body)
	}
}

// refused goes through a provider's sign-in that must fail, and returns
// the audit event that says why.
func refused(t *testing.T, e *env, m *mockoidc.MockOIDC, u *mockoidc.MockUser, status int, reason string) roster.AuditEvent {
	t.Helper()
	_, r := e.browser().from("198.51.100.9").providerSignIn(m, "", u)
	return refusedAs(t, e, r, u, status, reason)
}

// refusedAs checks a provider's callback answer r, for u, is a refusal
// with status that signs nobody in, and returns the audit event that
// says why, with the client's address.
func refusedAs(t *testing.T, e *env, r result, u *mockoidc.MockUser, status int, reason string) roster.AuditEvent {
	t.Helper()
	expect(t, "callback", r, status)
	if r.cookie(sessionCookie) != nil {
		t.Fatalf("a refused sign-in set a session cookie")
	}
	ev := e.lastEvent("account.signin_refused")
	if ev.Details["reason"] != reason || ev.Details["method"] != "mock" || ev.Details["client"] != "198.51.100.9" || ev.Details["subject"] != u.Subject {
		t.Fatalf("refusal event: %+v; want reason %q", ev, reason)
	}
	return ev
}

func TestProviderSignInRefused(t *testing.T) {
	e, m := oidcEnv(t)
	e.addUser("ann@example.com", userPassword)
	e.addUser("gone@example.com", userPassword)
	if _, err := e.admin().DeactivateUser(ctx, "gone@example.com", "left"); err != nil {
		t.Fatal(err)
	}
	t.Run("unknown person", func(t *testing.T) {
		refused(t, e, m, &mockoidc.MockUser{Subject: "s-x", Email: "nobody@example.com", EmailVerified: true}, http.StatusUnauthorized, "unknown identity")
	})
	t.Run("deactivated user", func(t *testing.T) {
		refused(t, e, m, &mockoidc.MockUser{Subject: "s-gone", Email: "gone@example.com", EmailVerified: true}, http.StatusUnauthorized, "account not active")
	})
	t.Run("unverified email", func(t *testing.T) {
		refused(t, e, m, &mockoidc.MockUser{Subject: "s-ann", Email: "ann@example.com", EmailVerified: false}, http.StatusUnauthorized, "email not verified")
		if l := e.user("ann@example.com").Links; len(l) != 0 {
			t.Fatalf("an unverified email bound ann: %v", l)
		}
	})
	t.Run("method turned off", func(t *testing.T) {
		e.set("signin.methods", "password,link")
		defer e.set("signin.methods", "*")
		b := e.browser()
		if r := b.get("/signin"); strings.Contains(r.body, "/oidc/mock/start") {
			t.Fatalf("the sign-in page offers a provider turned off:\n%s", r.body)
		}
		expect(t, "start", b.get("/oidc/mock/start"), http.StatusForbidden)
	})
	// A refused provider is audited (issue 19): a sign-in started while
	// the provider was on comes back after the organisation turned it
	// off. It is refused (403), signs nobody in, binds nothing, and is
	// recorded with its subject and the client's address.
	t.Run("turned off during the sign-in", func(t *testing.T) {
		u := &mockoidc.MockUser{Subject: "s-ann", Email: "ann@example.com", EmailVerified: true}
		b := e.browser().from("198.51.100.9")
		callback := b.providerCallback(m, "", u)
		e.set("signin.methods", "password,link")
		defer e.set("signin.methods", "*")
		refusedAs(t, e, b.at(callback), u, http.StatusForbidden, "method turned off")
		if got := e.user("ann@example.com"); len(got.Links) != 0 || got.LastLoginAt != nil {
			t.Fatalf("a refused provider bound or signed in ann: links %v, last login %v", got.Links, got.LastLoginAt)
		}
	})
}

// An account that can no longer sign in, deactivated or expired (its
// ExpiresAt come on the server's clock), is refused through a provider
// too, audited as account.signin_refused "account not active" on its
// user: whether the provider's subject finds it (bound beforehand) or the
// email the provider vouches for does. Nobody is signed in or bound.
func TestProviderSignInInactive(t *testing.T) {
	e, m := oidcEnv(t)
	cases := []struct {
		name, email, subject string
		bound, expire        bool // else deactivated
	}{
		{name: "deactivated, bound", email: "gone@example.com", subject: "s-gone", bound: true},
		{name: "expired, bound", email: "temp@example.com", subject: "s-temp", bound: true, expire: true},
		{name: "expired, found by email", email: "intern@example.com", subject: "s-intern", expire: true},
	}
	for _, tc := range cases {
		e.addUser(tc.email, userPassword)
		if tc.bound {
			if _, err := e.admin().UpdateUser(ctx, tc.email, roster.UpdateUser{Links: map[string]string{"oidc:mock": tc.subject}}); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		if tc.expire {
			_, err = e.admin().SetExpiry(ctx, tc.email, "1h")
		} else {
			_, err = e.admin().DeactivateUser(ctx, tc.email, "left")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Before its expiry the bound account signs in: what refuses it
	// below is the expiry alone.
	_, r := e.browser().providerSignIn(m, "", &mockoidc.MockUser{Subject: "s-temp", Email: "temp@example.com", EmailVerified: true})
	expect(t, "before the expiry", r, http.StatusSeeOther, "/account")
	e.clock.Advance(time.Hour) // the instant the accounts expire

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			signins, links := len(e.events("account.signin")), e.user(tc.email).Links
			ev := refused(t, e, m, &mockoidc.MockUser{Subject: tc.subject, Email: tc.email, EmailVerified: true}, http.StatusUnauthorized, "account not active")
			if ev.Target != tc.email || ev.Details["linked"] != nil {
				t.Fatalf("refusal event: %+v; want on %s, binding nothing", ev, tc.email)
			}
			if n, now := len(e.events("account.signin")), e.user(tc.email).Links; n != signins || !maps.Equal(now, links) {
				t.Fatalf("a refused sign-in signed in (%d sign-ins, were %d) or bound (links %v, were %v)", n, signins, now, links)
			}
		})
	}
}

// An email changed at the provider after the binding does not reach
// another user: the subject finds its user alone (the nOAuth attack).
func TestProviderEmailChangedAfterBinding(t *testing.T) {
	e, m := oidcEnv(t)
	e.addUser("ann@example.com", userPassword)
	e.addUser("bob@example.com", userPassword)
	b := e.browser()
	_, r := b.providerSignIn(m, "", &mockoidc.MockUser{Subject: "s-ann", Email: "ann@example.com", EmailVerified: true})
	expect(t, "first sign-in", r, http.StatusSeeOther, "/account")

	b = e.browser()
	_, r = b.providerSignIn(m, "", &mockoidc.MockUser{Subject: "s-ann", Email: "bob@example.com", EmailVerified: true})
	expect(t, "sign-in with bob's email", r, http.StatusSeeOther, "/account")
	if ev := e.lastEvent("account.signin"); ev.Target != "ann@example.com" {
		t.Fatalf("subject s-ann signed in as %s", ev.Target)
	}
	if bob := e.user("bob@example.com"); bob.LastLoginAt != nil || len(bob.Links) != 0 {
		t.Fatalf("bob was reached: %+v", bob)
	}
	// Another subject vouching for ann's email cannot take her account:
	// it is bound to s-ann.
	refused(t, e, m, &mockoidc.MockUser{Subject: "s-mallory", Email: "ann@example.com", EmailVerified: true}, http.StatusUnauthorized, "unknown identity")
}

// A subject an administrator linked beforehand signs in whatever the
// provider says of the email.
func TestProviderPrelinked(t *testing.T) {
	e, m := oidcEnv(t)
	e.addUser("carol@example.com", userPassword)
	if _, err := e.admin().UpdateUser(ctx, "carol@example.com", roster.UpdateUser{Links: map[string]string{"oidc:mock": "s-carol"}}); err != nil {
		t.Fatal(err)
	}
	_, r := e.browser().providerSignIn(m, "", &mockoidc.MockUser{Subject: "s-carol", Email: "c@elsewhere.example", EmailVerified: false})
	expect(t, "callback", r, http.StatusSeeOther, "/account")
	if ev := e.lastEvent("account.signin"); ev.Target != "carol@example.com" || ev.Details["linked"] != nil {
		t.Fatalf("sign-in event: %+v", ev)
	}
}

func TestProviderAcceptsInvitation(t *testing.T) {
	e, m := oidcEnv(t)
	tok := e.invite("dave@example.com", "member")
	b := e.browser()
	r := b.get("/invite/" + tok)
	expect(t, "invitation", r, http.StatusSeeOther, "/invite")
	if r = b.get("/invite"); !strings.Contains(r.body, `href="/oidc/mock/start"`) {
		t.Fatalf("the invitation page offers no provider:\n%s", r.body)
	}
	_, r = b.providerSignIn(m, "", &mockoidc.MockUser{Subject: "s-dave", Email: "dave@example.com", EmailVerified: true})
	expect(t, "callback", r, http.StatusSeeOther, "/account")
	u := e.user("dave@example.com")
	if u.Status != roster.StatusActive || u.Links["oidc:mock"] != "s-dave" || u.LastLoginMethod != "mock" {
		t.Fatalf("after accepting: %+v", u)
	}
	if ev := e.lastEvent("invite.accept"); ev.Details["method"] != "mock" {
		t.Fatalf("accept event: %+v", ev)
	}
	// The invitation is used up.
	expect(t, "invitation again", e.browser().get("/invite/"+tok), http.StatusGone)
}

// The flow is bound to the browser that started it and works once: a
// callback replayed, or brought to another browser, signs nobody in.
func TestProviderCallbackReplayed(t *testing.T) {
	e, m := oidcEnv(t)
	e.addUser("ann@example.com", userPassword)
	b := e.browser()
	callback, r := b.providerSignIn(m, "", &mockoidc.MockUser{Subject: "s-ann", Email: "ann@example.com", EmailVerified: true})
	expect(t, "callback", r, http.StatusSeeOther, "/account")
	expect(t, "replayed in the same browser", b.at(callback), http.StatusBadRequest)
	expect(t, "replayed in another browser", e.browser().at(callback), http.StatusBadRequest)
	if ev := e.lastEvent("account.signin_refused"); ev.Details["reason"] != "answer refused" || ev.Details["method"] != "mock" {
		t.Fatalf("a replayed callback is audited as %+v", ev)
	}

	// A state that is not the browser's: the flow's cookie does not match.
	b = e.browser()
	m.QueueUser(&mockoidc.MockUser{Subject: "s-ann", Email: "ann@example.com", EmailVerified: true})
	start := b.get("/oidc/mock/start")
	r = b.at(start.location())
	forged := strings.Replace(r.location(), "state=", "state=x", 1)
	expect(t, "another state", b.at(forged), http.StatusUnauthorized)
}

// An ID token that expired before it reached the server is refused.
func TestProviderExpiredIDToken(t *testing.T) {
	e, m := oidcEnv(t)
	e.addUser("ann@example.com", userPassword)
	m.FastForward(-2 * time.Hour) // the provider's clock: its tokens expired long ago
	_, r := e.browser().providerSignIn(m, "", &mockoidc.MockUser{Subject: "s-ann", Email: "ann@example.com", EmailVerified: true})
	expect(t, "callback", r, http.StatusUnauthorized)
	if l := e.user("ann@example.com").Links; len(l) != 0 {
		t.Fatalf("an expired token bound ann: %v", l)
	}
	if ev := e.lastEvent("account.signin_refused"); ev.Details["reason"] != "answer refused" || !strings.Contains(ev.Details["error"].(string), "expired") {
		t.Fatalf("an expired ID token is audited as %+v", ev)
	}
}

func TestPasswordTurnedOff(t *testing.T) {
	e, _ := oidcEnv(t)
	e.set("signin.methods", "mock")
	b := e.browser()
	r := b.get("/signin")
	if strings.Contains(r.body, `action="/signin"`) || strings.Contains(r.body, `action="/signin/email"`) || !strings.Contains(r.body, "/oidc/mock/start") {
		t.Fatalf("with only mock on, the sign-in page shows:\n%s", r.body)
	}
	r = b.post("/signin", url.Values{"email": {ownerEmail}, "password": {ownerPassword}})
	expect(t, "password sign-in", r, http.StatusForbidden)
}

// A provider's sign-in started on an organisation's pages signs in to
// that organisation, through the one callback address, and binds the
// subject there only (R21).
func TestProviderSignInOrg(t *testing.T) {
	e, m := oidcEnv(t)
	addOrgs(e)
	b := e.browser()
	if r := b.get("/o/acme/signin"); !strings.Contains(r.body, `href="/o/acme/oidc/mock/start"`) {
		t.Fatalf("acme's sign-in page offers no provider:\n%s", r.body)
	}
	_, r := b.providerSignIn(m, "/o/acme", &mockoidc.MockUser{Subject: "s-ann", Email: "ann@example.com", EmailVerified: true})
	expect(t, "callback", r, http.StatusSeeOther, "/o/acme/account")
	c := r.cookie(sessionCookie)
	if c == nil || c.Path != "/o/acme/" || !e.signedInAt("/o/acme", c.Value) || e.signedInAt("/o/globex", c.Value) {
		t.Fatalf("session cookie %+v: not acme's alone", c)
	}
	acme, err := e.adminIn("acme").GetUser(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	globex, err := e.adminIn("globex").GetUser(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if acme.Links["oidc:mock"] != "s-ann" || len(globex.Links) != 0 {
		t.Fatalf("links: acme %v, globex %v", acme.Links, globex.Links)
	}
	if len(e.eventsIn("acme", "account.signin")) != 1 || len(e.eventsIn("globex", "account.signin")) != 0 {
		t.Fatal("the sign-in is not audited in acme alone")
	}
	// Globex turns the provider off: its start page refuses, acme's not.
	if _, err := e.adminIn("globex").SetSetting(ctx, "signin.methods", "password"); err != nil {
		t.Fatal(err)
	}
	expect(t, "globex start", e.browser().get("/o/globex/oidc/mock/start"), http.StatusForbidden)
	expect(t, "acme start", e.browser().get("/o/acme/oidc/mock/start"), http.StatusSeeOther)
}
