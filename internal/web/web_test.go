package web_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// checkHeaders fails unless r carries every security header the pages
// promise, and, for an HTML page, unless its HTML holds nothing the CSP
// would block.
func checkHeaders(t *testing.T, what string, r result) {
	t.Helper()
	csp := r.header.Get("Content-Security-Policy")
	if csp == "" {
		t.Errorf("%s: no Content-Security-Policy", what)
	}
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: Content-Security-Policy %q allows unsafe sources", what, csp)
	}
	for h, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s: %s %q, want %q", what, h, got, want)
		}
	}
	if strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		lower := strings.ToLower(r.body)
		if strings.Contains(lower, "<script") {
			t.Errorf("%s: the page has a <script, which the CSP blocks:\n%s", what, r.body)
		}
		if strings.Contains(lower, "style=") || strings.Contains(lower, "<style") {
			t.Errorf("%s: the page has inline style, which the CSP blocks:\n%s", what, r.body)
		}
	}
}

// TestSecurityHeaders: every response of the pages, whatever its status,
// carries the CSP and the other security headers, and no page holds
// inline script or style.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	e.addUser("ann@example.com", userPassword)
	inv := e.invite("bob@example.com")
	rst := e.resetLink("ann@example.com")
	b := e.browser()
	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}}
	steps := []struct {
		name   string
		status int
		do     func() result
	}{
		{"GET /signin", 200, func() result { return b.get("/signin") }},
		{"GET /", 303, func() result { return b.get("/") }},
		{"GET /account signed out", 303, func() result { return b.get("/account") }},
		{"GET /invite/<unknown token>", 404, func() result { return b.get("/invite/roster_inv_nosuchtoken") }},
		{"GET /reset/<unknown token>", 404, func() result { return b.get("/reset/roster_rst_nosuchtoken") }},
		{"GET /signin/link without a link", 400, func() result { return b.get("/signin/link") }},
		{"GET /static/roster.css", 200, func() result { return b.get("/static/roster.css") }},
		{"GET /invite/<token>", 303, func() result { return b.get("/invite/" + inv) }},
		{"GET /invite", 200, func() result { return b.get("/invite") }},
		{"POST /invite invalid", 422, func() result { return b.post("/invite", url.Values{"password": {"short"}}) }},
		{"GET /reset/<token>", 303, func() result { return b.get("/reset/" + rst) }},
		{"GET /reset", 200, func() result { return b.get("/reset") }},
		{"POST /signin wrong password", 401, func() result {
			return b.post("/signin", url.Values{"email": {"ann@example.com"}, "password": {"wrong-password-here"}})
		}},
		{"POST /signin cross-site", 403, func() result {
			return b.do("POST", "/signin", url.Values{"email": {"ann@example.com"}, "password": {userPassword}}, cross)
		}},
		{"POST /signin/email unconfigured", 503, func() result {
			return b.post("/signin/email", url.Values{"link-email": {"ann@example.com"}})
		}},
		{"POST /signin", 303, func() result {
			return b.post("/signin", url.Values{"email": {"ann@example.com"}, "password": {userPassword}})
		}},
		{"GET /account", 200, func() result { return b.get("/account?m=saved") }},
		{"POST /account/profile invalid", 422, func() result {
			return b.post("/account/profile", url.Values{"name": {"bad\nname"}})
		}},
		{"POST /account/tokens/x/revoke", 404, func() result { return b.post("/account/tokens/x/revoke", nil) }},
		{"POST /signout", 303, func() result { return b.post("/signout", nil) }},
	}
	for _, s := range steps {
		r := s.do()
		if r.status != s.status {
			t.Errorf("%s: status %d, want %d:\n%s", s.name, r.status, s.status, r.body)
		}
		checkHeaders(t, s.name, r)
	}
	if r := b.get("/static/roster.css"); !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") || len(r.body) == 0 {
		t.Errorf("the stylesheet: Content-Type %q, %d bytes", r.header.Get("Content-Type"), len(r.body))
	}
}

