package web_test

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/roster"
)

// Organisations on the pages (DESIGN.md, "Organisations"; R21): every page
// is also served under /o/<slug>/, in that organisation; /signin asks for
// one when the store holds several, and tells nothing of which ones an
// address belongs to.

// The passwords of ann@example.com in acme and in globex.
const (
	acmePassword   = "Walrus-Cobalt-Meadow-2291"
	globexPassword = "Pylon-Saffron-Drizzle-6604"
)

// addOrgs adds to e's store the organisations acme ("Acme Corp") and
// globex ("Globex"), each with an account for ann@example.com with a
// password of its own.
func addOrgs(e *env) {
	e.t.Helper()
	for _, o := range []struct{ slug, name, pw string }{{"acme", "Acme Corp", acmePassword}, {"globex", "Globex", globexPassword}} {
		if _, err := e.admin().CreateOrg(ctx, roster.CreateOrg{Slug: o.slug, Name: o.name,
			OwnerEmail: "boss@" + o.slug + ".test", RandomPassword: true}); err != nil {
			e.t.Fatalf("create %s: %v", o.slug, err)
		}
		if _, err := e.adminIn(o.slug).CreateUser(ctx, roster.CreateUser{Email: "ann@example.com", Name: "Ann", Password: o.pw}); err != nil {
			e.t.Fatalf("create ann in %s: %v", o.slug, err)
		}
	}
}

