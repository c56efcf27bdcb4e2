package web_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/idp"
	"github.com/roster-dev/roster/internal/mail/mailtest"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/testkit"
	"github.com/roster-dev/roster/internal/token"
	"github.com/roster-dev/roster/internal/web"
)

// Passwords that pass the policy (R10); each hash costs ~30 ms.
const (
	ownerEmail    = "owner@example.com"
	ownerPassword = "Quokka-Tessellate-Orbit-9187"
	userPassword  = "Marmalade-Heron-Sextant-4410"
	newPassword   = "Lantern-Fjord-Abacus-7731"
)

// The cookies the pages set.
const (
	sessionCookie = "roster_session"
	linkCookie    = "roster_link"
)

var ctx = context.Background()

// config says how to build an env.
type config struct {
	// api are the server's options. A zero FailureRate means a limiter
	// that stays out of the way; otherwise the limiter runs on the env's
	// clock. Logger is always the env's.
	api api.Options
	// tls serves HTTPS.
	tls bool
	// proxy trusts X-Forwarded-For from 127.0.0.1, as roster serve
	// --trusted-proxy 127.0.0.1/32 does.
	proxy bool
	// oidc are identity providers to offer, as roster serve --oidc does;
	// their callbacks are under the server's own address.
	oidc []idp.Config
}

// env is one initialised SQLite store served, as roster serve does, by
// the API with the pages mounted on it, over loopback HTTP(S).
type env struct {
	t     *testing.T
	core  *core.Core
	db    *sqlite.DB
	path  string // the SQLite file
	clock *testkit.Clock
	log   *testkit.Buffer
	srv   *httptest.Server
	url   string
	pages *web.Handler
}

// sent is what the SMTP sink received once the sign-in links being mailed
// (after their answers) are out.
func (e *env) sent(smtp *mailtest.Server) []mailtest.Received {
	e.pages.Wait()
	return smtp.Messages()
}