// TestCookieFlags: the session cookie is HttpOnly, SameSite=Lax, on
// every path, and Secure exactly under TLS; a link's cookie lives only on
// its page, briefly, and its first GET sends the token out of the
// address at once.
func TestCookieFlags(t *testing.T) {
	t.Parallel()
	t.Run("session over HTTP", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		e.addUser("ann@example.com", userPassword)
		r := e.browser().post("/signin", url.Values{"email": {"ann@example.com"}, "password": {userPassword}})
		expect(t, "sign in", r, 303, "/account")
		c := r.cookie(sessionCookie)
		if c == nil {
			t.Fatalf("no %s cookie in %v", sessionCookie, r.cookies)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
			t.Errorf("session cookie over HTTP: %s; want HttpOnly, SameSite=Lax, Path=/, not Secure", c)
		}
		if !strings.HasPrefix(c.Value, "roster_ses_") {
			t.Errorf("session cookie value %q", c.Value)
		}
	})
	t.Run("session over TLS", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{tls: true})
		if !strings.HasPrefix(e.url, "https://") {
			t.Fatalf("server at %s", e.url)
		}
		e.addUser("ann@example.com", userPassword)
		b := e.browser()
		r := b.post("/signin", url.Values{"email": {"ann@example.com"}, "password": {userPassword}})
		expect(t, "sign in", r, 303, "/account")
		c := r.cookie(sessionCookie)
		if c == nil {
			t.Fatalf("no %s cookie in %v", sessionCookie, r.cookies)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || !c.Secure {
			t.Errorf("session cookie over TLS: %s; want HttpOnly, SameSite=Lax, Path=/, Secure", c)
		}
		expect(t, "account over TLS", b.get("/account"), 200)
		r = b.get("/invite/" + e.invite("bob@example.com"))
		expect(t, "invitation over TLS", r, 303, "/invite")
		if c := r.cookie(linkCookie); c == nil || !c.Secure || !c.HttpOnly {
			t.Errorf("link cookie over TLS: %v; want Secure and HttpOnly", c)
		}
	})
	t.Run("link cookies", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		smtp := e.startMail()
		e.addUser("ann@example.com", userPassword)
		b := e.browser()
		expect(t, "ask for a sign-in link", b.post("/signin/email", url.Values{"link-email": {"ann@example.com"}}), 200)
		links := []struct{ entry, page, path, tok string }{
			{"/invite/", "/invite", "/invite", e.invite("bob@example.com")},
			{"/reset/", "/reset", "/reset", e.resetLink("ann@example.com")},
			{"/signin/", "/signin/link", "/signin", mailedSignInToken(t, e.sent(smtp), "ann@example.com")},
		}
		for _, l := range links {
			r := b.get(l.entry + l.tok)
			expect(t, "GET "+l.entry+"<token>", r, 303, l.page)
			c := r.cookie(linkCookie)
			if c == nil {
				t.Fatalf("GET %s<token>: no %s cookie in %v", l.entry, linkCookie, r.cookies)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != l.path || c.Secure {
				t.Errorf("GET %s<token>: link cookie %s; want HttpOnly, SameSite=Lax, Path=%s", l.entry, c, l.path)
			}
			if c.MaxAge <= 0 || c.MaxAge > 900 {
				t.Errorf("GET %s<token>: link cookie Max-Age %d, want 1 to 900", l.entry, c.MaxAge)
			}
			if c.Value != l.tok {
				t.Errorf("GET %s<token>: link cookie holds %q, want the token", l.entry, c.Value)
			}
			if strings.Contains(r.location(), "roster_") {
				t.Errorf("GET %s<token>: the token stays in the address: %q", l.entry, r.location())
			}
			// The page at the clean address works with the cookie alone.
			expect(t, "GET "+l.page, b.get(l.page), 200)
		}
		// A used link's cookie is deleted.
		r := b.post("/reset", url.Values{"password": {newPassword}})
		expect(t, "POST /reset", r, 303, "/account?m=reset")
		if c := r.cookie(linkCookie); c == nil || c.MaxAge >= 0 || c.Path != "/reset" {
			t.Errorf("POST /reset: link cookie %v; want it deleted", c)
		}
	})
}

// TestCrossOriginRefused: a POST from another site does nothing: not a
// profile change, a sign-in, an acceptance or a sign-out.
func TestCrossOriginRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	e.addUser("ann@example.com", userPassword)
	b := e.browser()
	secret := b.signIn("ann@example.com", userPassword)
	form := url.Values{"name": {"Mallory Was Here"}}
	for _, h := range []http.Header{
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}},
		{"Origin": {"https://evil.example"}},
	} {
		r := b.do("POST", "/account/profile", form, h)
		expect(t, "profile from "+strings.Join(h.Values("Sec-Fetch-Site"), "")+strings.Join(h.Values("Origin"), ""), r, 403)
		if !strings.Contains(r.body, "another site") {
			t.Errorf("refusal page: %s", r.body)
		}
		checkHeaders(t, "cross-origin refusal", r)
		if got := e.user("ann@example.com").Name; got != "Initial Name" {
			t.Fatalf("after a cross-origin POST the name is %q", got)
		}
	}
	r := b.do("POST", "/account/profile", url.Values{"name": {"Ann Same"}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	expect(t, "same-origin profile", r, 303, "/account?m=saved")
	if got := e.user("ann@example.com").Name; got != "Ann Same" {
		t.Fatalf("after a same-origin POST the name is %q", got)
	}
	r = b.do("POST", "/account/profile", url.Values{"name": {"Ann Origin"}}, http.Header{"Origin": {e.url}})
	expect(t, "profile with the own Origin", r, 303, "/account?m=saved")

	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}}
	fresh := e.browser()
	r = fresh.do("POST", "/signin", url.Values{"email": {"ann@example.com"}, "password": {userPassword}}, cross)
	expect(t, "cross-site sign-in", r, 403)
	if c := r.cookie(sessionCookie); c != nil {
		t.Errorf("a cross-site sign-in set %s", c)
	}

	inv := e.invite("bob@example.com")
	expect(t, "GET /invite/<token>", fresh.get("/invite/"+inv), 303, "/invite")
	r = fresh.do("POST", "/invite", url.Values{"name": {"Bob"}, "password": {userPassword}}, cross)
	expect(t, "cross-site accept", r, 403)
	if st := e.user("bob@example.com").Status; st != roster.StatusInvited {
		t.Errorf("after a cross-site accept bob is %s", st)
	}

	r = b.do("POST", "/signout", nil, cross)
	expect(t, "cross-site sign-out", r, 403)
	if !e.signedIn(secret) {
		t.Error("a cross-site sign-out ended the session")
	}
	if n := len(e.events("account.signout")); n != 0 {
		t.Errorf("%d account.signout events after a refused sign-out", n)
	}
}