// twoOrgs is an env whose store holds acme and globex (addOrgs) besides
// the system organisation.
func twoOrgs(t *testing.T, cfg config) *env {
	t.Helper()
	e := newEnv(t, cfg)
	addOrgs(e)
	return e
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

var actionRE = regexp.MustCompile(`action="([^"]*)"`)

// checkActions fails unless every form of the page r posts under base.
func checkActions(t *testing.T, what string, r result, base string) {
	t.Helper()
	actions := actionRE.FindAllStringSubmatch(r.body, -1)
	if len(actions) == 0 {
		t.Errorf("%s: no form on the page:\n%s", what, r.body)
	}
	for _, m := range actions {
		if !strings.HasPrefix(m[1], base+"/") {
			t.Errorf("%s: a form posts to %q, outside %s/", what, m[1], base)
		}
	}
}

// TestOrgSignInByPath: under /o/<slug>/ a person signs in to that
// organisation's account only, with its password; each organisation's
// session lives on its own pages, several at once in one browser, and
// opens no other organisation's.
func TestOrgSignInByPath(t *testing.T) {
	t.Parallel()
	e := twoOrgs(t, config{})
	b := e.browser()
	expect(t, "GET /o/acme/", b.get("/o/acme/"), 303, "/o/acme/account")
	expect(t, "GET /o/acme", b.get("/o/acme"), 303, "/o/acme/account")
	expect(t, "GET /o/acme/account signed out", b.get("/o/acme/account"), 303, "/o/acme/signin")
	r := b.get("/o/acme/signin")
	expect(t, "GET /o/acme/signin", r, 200)
	checkHeaders(t, "GET /o/acme/signin", r)
	checkActions(t, "GET /o/acme/signin", r, "/o/acme")
	if !strings.Contains(r.body, "Acme Corp") || strings.Contains(r.body, `name="org"`) {
		t.Errorf("acme's sign-in page does not name acme, or asks for an organisation:\n%s", r.body)
	}

	wrong := b.post("/o/acme/signin", form("email", "ann@example.com", "password", "not-the-password-1"))
	expect(t, "a wrong password at acme", wrong, 401)
	r = b.post("/o/acme/signin", form("email", "ann@example.com", "password", globexPassword))
	expect(t, "globex's password at acme", r, 401)
	if r.body != wrong.body {
		t.Errorf("globex's password at acme is answered unlike a wrong password:\n%s\n---\n%s", r.body, wrong.body)
	}
	if c := r.cookie(sessionCookie); c != nil {
		t.Errorf("a refused sign-in set %s", c)
	}

	r = b.post("/o/acme/signin", form("email", "ann@example.com", "password", acmePassword))
	expect(t, "sign in at acme", r, 303, "/o/acme/account")
	c := r.cookie(sessionCookie)
	if c == nil || c.Path != "/o/acme/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure {
		t.Fatalf("acme's session cookie: %v; want Path=/o/acme/, HttpOnly, SameSite=Lax", c)
	}
	acme := c.Value
	globex := b.signInAt("/o/globex", "ann@example.com", globexPassword)

	// Both sessions live in the one browser, each on its pages.
	for _, o := range []struct{ slug, name string }{{"acme", "Acme Corp"}, {"globex", "Globex"}} {
		base := "/o/" + o.slug
		r := b.get(base + "/account")
		expect(t, "GET "+base+"/account", r, 200)
		checkHeaders(t, "GET "+base+"/account", r)
		checkActions(t, "GET "+base+"/account", r, base)
		if !strings.Contains(r.body, "<dt>Organisation</dt><dd>"+o.name+" ("+o.slug+")</dd>") {
			t.Errorf("%s's account page does not say which organisation it is of:\n%s", o.slug, r.body)
		}
		if n := len(e.eventsIn(o.slug, "account.signin")); n != 1 {
			t.Errorf("%d account.signin events in %s, want 1", n, o.slug)
		}
	}
	if n := len(e.events("account.signin")); n != 0 {
		t.Errorf("%d account.signin events in the system organisation, want none", n)
	}
	// A session opens its own organisation's pages, and no other's (R21).
	if !e.signedInAt("/o/acme", acme) {
		t.Error("acme's session does not open acme's account")
	}
	if e.signedInAt("/o/globex", acme) || e.signedInAt("", acme) {
		t.Error("acme's session opens another organisation's account page (R21)")
	}

	// A cross-site form is refused as ever, within the organisation.
	r = b.do("POST", "/o/globex/account/profile", form("name", "Mallory"), http.Header{"Sec-Fetch-Site": {"cross-site"}})
	expect(t, "a cross-site POST under /o/globex/", r, 403)
	if !strings.Contains(r.body, `href="/o/globex/account"`) {
		t.Errorf("the refusal does not lead back to globex's account:\n%s", r.body)
	}
	if u, err := e.adminIn("globex").GetUser(ctx, "ann@example.com"); err != nil || u.Name != "Ann" {
		t.Fatalf("after a cross-site POST ann in globex is %+v, %v", u, err)
	}

	// Signing out of globex with acme's cookie ends nothing.
	other := e.browser()
	r = other.do("POST", "/o/globex/signout", url.Values{}, http.Header{"Cookie": {sessionCookie + "=" + acme}})
	expect(t, "sign out of globex with acme's session", r, 303, "/o/globex/signin?m=signedout")
	if !e.signedInAt("/o/acme", acme) {
		t.Fatal("signing out of globex ended acme's session")
	}
	// Signing out of acme ends acme's session only.
	r = b.post("/o/acme/signout", nil)
	expect(t, "sign out of acme", r, 303, "/o/acme/signin?m=signedout")
	if c := r.cookie(sessionCookie); c == nil || c.MaxAge >= 0 || c.Path != "/o/acme/" {
		t.Errorf("sign-out of acme: session cookie %v; want it deleted on /o/acme/", c)
	}
	if e.signedInAt("/o/acme", acme) {
		t.Error("acme's session survived its sign-out")
	}
	if !e.signedInAt("/o/globex", globex) {
		t.Error("signing out of acme ended globex's session")
	}
	expect(t, "GET /o/globex/account after signing out of acme", b.get("/o/globex/account"), 200)
	expect(t, "GET /o/acme/account after signing out of it", b.get("/o/acme/account"), 303, "/o/acme/signin")
	if n := len(e.eventsIn("acme", "account.signout")); n != 1 {
		t.Errorf("%d account.signout events in acme, want 1", n)
	}
	if n := len(e.eventsIn("globex", "account.signout")); n != 0 {
		t.Errorf("%d account.signout events in globex, want none", n)
	}
}

