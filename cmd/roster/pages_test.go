package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/roster-dev/roster/internal/mail/mailtest"
	"github.com/roster-dev/roster/internal/testkit"
)

// browser starts Debian's chromium, headless, for the page tests. Outside
// CI a machine without it skips them and says why; under CI=true they
// must run.
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no chromium on PATH: .ci/run installs Debian's chromium for the browser tests")
		}
		t.Skip("no chromium on PATH: install it (apt-get install chromium) to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-component-update", true), chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab is one browser context, with cookies of its own, on a time budget.
type tab struct {
	t     *testing.T
	ctx   context.Context
	shots string // where screenshots go
}

func newTab(t *testing.T, browser context.Context, shots string) *tab {
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return &tab{t: t, ctx: ctx, shots: shots}
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// open loads url and waits for the page.
func (b *tab) open(url string) {
	b.t.Helper()
	b.do(chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body")))
}

// fill types values into the fields named by their ids.
func (b *tab) fill(fields ...string) {
	b.t.Helper()
	for i := 0; i+1 < len(fields); i += 2 {
		b.do(chromedp.SetValue(chromedp.CSS("#"+fields[i]), fields[i+1]))
	}
}

// submit clicks a button and waits until the page that answers, a new
// one, has the title want.
func (b *tab) submit(button, want string) {
	b.t.Helper()
	// Marks the page, so that the wait below knows the answer from it.
	b.do(chromedp.Evaluate[chromedp.Void]("document.documentElement.dataset.before = '1'"), chromedp.Submit(chromedp.CSS(button)))
	b.waitTitle(want)
}

// waitTitle waits, at most ten seconds, for a new page whose title starts
// with want.
func (b *tab) waitTitle(want string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		title, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](
			"document.readyState === 'complete' && !document.documentElement.dataset.before ? document.title : ''"))
		if err == nil && strings.HasPrefix(title, want) {
			return
		}
		if time.Now().After(deadline) {
			state, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.readyState + ' ' + location.href + ' ' + document.title + ' ' + (document.documentElement.dataset.before || '')"))
			b.t.Fatalf("page title %q, want %q; page (%s):\n%s", title, want, state, b.text("body"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// text is the visible text of the first element sel matches.
func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// has reports whether sel matches anything.
func (b *tab) has(sel string) bool {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil {
		b.t.Fatal(err)
	}
	return n > 0
}

func (b *tab) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// accessible checks what a screen reader and a keyboard need of every
// page: a language, one h1, a label for every field, and no id twice.
func (b *tab) accessible() {
	b.t.Helper()
	problems, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		if (!document.documentElement.lang) out.push("no lang");
		if (document.querySelectorAll("h1").length !== 1) out.push("not one h1");
		for (const i of document.querySelectorAll("input:not([type=hidden])"))
			if (!i.id || !document.querySelector('label[for="' + i.id + '"]')) out.push("unlabelled input " + i.name);
		const ids = [...document.querySelectorAll("[id]")].map(e => e.id);
		for (const id of new Set(ids)) if (ids.filter(x => x === id).length > 1) out.push("id twice: " + id);
		return out;
	})()`))
	if err != nil {
		b.t.Fatal(err)
	}
	for _, p := range problems {
		b.t.Errorf("%s: %s", b.location(), p)
	}
	b.axe()
}

// axeRun runs axe-core over the page and lists its violations.
const axeRun = `;axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v =>
	v.id + " (" + v.impact + "): " + v.help + ": " + v.nodes.map(n => n.target.join(" ")).join(", ")))`

// axe checks the page with axe-core, Deque's accessibility engine, at the
// version .ci/tools pins: every rule it runs by default, as the issue
// that asked for it (21) ran it. Without make tools it is left out, and
// said so, except under CI=true.
func (b *tab) axe() {
	b.t.Helper()
	path := testkit.NodeFile(b.t, "axe-core/axe.min.js")
	if path == "" {
		b.t.Log("axe-core is not installed (make tools): the page is not checked with it")
		return
	}
	src, err := os.ReadFile(path)
	if err != nil {
		b.t.Fatal(err)
	}
	violations, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](string(src)+axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("axe-core: %v", err)
	}
	for _, v := range violations {
		b.t.Errorf("%s: axe-core: %s", b.location(), v)
	}
}

// shoot saves the page as name-390.png and name-1280.png: a phone's width
// and a desktop's, after checking that it is accessible.
func (b *tab) shoot(name string) {
	b.t.Helper()
	b.accessible()
	for _, w := range []int64{390, 1280} {
		b.do(chromedp.EmulateViewport(w, 800))
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// pagesServer is a store with mail going to an in-process SMTP sink and
// a real roster serve whose URL is the store's base_url.
type pagesServer struct {
	*replicas
	url   string
	mails *mailtest.Server
}

func startPages(t *testing.T) *pagesServer {
	s := &pagesServer{replicas: &replicas{t: t, db: filepath.Join(t.TempDir(), "roster.db")}, mails: mailtest.Start(t)}
	s.roster("init", "--owner-email", "root@example.com", "--random-password")
	s.url = s.serve()
	host, port, _ := net.SplitHostPort(s.mails.Addr)
	for _, kv := range [][2]string{{"base_url", s.url}, {"org.name", "Acme Corp"}, {"mail.host", host},
		{"mail.port", port}, {"mail.from", "roster@example.com"}, {"mail.tls", "none"}} {
		s.roster("settings", "set", kv[0], kv[1])
	}
	return s
}

// link runs a command that prints a link and returns the link.
func (s *pagesServer) link(args ...string) string {
	s.t.Helper()
	out := strings.TrimSpace(s.roster(args...))
	lines := strings.Split(out, "\n")
	link := lines[len(lines)-1]
	if !strings.HasPrefix(link, s.url+"/") {
		s.t.Fatalf("roster %s printed %q, not a link under %s", strings.Join(args, " "), out, s.url)
	}
	return link
}

// user reads a user as JSON.
func (s *replicas) user(ref string) map[string]any {
	s.t.Helper()
	var u map[string]any
	if err := json.Unmarshal([]byte(s.roster("user", "show", ref, "-o", "json")), &u); err != nil {
		s.t.Fatal(err)
	}
	return u
}

// mailedLink waits, at most ten seconds, for a mail to to with a link
// under path, and returns the link.
func (s *pagesServer) mailedLink(to, path string) string {
	s.t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(s.url+path) + `\S+`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		msgs := s.mails.Messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			if len(msgs[i].To) == 1 && msgs[i].To[0] == to {
				if l := re.FindString(msgs[i].Body); l != "" {
					return l
				}
			}
		}
	}
	s.t.Fatalf("no mail to %s with a link under %s within 10s", to, path)
	return ""
}

// shotsDir is where screenshots go: docs/screenshots when
// ROSTER_SCREENSHOTS=1 (make screenshots), else a temporary directory,
// so that a test run leaves the tree as it was.
func shotsDir(t *testing.T) string {
	if os.Getenv("ROSTER_SCREENSHOTS") == "1" {
		dir, err := filepath.Abs("../../docs/screenshots")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// TestPages drives the pages behind roster's links in a real headless
// browser against a real roster serve, as the person who got the link
// would: accept, reset, sign in by mail, use the account page, sign out;
// and checks that dead links, weak passwords and a cross-site form are
// refused.
func TestPages(t *testing.T) {
	ctx := browser(t)
	s := startPages(t)
	shots := shotsDir(t)

	invite := s.link("invite", "create", "ann@example.com", "--role", "member")
	t.Run("accept an invitation", func(t *testing.T) {
		b := newTab(t, ctx, shots)
		b.open(invite)
		b.waitTitle("Accept your invitation")
		if loc := b.location(); loc != s.url+"/invite" || strings.Contains(loc, "roster_inv_") {
			t.Fatalf("the token stayed in the address bar: %s", loc)
		}
		if got := b.text("main .lede"); !strings.Contains(got, "an administrator") || !strings.Contains(got, "member") {
			t.Errorf("the invitation page says %q", got)
		}
		b.shoot("invite")

		b.fill("name", "Ann Lee", "password", "password")
		b.submit("main form button", "Accept your invitation")
		if msg := b.text("#password-error"); !strings.Contains(msg, "common") {
			t.Errorf("a common password was refused with %q next to the field", msg)
		}
		if b.has(`#password[aria-invalid="true"][aria-describedby~="password-error"]`) == false {
			t.Error("the password field is not marked invalid and tied to its message")
		}
		b.shoot("invite-weak-password")
		if st := s.user("ann@example.com")["status"]; st != "invited" {
			t.Fatalf("a refused accept changed the status to %v", st)
		}

		b.fill("name", "Ann Lee", "username", "ann", "password", "Correct-horse-9")
		b.submit("main form button", "Your account")
		if got := b.text(".flash"); !strings.Contains(got, "Welcome") {
			t.Errorf("after accepting, the account page says %q", got)
		}
		u := s.user("ann@example.com")
		if u["status"] != "active" || u["name"] != "Ann Lee" || u["username"] != "ann" || u["last_login_method"] != "password" {
			t.Fatalf("after accepting, the user is %v", u)
		}
		// With that password the person can use roster too.
		login := exec.Command("roster", "login", s.url, "--email", "ann@example.com", "--password-env", "ANN_PASSWORD")
		login.Env = append(login.Environ(), "ANN_PASSWORD=Correct-horse-9", "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
		if out, err := login.CombinedOutput(); err != nil {
			t.Fatalf("roster login with the chosen password: %v\n%s", err, out)
		}
	})

	t.Run("dead links", func(t *testing.T) {
		b := newTab(t, ctx, shots)
		b.open(invite) // used above
		b.waitTitle("This invitation cannot be used")
		if got := b.text("main"); !strings.Contains(got, "already used") {
			t.Errorf("a used invitation says %q", got)
		}
		b.shoot("link-used")

		revoked := s.link("invite", "create", "carol@example.com")
		s.roster("invite", "revoke", "carol@example.com")
		b.open(revoked)
		b.waitTitle("This invitation cannot be used")
		if got := b.text("main"); !strings.Contains(got, "revoked") {
			t.Errorf("a revoked invitation says %q", got)
		}

		// A second server whose clock is eight days ahead: the invitation,
		// valid seven, has expired there.
		expired := s.link("invite", "create", "bob@example.com")
		later := s.serve("ROSTER_TEST_NOW=+8d")
		b.open(strings.Replace(expired, s.url, later, 1))
		b.waitTitle("This invitation cannot be used")
		if got := b.text("main"); !strings.Contains(got, "expired") {
			t.Errorf("an expired invitation says %q", got)
		}
		b.shoot("link-expired")

		b.open(s.url + "/reset/roster_rst_notarealtoken")
		b.waitTitle("This reset link cannot be used")
	})

	t.Run("reset", func(t *testing.T) {
		b := newTab(t, ctx, shots)
		b.open(s.link("user", "reset-link", "ann@example.com"))
		b.waitTitle("Set a new password")
		if strings.Contains(b.location(), "roster_rst_") {
			t.Fatal("the reset token stayed in the address bar")
		}
		b.shoot("reset")
		b.fill("password", "short")
		b.submit("main form button", "Set a new password")
		if !b.has("#password-error") {
			t.Fatal("a short password was not refused next to the field")
		}
		b.fill("password", "Battery-staple-42")
		b.submit("main form button", "Your account")
		if got := b.text(".flash"); !strings.Contains(got, "new password") {
			t.Errorf("after the reset the account page says %q", got)
		}
	})

	t.Run("sign in with a mailed link", func(t *testing.T) {
		b := newTab(t, ctx, shots)
		b.open(s.url + "/signin")
		b.waitTitle("Sign in")
		b.shoot("signin")
		b.fill("link-email", "ann@example.com")
		b.submit("form[action='/signin/email'] button", "Check your mail")
		b.shoot("signin-mailed")
		link := s.mailedLink("ann@example.com", "/signin/")
		b.open(link)
		b.waitTitle("Sign in")
		if strings.Contains(b.location(), "roster_sgn_") {
			t.Fatal("the sign-in token stayed in the address bar")
		}
		b.shoot("signin-link")
		b.submit("main form button", "Your account")
		if m := s.user("ann@example.com")["last_login_method"]; m != "link" {
			t.Errorf("last_login_method = %v after a sign-in by link", m)
		}
		b.open(link) // once only
		b.waitTitle("This sign-in link cannot be used")
	})

	t.Run("account page", func(t *testing.T) {
		b := newTab(t, ctx, shots)
		b.open(s.url + "/account")
		b.waitTitle("Sign in")
		b.fill("email", "ann@example.com", "password", "Battery-staple-42")
		b.submit("form[action='/signin'] button", "Your account")

		s.roster("user", "set-role", "ann@example.com", "viewer")
		s.roster("token", "create", "--user", "ann@example.com", "--name", "laptop")
		b.open(s.url + "/account")
		b.waitTitle("Your account")
		if got := b.text("#notices + ul"); !strings.Contains(got, "changed your roles from member to viewer") || !strings.Contains(got, "local:") {
			t.Errorf("the notices say %q", got)
		}
		b.shoot("account")
		b.open(s.url + "/account") // looking is not enough: R20 marks them seen by a POST
		b.waitTitle("Your account")
		if !b.has("#notices + ul") {
			t.Error("a notice was marked seen by looking at the page")
		}
		b.submit("form[action='/account/notices/seen'] button", "Your account")
		if b.has("#notices + ul") {
			t.Error("a notice marked as seen is shown again")
		}

		b.fill("name", "Ann Q. Lee", "username", "annq")
		b.submit("form[action='/account/profile'] button", "Your account")
		if u := s.user("ann@example.com"); u["name"] != "Ann Q. Lee" || u["username"] != "annq" {
			t.Errorf("after renaming, the user is %v", u)
		}

		b.fill("current", "wrong-password-1", "password", "Another-pass-77")
		b.submit("form[action='/account/password'] button", "Your account")
		if !b.has("#current-error") || !strings.Contains(b.text("#current-error"), "not your current password") {
			t.Fatalf("a wrong current password was not refused next to its field:\n%s", b.text("main"))
		}
		b.fill("current", "Battery-staple-42", "password", "Another-pass-77")
		b.submit("form[action='/account/password'] button", "Your account")
		if got := b.text(".flash"); !strings.Contains(got, "password was changed") {
			t.Errorf("after a password change the page says %q", got)
		}

		b.submit("button[aria-label='Revoke the token laptop']", "Your account")
		if got := b.text(".flash"); !strings.Contains(got, "revoked") {
			t.Errorf("after revoking, the page says %q", got)
		}
		var tokens []struct {
			Name    string `json:"name"`
			Revoked bool   `json:"revoked"`
		}
		if err := json.Unmarshal([]byte(s.roster("token", "list", "--user", "ann@example.com", "-o", "json")), &tokens); err != nil {
			t.Fatal(err)
		}
		for _, tk := range tokens {
			if tk.Name == "laptop" && !tk.Revoked {
				t.Error("the token revoked on the page is still live")
			}
		}

		b.submit("header form button", "Sign in")
		if got := b.text(".flash"); !strings.Contains(got, "signed out") {
			t.Errorf("after signing out the page says %q", got)
		}
		b.open(s.url + "/account")
		b.waitTitle("Sign in")
	})

	t.Run("must change password", func(t *testing.T) {
		t.Setenv("DAN_PW", "Temporary-pass-1")
		s.roster("user", "create", "dan@example.com", "--password-env", "DAN_PW", "--must-change-password")
		b := newTab(t, ctx, shots)
		b.open(s.url + "/signin")
		b.fill("email", "dan@example.com", "password", "Temporary-pass-1")
		b.submit("form[action='/signin'] button", "Choose a new password")
		if b.has("#tokens") || b.has("#notices") {
			t.Error("a user who must change their password sees more than the password form (R17)")
		}
		b.shoot("password-required")
		b.fill("current", "Temporary-pass-1", "password", "Own-choice-pass-2")
		b.submit("main form button", "Your account")
	})

	t.Run("cross-site form", func(t *testing.T) {
		b := newTab(t, ctx, shots)
		b.open(s.url + "/signin")
		b.fill("email", "ann@example.com", "password", "Another-pass-77")
		b.submit("form[action='/signin'] button", "Your account")
		// Another site's page with a form aimed at the account page.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<!doctype html><title>Win a prize</title><form method="post" action="%s/account/profile">
<input type="hidden" name="name" value="Hacked"><button id="go">Claim</button></form>`, s.url)
		}))
		defer evil.Close()
		b.open(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1))
		b.submit("#go", "Request refused")
		b.shoot("cross-site-refused")
		if name := s.user("ann@example.com")["name"]; name != "Ann Q. Lee" {
			t.Fatalf("a cross-site POST renamed the user to %v", name)
		}
	})

	// Last: with a second organisation, /signin asks for one.
	t.Run("sign in to an organisation", func(t *testing.T) {
		t.Setenv("ACME_PW", "Acme-own-pass-31")
		s.roster("org", "create", "acme", "--name", "Acme Ltd", "--owner-email", "ann@example.com", "--password-env", "ACME_PW")
		b := newTab(t, ctx, shots)
		b.open(s.url + "/signin")
		b.waitTitle("Sign in")
		b.shoot("signin-org")
		b.fill("org", "acme", "email", "ann@example.com", "password", "Acme-own-pass-31")
		b.submit("form[action='/signin'] button", "Your account")
		if loc := b.location(); loc != s.url+"/o/acme/account" {
			t.Errorf("signed in to acme at %s", loc)
		}
		if got := b.text("main dl"); !strings.Contains(got, "Acme Ltd (acme)") {
			t.Errorf("acme's account page does not name it: %q", got)
		}
		b.submit("header form button", "Sign in")
		if loc := b.location(); loc != s.url+"/o/acme/signin?m=signedout" {
			t.Errorf("signed out of acme to %s", loc)
		}
		// The same address's account in the system organisation has
		// another password, which acme's page refuses.
		b.fill("email", "ann@example.com", "password", "Another-pass-77")
		b.submit("form[action='/o/acme/signin'] button", "Sign in")
		if !b.has("#problem") {
			t.Errorf("acme's sign-in took the password of another organisation's account:\n%s", b.text("main"))
		}
	})
}