// TestSessionsEnd: a session ends at sign-out, when the user is
// deactivated, when an administrator sets the password and asks for it
// (only then, R10), after session.idle unused and after session.ttl
// however used; and its secret is stored nowhere.
func TestSessionsEnd(t *testing.T) {
	t.Parallel()
	t.Run("sign-out", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		e.addUser("ann@example.com", userPassword)
		b := e.browser()
		secret := b.signIn("ann@example.com", userPassword)
		other := e.browser().signIn("ann@example.com", userPassword)
		r := b.post("/signout", nil)
		expect(t, "sign out", r, 303, "/signin?m=signedout")
		if c := r.cookie(sessionCookie); c == nil || c.MaxAge >= 0 {
			t.Errorf("sign-out: session cookie %v; want it deleted", c)
		}
		if e.signedIn(secret) {
			t.Error("the session's old cookie still opens the account after sign-out")
		}
		if !e.signedIn(other) {
			t.Error("signing out one session ended the user's other session")
		}
		evs := e.events("account.signout")
		if len(evs) != 1 || evs[0].Target != "ann@example.com" || evs[0].Actor != "ann@example.com" {
			t.Errorf("account.signout events: %+v", evs)
		}
		// Signing out again, or without a session, is no error.
		expect(t, "sign out again", e.browser().do("POST", "/signout", nil, http.Header{"Cookie": {sessionCookie + "=" + secret}}), 303, "/signin?m=signedout")
		if n := len(e.events("account.signout")); n != 1 {
			t.Errorf("%d account.signout events after signing out an ended session", n)
		}
	})
	t.Run("deactivation", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		e.addUser("ann@example.com", userPassword)
		secret := e.browser().signIn("ann@example.com", userPassword)
		if _, err := e.admin().DeactivateUser(ctx, "ann@example.com", "left"); err != nil {
			t.Fatal(err)
		}
		if e.signedIn(secret) {
			t.Error("a deactivated user's session still opens the account")
		}
		if _, err := e.admin().ReactivateUser(ctx, "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		if e.signedIn(secret) {
			t.Error("reactivation revived the session that deactivation ended")
		}
	})
	t.Run("account not active", func(t *testing.T) {
		t.Parallel()
		// Deactivation ends the sessions; the status is also checked at
		// every request, which is what holds when the store's row says
		// deactivated whatever wrote it.
		e := newEnv(t, config{})
		e.addUser("ann@example.com", userPassword)
		secret := e.browser().signIn("ann@example.com", userPassword)
		err := e.db.Write(ctx, func(tx store.Tx) error {
			u, err := tx.UserByRef(ctx, "ann@example.com")
			if err != nil {
				return err
			}
			u.Status = roster.StatusDeactivated
			return tx.UpdateUser(ctx, u)
		})
		if err != nil {
			t.Fatal(err)
		}
		if e.signedIn(secret) {
			t.Error("the session of an account that is not active still opens it")
		}
	})
	t.Run("set password", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		e.addUser("ann@example.com", userPassword)
		secret := e.browser().signIn("ann@example.com", userPassword)
		if _, err := e.admin().SetPassword(ctx, "ann@example.com", roster.SetPassword{Password: newPassword}); err != nil {
			t.Fatal(err)
		}
		if !e.signedIn(secret) {
			t.Error("setting the password without RevokeSessions ended the session (R10)")
		}
		if _, err := e.admin().SetPassword(ctx, "ann@example.com", roster.SetPassword{Password: userPassword, RevokeSessions: true}); err != nil {
			t.Fatal(err)
		}
		if e.signedIn(secret) {
			t.Error("setting the password with RevokeSessions left the session open")
		}
	})
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		e.addUser("ann@example.com", userPassword)
		secret := e.browser().signIn("ann@example.com", userPassword)
		// Use renews the idle time: 11h, then 11h more, are both fine.
		e.clock.Advance(11 * time.Hour)
		if !e.signedIn(secret) {
			t.Fatal("the session ended before session.idle")
		}
		e.clock.Advance(11 * time.Hour)
		if !e.signedIn(secret) {
			t.Fatal("the session ended 11h after its last use: idle time is not counted from the last use")
		}
		e.clock.Advance(12 * time.Hour)
		if e.signedIn(secret) {
			t.Error("the session outlived session.idle (12h) unused")
		}
	})
	t.Run("idle setting", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		e.set("session.idle", "30m")
		e.addUser("ann@example.com", userPassword)
		secret := e.browser().signIn("ann@example.com", userPassword)
		e.clock.Advance(29 * time.Minute)
		if !e.signedIn(secret) {
			t.Fatal("the session ended before session.idle")
		}
		e.clock.Advance(30 * time.Minute)
		if e.signedIn(secret) {
			t.Error("the session outlived session.idle = 30m unused")
		}
	})
	t.Run("ttl", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		e.addUser("ann@example.com", userPassword)
		secret := e.browser().signIn("ann@example.com", userPassword)
		// Used every 11 hours, so never idle, for 165 hours…
		for i := range 15 {
			e.clock.Advance(11 * time.Hour)
			if !e.signedIn(secret) {
				t.Fatalf("an active session ended after %dh", 11*(i+1))
			}
		}
		// …it still ends at 7 days.
		e.clock.Advance(3 * time.Hour)
		if e.signedIn(secret) {
			t.Error("an active session outlived session.ttl (7d)")
		}
	})
	t.Run("secret not stored", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		e.addUser("ann@example.com", userPassword)
		secret := e.browser().signIn("ann@example.com", userPassword)
		sum := sha256.Sum256([]byte(secret))
		var all []byte
		for _, p := range []string{e.path, e.path + "-wal", e.path + "-shm"} {
			b, err := os.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		if bytes.Contains(all, []byte(secret)) {
			t.Error("the session's secret is stored in the SQLite files in plaintext")
		}
		body := strings.TrimPrefix(secret, "roster_ses_")
		if bytes.Contains(all, []byte(body)) {
			t.Error("the body of the session's secret is stored in the SQLite files")
		}
		// The scan reads what the store wrote: the hash is there.
		if !bytes.Contains(all, sum[:]) {
			t.Error("the SHA-256 of the session's secret is not in the SQLite files: the scan is not seeing the store")
		}
	})
}