// TestOrgUnknown: an organisation that does not exist is answered as a
// path that does not exist, whatever the page and method.
func TestOrgUnknown(t *testing.T) {
	t.Parallel()
	e := twoOrgs(t, config{})
	b := e.browser()
	missing := b.get("/o/acme/no-such-page")
	expect(t, "GET /o/acme/no-such-page", missing, 404)
	for _, rq := range []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/o/initech/", nil},
		{"GET", "/o/initech", nil},
		{"GET", "/o/initech/signin", nil},
		{"POST", "/o/initech/signin", form("email", "ann@example.com", "password", acmePassword)},
		{"POST", "/o/initech/signin/email", form("link-email", "ann@example.com")},
		{"GET", "/o/initech/account", nil},
		{"GET", "/o/initech/invite/roster_inv_nosuchtoken", nil},
		{"GET", "/o/Acme/signin", nil},
	} {
		r := b.do(rq.method, rq.path, rq.form, nil)
		what := rq.method + " " + rq.path
		if r.status != missing.status || r.body != missing.body || r.header.Get("Content-Type") != missing.header.Get("Content-Type") {
			t.Errorf("%s: %d %q %q; want the answer to a missing page: %d %q %q", what, r.status,
				r.header.Get("Content-Type"), r.body, missing.status, missing.header.Get("Content-Type"), missing.body)
		}
		checkHeaders(t, what, r)
		if c := r.cookie(sessionCookie); c != nil {
			t.Errorf("%s set %s", what, c)
		}
	}
}

// TestOrgSignInForm: /signin asks for the organisation only when the
// store holds several, then signs in there; an organisation that does not
// exist is answered exactly as a wrong password.
func TestOrgSignInForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	b := e.browser()
	r := b.get("/signin")
	expect(t, "GET /signin with one organisation", r, 200)
	if strings.Contains(r.body, `name="org"`) || strings.Contains(r.body, `name="link-org"`) {
		t.Errorf("with one organisation the sign-in page asks for one:\n%s", r.body)
	}
	addOrgs(e)
	r = b.get("/signin")
	expect(t, "GET /signin with three organisations", r, 200)
	checkHeaders(t, "GET /signin", r)
	if !strings.Contains(r.body, `name="org"`) || !strings.Contains(r.body, `name="link-org"`) {
		t.Fatalf("with three organisations the sign-in forms do not ask for one:\n%s", r.body)
	}
	checkActions(t, "GET /signin", r, "")

	r = b.post("/signin", form("email", "ann@example.com", "password", acmePassword))
	expect(t, "sign in without an organisation", r, 422)
	if !strings.Contains(r.body, `id="org-error"`) {
		t.Errorf("no message next to the organisation's field:\n%s", r.body)
	}

	wrong := b.post("/signin", form("org", "globex", "email", "ann@example.com", "password", acmePassword))
	expect(t, "acme's password in globex", wrong, 401)
	for _, f := range []url.Values{
		form("org", "initech", "email", "ann@example.com", "password", acmePassword),
		form("org", "acme", "email", "nobody@example.com", "password", acmePassword),
		form("org", "acme", "email", "ann@example.com", "password", globexPassword),
	} {
		r := b.post("/signin", f)
		body := strings.ReplaceAll(r.body, `value="`+f.Get("org")+`"`, `value="globex"`)
		body = strings.ReplaceAll(body, f.Get("email"), "ann@example.com")
		if r.status != wrong.status || body != wrong.body {
			t.Errorf("sign in to %s as %s: %d, answered unlike a wrong password (%d):\n%s\n---\n%s",
				f.Get("org"), f.Get("email"), r.status, wrong.status, r.body, wrong.body)
		}
		if c := r.cookie(sessionCookie); c != nil {
			t.Errorf("a refused sign-in set %s", c)
		}
	}

	r = b.post("/signin", form("org", "acme", "email", "ann@example.com", "password", acmePassword))
	expect(t, "sign in to acme at /signin", r, 303, "/o/acme/account")
	if c := r.cookie(sessionCookie); c == nil || c.Path != "/o/acme/" {
		t.Errorf("the session of a sign-in to acme: %v; want it on /o/acme/", c)
	}
	r = b.get("/o/acme/account")
	expect(t, "GET /o/acme/account", r, 200)
	if !strings.Contains(r.body, "ann@example.com") || !strings.Contains(r.body, "Acme Corp (acme)") {
		t.Errorf("acme's account page:\n%s", r.body)
	}
	// The system organisation's people name it too.
	r = b.post("/signin", form("org", "default", "email", ownerEmail, "password", ownerPassword))
	expect(t, "sign in to the system organisation at /signin", r, 303, "/o/default/account")
	expect(t, "GET /o/default/account", b.get("/o/default/account"), 200)
}