func newEnv(t *testing.T, cfg config) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "roster.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	// The server's address is known before its handler is made: the
	// providers send people back to it.
	e0 := httptest.NewUnstartedServer(nil)
	scheme := "http://"
	if cfg.tls {
		scheme = "https://"
	}
	providers, err := idp.NewSet(cfg.oidc, scheme+e0.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := core.New(db, core.WithClock(clk.Now), core.WithServer(""), core.WithProviders(providers.Names()))
	e := &env{t: t, core: c, db: db, path: path, clock: clk, log: &testkit.Buffer{}}
	if _, err := e.admin().Init(ctx, roster.InitParams{OwnerEmail: ownerEmail, Password: ownerPassword}); err != nil {
		t.Fatal(err)
	}
	o := cfg.api
	if o.FailureRate == 0 { // not a test of the limiter: keep out of its way
		o.FailureRate = 1e6
	} else { // a test of the limiter: it runs on the test's clock
		o.Now = clk.Now
	}
	if cfg.proxy {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	logger := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.Logger = logger
	handler := api.New(c, o)
	e.pages = web.New(c, handler, logger, web.WithProviders(providers))
	handler.Mount(e.pages, web.Patterns...)
	e.srv = e0
	e.srv.Config.Handler = handler
	if cfg.tls {
		e.srv.StartTLS()
	} else {
		e.srv.Start()
	}
	t.Cleanup(e.srv.Close)
	e.url = e.srv.URL
	return e
}

// admin acts on the store directly, as the local administrator.
func (e *env) admin() roster.Service { return e.adminIn("") }

// adminIn acts as the local administrator in the organisation slug names
// ("" the system organisation).
func (e *env) adminIn(slug string) roster.Service {
	return e.core.As(core.Actor{Name: "local:test", Org: slug})
}

// set changes a setting as the local administrator: host settings (R16)
// in local mode, on the store's host, as only there they may be set.
func (e *env) set(key, value string) {
	e.t.Helper()
	svc := e.admin()
	if roster.IsHostSetting(key) {
		svc = core.New(e.db, core.WithClock(e.clock.Now)).As(core.Actor{Name: "local:test"})
	}
	if _, err := svc.SetSetting(ctx, key, value); err != nil {
		e.t.Fatalf("set %s: %v", key, err)
	}
}

// addUser creates an active user with a password.
func (e *env) addUser(email, pw string, roles ...string) roster.User {
	e.t.Helper()
	res, err := e.admin().CreateUser(ctx, roster.CreateUser{Email: email, Name: "Initial Name", Roles: roles, Password: pw})
	if err != nil {
		e.t.Fatalf("create %s: %v", email, err)
	}
	return res.User
}

// invite invites email as the local administrator and returns the token.
func (e *env) invite(email string, roles ...string) string {
	e.t.Helper()
	return e.inviteAs(e.admin(), email, roles...)
}

func (e *env) inviteAs(svc roster.Service, email string, roles ...string) string {
	e.t.Helper()
	inv, err := svc.CreateInvitation(ctx, roster.CreateInvitation{Email: email, Roles: roles})
	if err != nil {
		e.t.Fatalf("invite %s: %v", email, err)
	}
	if inv.Token == "" {
		e.t.Fatalf("invite %s: no token", email)
	}
	return inv.Token
}

// resetLink issues a reset link for email and returns its token.
func (e *env) resetLink(email string) string {
	e.t.Helper()
	rl, err := e.admin().CreateResetLink(ctx, email, 0, false)
	if err != nil {
		e.t.Fatalf("reset link for %s: %v", email, err)
	}
	return rl.Token
}

// user reads a user as the local administrator.
func (e *env) user(ref string) roster.User {
	e.t.Helper()
	u, err := e.admin().GetUser(ctx, ref)
	if err != nil {
		e.t.Fatalf("get %s: %v", ref, err)
	}
	return u
}

// link reads the stored link of kind whose token is tok.
func (e *env) link(kind store.LinkKind, tok string) store.Link {
	e.t.Helper()
	var l store.Link
	err := e.db.Read(ctx, func(tx store.Tx) error {
		hash := token.Sum(tok)
		var found bool
		var err error
		l, found, err = tx.LinkByHash(ctx, kind, hash[:])
		if err == nil && !found {
			err = errors.New("no such link")
		}
		return err
	})
	if err != nil {
		e.t.Fatalf("read the %s link %.15s…: %v", kind, tok, err)
	}
	return l
}

// events are the audit events of action, oldest first.
func (e *env) events(action string) []roster.AuditEvent {
	e.t.Helper()
	return e.eventsIn("", action)
}

// eventsIn are the audit events of action in the organisation slug names.
func (e *env) eventsIn(slug, action string) []roster.AuditEvent {
	e.t.Helper()
	all, err := e.adminIn(slug).ListAudit(ctx, roster.AuditFilter{Limit: 100000})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []roster.AuditEvent
	for _, ev := range all {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// startMail starts an SMTP sink and configures the store to mail through
// it, with base_url set to the server's address.
func (e *env) startMail() *mailtest.Server {
	e.t.Helper()
	smtp := mailtest.Start(e.t)
	for k, v := range map[string]string{"mail.host": smtp.Host, "mail.port": strconv.Itoa(smtp.Port),
		"mail.from": "roster@example.com", "mail.tls": "none", "base_url": e.url} {
		e.set(k, v)
	}
	return smtp
}

var signInTokenRE = regexp.MustCompile(`roster_sgn_[a-z2-7]+`)

// mailedSignInToken is the token of the only sign-in link mailed to
// email among msgs.
func mailedSignInToken(t *testing.T, msgs []mailtest.Received, email string) string {
	t.Helper()
	var toks []string
	for _, m := range msgs {
		if len(m.To) == 1 && m.To[0] == email {
			toks = append(toks, signInTokenRE.FindAllString(m.Body, -1)...)
		}
	}
	if len(toks) != 1 {
		t.Fatalf("sign-in tokens mailed to %s: %q; want one", email, toks)
	}
	return toks[0]
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so that statuses and cookies can be checked; header is
// added to every request it sends.
type browser struct {
	t      *testing.T
	e      *env
	hc     *http.Client
	header http.Header
}

func (e *env) browser() *browser {
	e.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	hc := &http.Client{Transport: e.srv.Client().Transport, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: e.t, e: e, hc: hc, header: http.Header{}}
}

// from makes b's requests come, as the server counts and audits them,
// from addr, through the trusted proxy on 127.0.0.1.
func (b *browser) from(addr string) *browser {
	b.header.Set("X-Forwarded-For", addr)
	return b
}

// result is one response, read.
type result struct {
	status  int
	header  http.Header
	body    string
	cookies []*http.Cookie
}

func (r result) location() string { return r.header.Get("Location") }

// cookie is the cookie name that the response set, or nil.
func (r result) cookie(name string) *http.Cookie {
	for _, c := range r.cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// do sends one request; form, if not nil, is its url-encoded body, and
// extra headers are added to b's.
func (b *browser) do(method, path string, form url.Values, extra http.Header) result {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	for k, vs := range extra {
		req.Header[k] = vs
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: string(raw), cookies: resp.Cookies()}
}

func (b *browser) get(path string) result {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil, nil)
}

func (b *browser) post(path string, form url.Values) result {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	return b.do(http.MethodPost, path, form, nil)
}

// raw sends a request with a raw body.
func (b *browser) raw(method, path, contentType, body string) result {
	b.t.Helper()
	req, err := http.NewRequest(method, b.e.url+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: buf.String(), cookies: resp.Cookies()}
}

// signIn signs in with a password and returns the session's secret.
func (b *browser) signIn(email, pw string) string {
	b.t.Helper()
	return b.signInAt("", email, pw)
}

// signInAt signs in with a password on the pages under base ("" or
// "/o/<slug>") and returns the session's secret.
func (b *browser) signInAt(base, email, pw string) string {
	b.t.Helper()
	r := b.post(base+"/signin", url.Values{"email": {email}, "password": {pw}})
	if r.status != http.StatusSeeOther || r.location() != base+"/account" {
		b.t.Fatalf("sign in as %s at %s/signin: %d to %q: %s", email, base, r.status, r.location(), r.body)
	}
	c := r.cookie(sessionCookie)
	if c == nil || !strings.HasPrefix(c.Value, "roster_ses_") {
		b.t.Fatalf("sign in as %s: session cookie %v", email, c)
	}
	return c.Value
}

// expect fails the test unless r has status (and, for a redirect, the
// location want).
func expect(t *testing.T, what string, r result, status int, location ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; Location %q; body:\n%s", what, r.status, status, r.location(), r.body)
	}
	if len(location) > 0 && r.location() != location[0] {
		t.Fatalf("%s: redirected to %q, want %q", what, r.location(), location[0])
	}
}

// signedIn reports whether a GET /account with the session secret is
// served (true) or sent to the sign-in page (false), from a client with
// no other cookie.
func (e *env) signedIn(secret string) bool {
	e.t.Helper()
	return e.signedInAt("", secret)
}

// signedInAt is signedIn on the pages under base ("" or "/o/<slug>").
func (e *env) signedInAt(base, secret string) bool {
	e.t.Helper()
	b := e.browser()
	r := b.do(http.MethodGet, base+"/account", nil, http.Header{"Cookie": {sessionCookie + "=" + secret}})
	switch {
	case r.status == http.StatusOK && (strings.Contains(r.body, `id="tokens"`) || strings.Contains(r.body, `action="`+base+`/account/password"`)):
		return true
	case r.status == http.StatusSeeOther && r.location() == base+"/signin":
		return false
	}
	e.t.Fatalf("GET %s/account: status %d to %q:\n%s", base, r.status, r.location(), r.body)
	return false
}