// TestSignInRateLimited: wrong passwords use the client's failure budget
// for the account, shared with the API's sign-in; past it the page
// answers 429 with Retry-After and checks nothing, while another client
// still signs in.
func TestSignInRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{api: api.Options{FailureRate: 0.01}, proxy: true})
	e.addUser("ann@example.com", userPassword)
	guesser := e.browser().from("203.0.113.5")
	wrong := url.Values{"email": {"ann@example.com"}, "password": {"not-the-password-1"}}
	for i := range 5 {
		expect(t, "wrong password #"+strconv.Itoa(i+1), guesser.post("/signin", wrong), 401)
	}
	// The API's sign-in spends the same budget.
	for i := range 5 {
		req := `{"email":"ann@example.com","password":"not-the-password-2"}`
		res := guesser.raw("POST", "/api/v1/login", "application/json", req)
		if res.status != 401 {
			t.Fatalf("API wrong password #%d: status %d: %s", i+1, res.status, res.body)
		}
	}
	r := guesser.post("/signin", wrong)
	expect(t, "wrong password past the budget", r, 429)
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	checkHeaders(t, "429", r)
	right := url.Values{"email": {"ann@example.com"}, "password": {userPassword}}
	r = guesser.post("/signin", right)
	expect(t, "the right password from the guesser past the budget", r, 429)
	if c := r.cookie(sessionCookie); c != nil {
		t.Errorf("a refused sign-in set %s", c)
	}
	other := e.browser().from("203.0.113.77")
	expect(t, "the right password from another client", other.post("/signin", right), 303, "/account")
	e.clock.Advance(time.Duration(secs) * time.Second)
	expect(t, "the right password after Retry-After", guesser.post("/signin", right), 303, "/account")
}

// walkThrough goes through every flow of the pages with b: an invitation
// accepted, a password sign-in (and a failed one), a mailed sign-in link,
// a reset link, and a sign-out. It returns every secret it met: the
// links' tokens and the sessions' cookies.
func walkThrough(t *testing.T, e *env, b *browser) []string {
	t.Helper()
	smtp := e.startMail()
	e.addUser("ann@example.com", userPassword)
	var secrets []string
	session := func(what string, r result) {
		t.Helper()
		c := r.cookie(sessionCookie)
		if c == nil || c.Value == "" {
			t.Fatalf("%s: no session cookie", what)
		}
		secrets = append(secrets, c.Value)
	}

	inv := e.invite("bob@example.com")
	secrets = append(secrets, inv)
	expect(t, "GET /invite/<token>", b.get("/invite/"+inv), 303, "/invite")
	if r := b.get("/invite"); r.status != 200 || !strings.Contains(r.body, "bob@example.com") {
		t.Fatalf("GET /invite: %d:\n%s", r.status, r.body)
	}
	r := b.post("/invite", url.Values{"name": {"Bob Example"}, "username": {"bob"}, "password": {userPassword}})
	expect(t, "accept", r, 303, "/account?m=welcome")
	session("accept", r)
	if u := e.user("bob@example.com"); u.Status != roster.StatusActive || u.Name != "Bob Example" || u.Username != "bob" {
		t.Fatalf("bob after accepting: %+v", u)
	}
	expect(t, "GET /account after accepting", b.get("/account?m=welcome"), 200)
	expect(t, "GET /invite/<used token>", b.get("/invite/"+inv), 410)

	secrets = append(secrets, b.signIn("ann@example.com", userPassword))
	expect(t, "wrong password", b.post("/signin", url.Values{"email": {"ann@example.com"}, "password": {"wrong-password-x"}}), 401)

	expect(t, "ask for a sign-in link", b.post("/signin/email", url.Values{"link-email": {"ann@example.com"}}), 200)
	sgn := mailedSignInToken(t, e.sent(smtp), "ann@example.com")
	secrets = append(secrets, sgn)
	expect(t, "GET /signin/<token>", b.get("/signin/"+sgn), 303, "/signin/link")
	if r := b.get("/signin/link"); r.status != 200 || !strings.Contains(r.body, "ann@example.com") {
		t.Fatalf("GET /signin/link: %d:\n%s", r.status, r.body)
	}
	r = b.post("/signin/link", nil)
	expect(t, "POST /signin/link", r, 303, "/account")
	session("sign-in link", r)

	rst := e.resetLink("ann@example.com")
	secrets = append(secrets, rst)
	expect(t, "GET /reset/<token>", b.get("/reset/"+rst), 303, "/reset")
	expect(t, "GET /reset", b.get("/reset"), 200)
	r = b.post("/reset", url.Values{"password": {newPassword}})
	expect(t, "POST /reset", r, 303, "/account?m=reset")
	session("reset", r)

	expect(t, "GET /account", b.get("/account"), 200)
	expect(t, "sign out", b.post("/signout", nil), 303, "/signin?m=signedout")
	expect(t, "GET /account signed out", b.get("/account"), 303, "/signin")
	return secrets
}