// TestOrgUnknownIsAGuess: a sign-in to an organisation that does not
// exist spends the client's failure budget exactly as a wrong password
// does, so that the limiter tells nothing either.
func TestOrgUnknownIsAGuess(t *testing.T) {
	t.Parallel()
	e := twoOrgs(t, config{api: api.Options{FailureRate: 0.01}, proxy: true})
	tries := func(client string, f url.Values) int {
		t.Helper()
		b := e.browser().from(client)
		for i := range 50 {
			switch r := b.post("/signin", f); r.status {
			case http.StatusTooManyRequests:
				return i
			case http.StatusUnauthorized:
			default:
				t.Fatalf("try %d from %s: %d:\n%s", i+1, client, r.status, r.body)
			}
		}
		t.Fatalf("no 429 from %s within 50 tries", client)
		return 0
	}
	wrong := tries("203.0.113.5", form("org", "acme", "email", "ann@example.com", "password", "not-the-password-1"))
	unknown := tries("203.0.113.6", form("org", "initech", "email", "ann@example.com", "password", "not-the-password-1"))
	if wrong == 0 || unknown != wrong {
		t.Errorf("refused after %d sign-ins to an unknown organisation and %d wrong passwords; want the same", unknown, wrong)
	}
}

// TestOrgSignInLink: asking for a sign-in link answers alike whatever the
// organisation and the address; the link carries its organisation, and
// works only there.
func TestOrgSignInLink(t *testing.T) {
	t.Parallel()
	e := twoOrgs(t, config{})
	smtp := e.startMail()
	b := e.browser()
	var first string
	for _, f := range []url.Values{
		form("link-org", "acme", "link-email", "ann@example.com"),
		form("link-org", "initech", "link-email", "ann@example.com"),
		form("link-org", "globex", "link-email", "nobody@example.com"),
	} {
		r := b.post("/signin/email", f)
		expect(t, "ask for a link in "+f.Get("link-org"), r, 200)
		body := strings.ReplaceAll(r.body, f.Get("link-email"), "EMAIL")
		if first == "" {
			first = body
		} else if body != first {
			t.Errorf("asking in %s for %s is answered unlike asking in acme for ann:\n%s\n---\n%s",
				f.Get("link-org"), f.Get("link-email"), body, first)
		}
	}
	r := b.post("/signin/email", form("link-email", "ann@example.com"))
	expect(t, "ask for a link without an organisation", r, 422)
	if !strings.Contains(r.body, `id="link-org-error"`) {
		t.Errorf("no message next to the organisation's field:\n%s", r.body)
	}
	msgs := e.sent(smtp)
	if len(msgs) != 1 {
		t.Fatalf("%d mails; want one, to ann in acme", len(msgs))
	}
	tok := mailedSignInToken(t, msgs, "ann@example.com")
	if !strings.Contains(msgs[0].Body, e.url+"/o/acme/signin/"+tok) {
		t.Errorf("the mail's link is not under /o/acme/:\n%s", msgs[0].Body)
	}

	// Anywhere but in acme the link is unknown (R21).
	for _, p := range []string{"/signin/", "/o/globex/signin/"} {
		r := e.browser().get(p + tok)
		expect(t, "GET "+p+"<acme's token>", r, 404)
		if c := r.cookie(linkCookie); c != nil && c.MaxAge >= 0 {
			t.Errorf("GET %s<acme's token> kept it in %s", p, c)
		}
	}
	r = b.get("/o/globex/signin/" + tok)
	if !strings.Contains(r.body, `href="/o/globex/signin"`) {
		t.Errorf("the dead link's page does not lead to globex's sign-in:\n%s", r.body)
	}
	r = e.browser().do("POST", "/o/globex/signin/link", url.Values{}, http.Header{"Cookie": {linkCookie + "=" + tok}})
	expect(t, "POST /o/globex/signin/link with acme's token", r, 404)

	r = b.get("/o/acme/signin/" + tok)
	expect(t, "GET /o/acme/signin/<token>", r, 303, "/o/acme/signin/link")
	if c := r.cookie(linkCookie); c == nil || c.Path != "/o/acme/signin" {
		t.Errorf("the link's cookie: %v; want it on /o/acme/signin", c)
	}
	r = b.get("/o/acme/signin/link")
	expect(t, "GET /o/acme/signin/link", r, 200)
	checkActions(t, "GET /o/acme/signin/link", r, "/o/acme")
	r = b.post("/o/acme/signin/link", nil)
	expect(t, "POST /o/acme/signin/link", r, 303, "/o/acme/account")
	if c := r.cookie(sessionCookie); c == nil || c.Path != "/o/acme/" {
		t.Errorf("the session of a sign-in link of acme: %v; want it on /o/acme/", c)
	}
	expect(t, "GET /o/acme/account", b.get("/o/acme/account"), 200)
	if evs := e.eventsIn("acme", "account.signin"); len(evs) != 1 || evs[0].Details["method"] != "link" {
		t.Errorf("account.signin events in acme: %+v", evs)
	}

	// Asked for at globex's own address, the link is globex's.
	r = b.post("/o/globex/signin/email", form("link-email", "ann@example.com"))
	expect(t, "ask for a link at /o/globex/", r, 200)
	if !strings.Contains(r.body, "30 minutes") || !strings.Contains(r.body, `href="/o/globex/signin"`) {
		t.Errorf("globex's answer:\n%s", r.body)
	}
	if msgs := e.sent(smtp); len(msgs) != 2 || !strings.Contains(msgs[1].Body, e.url+"/o/globex/signin/roster_sgn_") {
		t.Errorf("after asking at /o/globex/: %d mails; want a second, with a link under /o/globex/", len(msgs))
	}
}

// TestOrgLinks: an invitation and a reset link carry their organisation,
// are used at its address only, and act in it.
func TestOrgLinks(t *testing.T) {
	t.Parallel()
	e := twoOrgs(t, config{})
	e.set("base_url", e.url)
	inv, err := e.adminIn("acme").CreateInvitation(ctx, roster.CreateInvitation{Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if want := e.url + "/o/acme/invite/" + inv.Token; inv.URL != want {
		t.Fatalf("the invitation's link is %q, want %q", inv.URL, want)
	}
	for _, p := range []string{"/invite/", "/o/globex/invite/"} {
		expect(t, "GET "+p+"<acme's invitation>", e.browser().get(p+inv.Token), 404)
	}
	b := e.browser()
	r := b.get("/o/acme/invite/" + inv.Token)
	expect(t, "GET /o/acme/invite/<token>", r, 303, "/o/acme/invite")
	if c := r.cookie(linkCookie); c == nil || c.Path != "/o/acme/invite" {
		t.Errorf("the invitation's cookie: %v; want it on /o/acme/invite", c)
	}
	// Its cookie sent to globex's page is an unknown link there.
	r = e.browser().do("POST", "/o/globex/invite", form("name", "Bob", "password", userPassword),
		http.Header{"Cookie": {linkCookie + "=" + inv.Token}})
	expect(t, "POST /o/globex/invite with acme's invitation", r, 404)
	r = b.get("/o/acme/invite")
	expect(t, "GET /o/acme/invite", r, 200)
	checkActions(t, "GET /o/acme/invite", r, "/o/acme")
	r = b.post("/o/acme/invite", form("name", "Bob", "password", userPassword))
	expect(t, "accept at /o/acme/", r, 303, "/o/acme/account?m=welcome")
	if c := r.cookie(sessionCookie); c == nil || c.Path != "/o/acme/" {
		t.Errorf("the session after accepting: %v; want it on /o/acme/", c)
	}
	if c := r.cookie(linkCookie); c == nil || c.MaxAge >= 0 || c.Path != "/o/acme/invite" {
		t.Errorf("the used invitation's cookie: %v; want it deleted on /o/acme/invite", c)
	}
	if u, err := e.adminIn("acme").GetUser(ctx, "bob@example.com"); err != nil || u.Status != roster.StatusActive {
		t.Errorf("bob in acme after accepting: %+v, %v", u, err)
	}
	if _, err := e.adminIn("globex").GetUser(ctx, "bob@example.com"); !errors.Is(err, roster.ErrNotFound) {
		t.Errorf("bob in globex: %v; want not found", err)
	}
	if n := len(e.eventsIn("acme", "invite.accept")); n != 1 {
		t.Errorf("%d invite.accept events in acme, want 1", n)
	}
	expect(t, "GET /o/acme/account after accepting", b.get("/o/acme/account?m=welcome"), 200)

	rl, err := e.adminIn("globex").CreateResetLink(ctx, "ann@example.com", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.url + "/o/globex/reset/" + rl.Token; rl.URL != want {
		t.Fatalf("the reset link is %q, want %q", rl.URL, want)
	}
	for _, p := range []string{"/reset/", "/o/acme/reset/"} {
		expect(t, "GET "+p+"<globex's reset link>", e.browser().get(p+rl.Token), 404)
	}
	b = e.browser()
	expect(t, "GET /o/globex/reset/<token>", b.get("/o/globex/reset/"+rl.Token), 303, "/o/globex/reset")
	expect(t, "POST /o/globex/reset", b.post("/o/globex/reset", form("password", newPassword)), 303, "/o/globex/account?m=reset")
	// The new password is globex's; acme's is as it was.
	e.browser().signInAt("/o/globex", "ann@example.com", newPassword)
	e.browser().signInAt("/o/acme", "ann@example.com", acmePassword)
}

// TestOrgSuspended: a suspended organisation's sign-ins, sessions and
// links are refused, and the others' are not; resumed, it signs in again.
func TestOrgSuspended(t *testing.T) {
	t.Parallel()
	e := twoOrgs(t, config{})
	smtp := e.startMail()
	session := e.browser().signInAt("/o/globex", "ann@example.com", globexPassword)
	inv, err := e.adminIn("globex").CreateInvitation(ctx, roster.CreateInvitation{Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := e.adminIn("globex").CreateResetLink(ctx, "ann@example.com", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	suspend := func(yes bool) {
		t.Helper()
		if _, err := e.admin().UpdateOrg(ctx, "globex", roster.UpdateOrg{Suspended: &yes}); err != nil {
			t.Fatal(err)
		}
	}
	suspend(true)

	b := e.browser()
	wrong := b.post("/o/globex/signin", form("email", "ann@example.com", "password", "not-the-password-1"))
	r := b.post("/o/globex/signin", form("email", "ann@example.com", "password", globexPassword))
	if r.status == http.StatusSeeOther || r.status != wrong.status || r.cookie(sessionCookie) != nil {
		t.Errorf("sign-in to a suspended organisation: %d, cookie %v; want it refused as a wrong password (%d)",
			r.status, r.cookie(sessionCookie), wrong.status)
	}
	r = b.post("/signin", form("org", "globex", "email", "ann@example.com", "password", globexPassword))
	if r.status == http.StatusSeeOther || r.cookie(sessionCookie) != nil {
		t.Errorf("sign-in to a suspended organisation at /signin: %d to %q", r.status, r.location())
	}
	if e.signedInAt("/o/globex", session) {
		t.Error("a suspended organisation's session still opens its account")
	}
	for _, p := range []string{"/o/globex/invite/" + inv.Token, "/o/globex/reset/" + rl.Token} {
		r := e.browser().get(p)
		if r.status < 400 || r.cookie(linkCookie) != nil && r.cookie(linkCookie).MaxAge >= 0 {
			t.Errorf("GET %.30s… of a suspended organisation: %d to %q", p, r.status, r.location())
		}
	}
	expect(t, "ask for a link in a suspended organisation", b.post("/o/globex/signin/email", form("link-email", "ann@example.com")), 200)
	if n := len(e.sent(smtp)); n != 0 {
		t.Errorf("%d mails sent for a suspended organisation", n)
	}
	// Another organisation goes on.
	e.browser().signInAt("/o/acme", "ann@example.com", acmePassword)

	suspend(false)
	e.browser().signInAt("/o/globex", "ann@example.com", globexPassword)
	expect(t, "GET /o/globex/invite/<token> after resuming", e.browser().get("/o/globex/invite/"+inv.Token), 303, "/o/globex/invite")
}

// TestOrgAccountNamesIt: the account page names its organisation when
// the store holds several, and not when it holds one.
func TestOrgAccountNamesIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config{})
	e.set("org.name", "Hosting Co")
	e.addUser("ann@example.com", userPassword)
	b := e.browser()
	b.signIn("ann@example.com", userPassword)
	r := b.get("/account")
	expect(t, "GET /account with one organisation", r, 200)
	if strings.Contains(r.body, "<dt>Organisation</dt>") {
		t.Errorf("with one organisation the account page names it:\n%s", r.body)
	}
	addOrgs(e)
	r = b.get("/account")
	expect(t, "GET /account with three organisations", r, 200)
	if !strings.Contains(r.body, "<dt>Organisation</dt><dd>Hosting Co</dd>") {
		t.Errorf("with three organisations the system organisation's account page does not name it:\n%s", r.body)
	}
}