// TestNoSecretInLogs: the server's log, API's and pages' alike, holds no
// link token and no session cookie, through every flow.
func TestNoSecretInLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{proxy: true})
	b := e.browser().from("198.51.100.7")
	secrets := walkThrough(t, e, b)
	log := e.log.String()
	if strings.Count(log, "msg=request") < 15 {
		t.Fatalf("the server logged too little to check:\n%s", log)
	}
	for _, k := range []string{"roster_inv_", "roster_rst_", "roster_sgn_"} {
		if !strings.Contains(log, k+"…") {
			t.Errorf("no masked %s path in the log: the requests were not logged as expected:\n%s", k, log)
		}
	}
	for _, s := range secrets {
		_, body, _ := strings.Cut(s, "_")
		_, body, _ = strings.Cut(body, "_")
		if strings.Contains(log, s) || len(body) >= 20 && strings.Contains(log, body[:20]) {
			t.Errorf("the log holds the secret %.15s…:\n%s", s, log)
		}
	}
}

// TestAuditClientAddress: the audit events of the pages' flows record
// the client's address: the peer's, or the one X-Forwarded-For names
// when the peer is a trusted proxy.
func TestAuditClientAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		proxy  bool
		client string
	}{
		{"direct", false, "127.0.0.1"},
		{"behind a trusted proxy", true, "198.51.100.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, config{proxy: tc.proxy})
			// The header is sent either way: untrusted, it must be ignored.
			walkThrough(t, e, e.browser().from("198.51.100.7"))
			for _, want := range []struct {
				action, method string
				n              int
			}{
				{"invite.accept", "", 1},
				{"user.reset_password", "", 1},
				{"account.signin", "password", 3}, // after accepting, with the password, after the reset
				{"account.signin", "link", 1},
				{"account.signin_link", "", 1},
				{"account.signout", "", 1},
			} {
				var got []roster.AuditEvent
				for _, ev := range e.events(want.action) {
					if want.method == "" || ev.Details["method"] == want.method {
						got = append(got, ev)
					}
				}
				if len(got) != want.n {
					t.Errorf("%s %s: %d events, want %d: %+v", want.action, want.method, len(got), want.n, got)
				}
				for _, ev := range got {
					if ev.Details["client"] != tc.client {
						t.Errorf("%s %s: client %v, want %s", want.action, want.method, ev.Details["client"], tc.client)
					}
				}
			}
		})
	}
}

// TestDeadLinks: a link that cannot be used gets a page saying why, with
// the right status; and an acceptance that the rules refuse (R9, R11)
// leaves the invitation as it was.
func TestDeadLinks(t *testing.T) {
	t.Parallel()
	t.Run("used", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		b := e.browser()
		inv := e.invite("bob@example.com")
		expect(t, "GET /invite/<token>", b.get("/invite/"+inv), 303, "/invite")
		expect(t, "accept", b.post("/invite", url.Values{"name": {"Bob"}, "password": {userPassword}}), 303, "/account?m=welcome")
		r := e.browser().get("/invite/" + inv)
		expect(t, "GET /invite/<used token>", r, 410)
		if !strings.Contains(r.body, "already used") {
			t.Errorf("used invitation page:\n%s", r.body)
		}
		if c := r.cookie(linkCookie); c != nil && c.MaxAge >= 0 {
			t.Errorf("a dead link set the link cookie %s", c)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		b := e.browser()
		// Well-formed, but never issued: a token from another store.
		other := newEnv(t, config{}).invite("bob@example.com")
		for _, p := range []string{"/invite/" + other, "/invite/roster_inv_nonsense", "/reset/" + strings.Replace(other, "inv", "rst", 1), "/signin/garbage"} {
			r := b.get(p)
			expect(t, "GET "+p, r, 404)
			if !strings.Contains(r.body, "unknown") {
				t.Errorf("GET %s:\n%s", p, r.body)
			}
		}
		// The page at the clean address needs the link.
		expect(t, "GET /invite without a link", b.get("/invite"), 400)
		expect(t, "POST /invite without a link", b.post("/invite", url.Values{"name": {"Eve"}, "password": {userPassword}}), 400)
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		inv := e.invite("bob@example.com")
		b := e.browser()
		expect(t, "GET /invite/<token>", b.get("/invite/"+inv), 303, "/invite")
		e.clock.Advance(7*24*time.Hour + time.Minute)
		r := e.browser().get("/invite/" + inv)
		expect(t, "GET /invite/<expired token>", r, 410)
		if !strings.Contains(r.body, "expired") {
			t.Errorf("expired invitation page:\n%s", r.body)
		}
		// Nor can a form opened before it expired accept it.
		r = b.post("/invite", url.Values{"name": {"Bob"}, "password": {userPassword}})
		expect(t, "accepting an invitation that expired on the form", r, 410)
		if st := e.user("bob@example.com").Status; st != roster.StatusInvited {
			t.Errorf("bob is %s", st)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		inv := e.invite("bob@example.com")
		if _, err := e.admin().RevokeInvitation(ctx, "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		r := e.browser().get("/invite/" + inv)
		expect(t, "GET /invite/<revoked token>", r, 410)
		if !strings.Contains(r.body, "revoked") {
			t.Errorf("revoked invitation page:\n%s", r.body)
		}
	})
	t.Run("deactivated user's reset link", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		e.addUser("ann@example.com", userPassword)
		rst := e.resetLink("ann@example.com")
		b := e.browser()
		expect(t, "GET /reset/<token>", b.get("/reset/"+rst), 303, "/reset")
		if _, err := e.admin().DeactivateUser(ctx, "ann@example.com", ""); err != nil {
			t.Fatal(err)
		}
		// The form was open when the account was deactivated.
		r := b.post("/reset", url.Values{"password": {newPassword}})
		expect(t, "POST /reset of a deactivated user", r, 410)
		expect(t, "GET /reset/<token> of a deactivated user", e.browser().get("/reset/"+rst), 410)
		if c := r.cookie(sessionCookie); c != nil {
			t.Errorf("a dead reset link set %s", c)
		}
		if n := len(e.events("user.reset_password")); n != 0 {
			t.Errorf("%d user.reset_password events", n)
		}
		// Reactivated, the link stays dead (R8).
		if _, err := e.admin().ReactivateUser(ctx, "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		expect(t, "GET /reset/<token> after reactivation", e.browser().get("/reset/"+rst), 410)
	})
	t.Run("seat limit", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		inv := e.invite("bob@example.com")
		e.set("seats", "1") // the owner holds it
		b := e.browser()
		expect(t, "GET /invite/<token>", b.get("/invite/"+inv), 303, "/invite")
		r := b.post("/invite", url.Values{"name": {"Bob"}, "password": {userPassword}})
		expect(t, "accept with every seat taken", r, 409)
		if !strings.Contains(r.body, "seat") {
			t.Errorf("seat refusal page says nothing of seats:\n%s", r.body)
		}
		if !strings.Contains(r.body, `action="/invite"`) {
			t.Errorf("the refusal does not keep the form:\n%s", r.body)
		}
		if c := r.cookie(sessionCookie); c != nil {
			t.Errorf("a refused acceptance set %s", c)
		}
		if st := e.user("bob@example.com").Status; st != roster.StatusInvited {
			t.Errorf("after the refusal bob is %s, want invited (R9)", st)
		}
		// The invitation was not used up: with a seat free it works.
		e.set("seats", "2")
		expect(t, "accept with a seat free", b.post("/invite", url.Values{"name": {"Bob"}, "password": {userPassword}}), 303, "/account?m=welcome")
	})
	t.Run("inviter lost the permission", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		admin := e.admin()
		if _, err := admin.CreateRole(ctx, roster.CreateRole{Name: "recruiter",
			Permissions: []string{roster.PermUsersCreate, roster.PermUsersView}}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CreateUser(ctx, roster.CreateUser{Email: "rita@example.com", Roles: []string{"recruiter"}}); err != nil {
			t.Fatal(err)
		}
		inv := e.inviteAs(e.core.As(core.Actor{User: "rita@example.com"}), "dora@example.com", roster.RoleMember)
		if _, err := admin.UpdateRole(ctx, "recruiter", roster.UpdateRole{Remove: []string{roster.PermUsersCreate}}); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		expect(t, "GET /invite/<token>", b.get("/invite/"+inv), 303, "/invite")
		r := b.post("/invite", url.Values{"name": {"Dora"}, "password": {userPassword}})
		expect(t, "accept after the inviter lost users.create", r, 403)
		if !strings.Contains(r.body, "R11") {
			t.Errorf("R11 refusal page:\n%s", r.body)
		}
		if c := r.cookie(sessionCookie); c != nil {
			t.Errorf("a refused acceptance set %s", c)
		}
		if st := e.user("dora@example.com").Status; st != roster.StatusInvited {
			t.Errorf("after the refusal dora is %s, want invited (R11)", st)
		}
	})
}

// TestSignInLinkRequest: asking for a sign-in link answers alike whether
// or not the email has an active account, and only an active account is
// mailed; a server that cannot mail says so.
func TestSignInLinkRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	smtp := e.startMail()
	e.addUser("ann@example.com", userPassword)
	if _, err := e.admin().CreateUser(ctx, roster.CreateUser{Email: "dee@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin().DeactivateUser(ctx, "dee@example.com", ""); err != nil {
		t.Fatal(err)
	}
	e.invite("ivy@example.com")
	b := e.browser()
	var first string
	for _, email := range []string{"ann@example.com", "nobody@example.com", "dee@example.com", "ivy@example.com", "not-an-email"} {
		r := b.post("/signin/email", url.Values{"link-email": {email}})
		expect(t, "ask for a link for "+email, r, 200)
		body := strings.ReplaceAll(r.body, email, "EMAIL")
		if first == "" {
			first = body
			if !strings.Contains(body, "EMAIL") {
				t.Fatalf("the answer does not name the email:\n%s", r.body)
			}
		} else if body != first {
			t.Errorf("the answer for %s differs from the answer for an active user:\n%s\n---\n%s", email, body, first)
		}
	}
	msgs := e.sent(smtp)
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "ann@example.com" {
		t.Fatalf("mails: %+v; want one, to ann", msgs)
	}
	tok := mailedSignInToken(t, msgs, "ann@example.com")
	if !strings.Contains(msgs[0].Body, e.url+"/signin/"+tok) {
		t.Errorf("the mail holds no link to the page:\n%s", msgs[0].Body)
	}
	// The mail is recorded (issue 17): sent_at on the link, and an audit
	// event naming ann, as her own doing, and where it went.
	if l := e.link(store.LinkSignIn, tok); l.SentAt == nil || !l.SentAt.Equal(e.clock.Now()) {
		t.Errorf("the mailed sign-in link's sent_at is %v, want %v", l.SentAt, e.clock.Now())
	}
	sends := e.events("account.signin_link.send")
	if len(sends) != 1 || sends[0].Target != "ann@example.com" || sends[0].Actor != "ann@example.com" ||
		sends[0].Details["to"] != "ann@example.com" {
		t.Errorf("account.signin_link.send events: %+v; want one, by and for ann, to her address", sends)
	}

	// A GET does not use the link, so a mail scanner cannot; the click does, once.
	for range 2 {
		expect(t, "GET /signin/<token>", e.browser().get("/signin/"+tok), 303, "/signin/link")
	}
	b = e.browser()
	expect(t, "GET /signin/<token>", b.get("/signin/"+tok), 303, "/signin/link")
	if n := len(e.events("account.signin")); n != 0 {
		t.Fatalf("%d sign-ins before the click", n)
	}
	r := b.post("/signin/link", nil)
	expect(t, "POST /signin/link", r, 303, "/account")
	if c := r.cookie(linkCookie); c == nil || c.MaxAge >= 0 {
		t.Errorf("the used link's cookie: %v; want it deleted", c)
	}
	expect(t, "GET /account after the link", b.get("/account"), 200)
	r = e.browser().get("/signin/" + tok)
	expect(t, "GET /signin/<used token>", r, 410)
	if !strings.Contains(r.body, "already used") {
		t.Errorf("used sign-in link page:\n%s", r.body)
	}
	again := e.browser()
	r = again.do("POST", "/signin/link", url.Values{}, http.Header{"Cookie": {linkCookie + "=" + tok}})
	expect(t, "POST /signin/link with a used token", r, 410)
	if c := r.cookie(sessionCookie); c != nil {
		t.Errorf("a used sign-in link set %s", c)
	}

	t.Run("without mail", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		e.addUser("ann@example.com", userPassword)
		r := e.browser().post("/signin/email", url.Values{"link-email": {"ann@example.com"}})
		expect(t, "ask for a link without mail", r, 503)
		if !strings.Contains(r.body, "cannot send sign-in links") {
			t.Errorf("the page does not say the server cannot mail:\n%s", r.body)
		}
		r2 := e.browser().post("/signin/email", url.Values{"link-email": {"nobody@example.com"}})
		if r2.status != 503 || strings.ReplaceAll(r2.body, "nobody@example.com", "ann@example.com") != r.body {
			t.Errorf("without mail the answer for an unknown email differs: %d\n%s", r2.status, r2.body)
		}
	})
	t.Run("without base_url", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, config{})
		smtp := e.startMail()
		e.set("base_url", "")
		e.addUser("ann@example.com", userPassword)
		r := e.browser().post("/signin/email", url.Values{"link-email": {"ann@example.com"}})
		expect(t, "ask for a link without base_url", r, 503)
		if n := len(e.sent(smtp)); n != 0 {
			t.Errorf("%d mails sent without base_url", n)
		}
	})
}

// TestMustChangePassword: a user who must change their password (R17)
// signs in to the password form only, and can change nothing else until
// they have changed it.
func TestMustChangePassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	if _, err := e.admin().CreateUser(ctx, roster.CreateUser{Email: "ann@example.com", Name: "Initial Name",
		Password: userPassword, MustChangePassword: true}); err != nil {
		t.Fatal(err)
	}
	tok, err := e.core.As(core.Actor{Name: "local:test"}).CreateToken(ctx, roster.CreateToken{Name: "cli", User: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("ann@example.com", userPassword)
	r := b.get("/account")
	expect(t, "GET /account", r, 200)
	if !strings.Contains(r.body, `action="/account/password"`) {
		t.Errorf("the page lacks the password form:\n%s", r.body)
	}
	for _, not := range []string{`id="tokens"`, `action="/account/profile"`, tok.Name + " <span"} {
		if strings.Contains(r.body, not) {
			t.Errorf("before the change the page shows %s:\n%s", not, r.body)
		}
	}
	r = b.post("/account/profile", url.Values{"name": {"Changed Name"}})
	if r.status == http.StatusSeeOther {
		t.Fatalf("a profile change before the password change was accepted: to %q", r.location())
	}
	expect(t, "POST /account/profile before the change", r, 403)
	if !strings.Contains(r.body, "must change their password") {
		t.Errorf("the refusal does not say why:\n%s", r.body)
	}
	if got := e.user("ann@example.com").Name; got != "Initial Name" {
		t.Fatalf("the name changed to %q before the password", got)
	}
	expect(t, "revoke a token before the change", b.post("/account/tokens/"+strconv.FormatInt(tok.ID, 10)+"/revoke", nil), 403)

	r = b.post("/account/password", url.Values{"current": {"wrong-current-pw"}, "password": {newPassword}})
	expect(t, "change with a wrong current password", r, 422)
	expect(t, "change the password", b.post("/account/password", url.Values{"current": {userPassword}, "password": {newPassword}}), 303, "/account?m=password")
	r = b.get("/account?m=password")
	expect(t, "GET /account after the change", r, 200)
	if !strings.Contains(r.body, `id="tokens"`) || !strings.Contains(r.body, "Your password was changed.") {
		t.Errorf("after the change the account page is not whole:\n%s", r.body)
	}
	expect(t, "POST /account/profile after the change", b.post("/account/profile", url.Values{"name": {"Changed Name"}}), 303, "/account?m=saved")
	if got := e.user("ann@example.com").Name; got != "Changed Name" {
		t.Fatalf("the name is %q after a saved change", got)
	}
	expect(t, "revoke a token", b.post("/account/tokens/"+strconv.FormatInt(tok.ID, 10)+"/revoke", nil), 303, "/account?m=revoked")
}

// TestAccountTokens: the account page lists the user's live API tokens
// and revokes them; not someone else's.
func TestAccountTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	e.addUser("ann@example.com", userPassword)
	admin := e.admin()
	mine, err := admin.CreateToken(ctx, roster.CreateToken{User: "ann@example.com", Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := admin.CreateToken(ctx, roster.CreateToken{User: ownerEmail, Name: "owner-ci"})
	if err != nil {
		t.Fatal(err)
	}
	scoped, err := admin.CreateToken(ctx, roster.CreateToken{User: "ann@example.com", Name: "ci", Scope: []string{roster.PermUsersView}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.core.Authenticate(core.WithClient(ctx, "192.0.2.7"), scoped.Token); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("ann@example.com", userPassword)
	r := b.get("/account")
	expect(t, "GET /account", r, 200)
	if !strings.Contains(r.body, "laptop") || strings.Contains(r.body, "owner-ci") {
		t.Fatalf("the page does not list exactly ann's token:\n%s", r.body)
	}
	if !strings.Contains(r.body, "from 192.0.2.7, scoped to users.view") {
		t.Errorf("the page does not say where the scoped token was used from and its scope:\n%s", r.body)
	}
	if strings.Contains(r.body, mine.Token) {
		t.Error("the page shows a token's secret")
	}
	r = b.post("/account/tokens/"+strconv.FormatInt(theirs.ID, 10)+"/revoke", nil)
	if r.status == http.StatusSeeOther {
		t.Fatalf("ann revoked the owner's token: to %q", r.location())
	}
	if _, err := e.core.Authenticate(ctx, theirs.Token); err != nil {
		t.Fatalf("the owner's token after ann's attempt: %v", err)
	}
	expect(t, "revoke own token", b.post("/account/tokens/"+strconv.FormatInt(mine.ID, 10)+"/revoke", nil), 303, "/account?m=revoked")
	if _, err := e.core.Authenticate(ctx, mine.Token); err == nil {
		t.Fatal("the revoked token still authenticates")
	}
	r = b.get("/account?m=revoked")
	if strings.Contains(r.body, "laptop") || !strings.Contains(r.body, "The token was revoked.") {
		t.Errorf("after revoking, the page:\n%s", r.body)
	}
	if evs := e.events("token.revoke"); len(evs) != 1 || evs[0].Details["client"] != "127.0.0.1" {
		t.Errorf("token.revoke events: %+v", evs)
	}
}

// TestAccountTokensExpired: a token past its expiry, by the core's clock,
// is not listed as live.
func TestAccountTokensExpired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	e.addUser("ann@example.com", userPassword)
	if _, err := e.admin().CreateToken(ctx, roster.CreateToken{User: "ann@example.com", Name: "short-lived", TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("ann@example.com", userPassword)
	if r := b.get("/account"); !strings.Contains(r.body, "short-lived") {
		t.Fatalf("the live token is not listed:\n%s", r.body)
	}
	e.clock.Advance(2 * time.Hour)
	if r := b.get("/account"); strings.Contains(r.body, "short-lived") {
		t.Errorf("an expired token is listed as live:\n%s", r.body)
	}
}

// TestCookieSecureBehindProxy: behind the TLS-terminating proxy of
// docs/deploy.md (trusted, X-Forwarded-Proto: https), the session cookie
// is Secure: otherwise a browser sends it in clear to http:// before the
// proxy's redirect to https.
func TestCookieSecureBehindProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{proxy: true})
	e.addUser("ann@example.com", userPassword)
	b := e.browser().from("198.51.100.7")
	b.header.Set("X-Forwarded-Proto", "https")
	r := b.post("/signin", url.Values{"email": {"ann@example.com"}, "password": {userPassword}})
	expect(t, "sign in", r, 303, "/account")
	if c := r.cookie(sessionCookie); c == nil || !c.Secure {
		t.Errorf("session cookie behind a TLS-terminating proxy: %v; want Secure", c)
	}
}

// TestStaticServesOnlyTheStylesheet: /static/ is the one stylesheet, not
// a listing of a folder.
func TestStaticServesOnlyTheStylesheet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	b := e.browser()
	if r := b.get("/static/roster.css"); r.status != 200 || !strings.Contains(r.body, "focus-visible") {
		t.Errorf("GET /static/roster.css: %d", r.status)
	}
	if r := b.get("/static/"); r.status != 404 || strings.Contains(r.body, "roster.css") {
		t.Errorf("GET /static/: %d, %q; want 404 and no listing", r.status, r.body)
	}
}

// TestAccountExpiry: the account page shows when the account expires; at
// that instant the session ends, and neither the password nor a sign-in
// link mailed before signs in, with nothing run.
func TestAccountExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	smtp := e.startMail()
	e.addUser("ann@example.com", userPassword)
	res, err := e.admin().SetExpiry(ctx, "ann@example.com", "2h")
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	expect(t, "sign in", b.post("/signin", url.Values{"email": {"ann@example.com"}, "password": {userPassword}}), 303, "/account")
	r := b.get("/account")
	expect(t, "account", r, 200)
	if want := res.User.ExpiresAt.UTC().Format("2 Jan 2006, 15:04 UTC"); !strings.Contains(r.body, "Account expires</dt><dd>"+want) {
		t.Errorf("the account page does not show the expiry %s:\n%s", want, r.body)
	}

	e.clock.Advance(2*time.Hour - time.Second)
	expect(t, "account a second before the expiry", b.get("/account"), 200)
	expect(t, "ask for a sign-in link", e.browser().post("/signin/email", url.Values{"link-email": {"ann@example.com"}}), 200)
	sgn := mailedSignInToken(t, e.sent(smtp), "ann@example.com")
	e.clock.Advance(time.Second)
	expect(t, "account at the expiry", b.get("/account"), 303, "/signin")
	r = e.browser().post("/signin", url.Values{"email": {"ann@example.com"}, "password": {userPassword}})
	if r.status == 303 && r.location() == "/account" {
		t.Fatal("an expired account signed in with its password")
	}
	l := e.browser()
	l.get("/signin/" + sgn)
	if r := l.post("/signin/link", nil); r.status == 303 && r.location() == "/account" {
		t.Fatal("an expired account signed in with a link mailed before its expiry")
	}
}
