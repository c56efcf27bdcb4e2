package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"
)

// freeAddr is a loopback address no one listens on just now, for a
// server that must know its own address before it starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := unusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// unusedAddr is freeAddr's address, or why there is none.
func unusedAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// click clicks what sel finds, as a person does (a button's name and
// value go with its form), and waits for a new page titled want.
func (b *tab) click(sel, want string) {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void]("document.documentElement.dataset.before = '1'"), chromedp.Click(chromedp.CSS(sel)))
	b.waitTitle(want)
}

// TestPagesProvider signs in with an OpenID provider in a real headless
// browser, through the whole redirect dance: roster serve --oidc, a real
// provider on loopback (discovery, JWKS, signed ID tokens), the sign-in
// page's button, the provider, the callback, the account page.
func TestPagesProvider(t *testing.T) {
	ctx := browser(t)
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	s := &replicas{t: t, db: t.TempDir() + "/roster.db"}
	s.roster("init", "--owner-email", "root@example.com", "--random-password")
	s.roster("user", "create", "ann@example.com", "--name", "Ann Lee", "--no-password")
	addr := freeAddr(t)
	url := s.serveWith([]string{"--addr", addr, "--base-url", "http://" + addr, "--oidc", "mock=" + m.Issuer()},
		"ROSTER_OIDC_MOCK_CLIENT_ID="+m.ClientID, "ROSTER_OIDC_MOCK_CLIENT_SECRET="+m.ClientSecret)

	m.QueueUser(&mockoidc.MockUser{Subject: "s-ann", Email: "ann@example.com", EmailVerified: true})
	b := newTab(t, ctx, shotsDir(t))
	b.open(url + "/signin")
	b.waitTitle("Sign in")
	b.shoot("signin-providers")
	b.click(`a.button[href="/oidc/mock/start"]`, "Your account")
	if loc := b.location(); loc != url+"/account" {
		t.Fatalf("after the provider, the browser is at %s", loc)
	}
	if got := b.text("main"); !strings.Contains(got, "ann@example.com") || !strings.Contains(got, "with mock") {
		t.Errorf("the account page says %q", got)
	}
	u := s.user("ann@example.com")
	if links, _ := u["links"].(map[string]any); links["oidc:mock"] != "s-ann" || u["last_login_method"] != "mock" {
		t.Fatalf("after signing in with the provider, the user is %v", u)
	}
}

// TestLoginWeb runs roster login --web against a real roster serve and
// approves its code in a real headless browser, signed in there with a
// password: the command prints the code and address, polls, and saves
// the token it gets in its context.
func TestLoginWeb(t *testing.T) {
	ctx := browser(t)
	s := &replicas{t: t, db: t.TempDir() + "/roster.db"}
	s.roster("init", "--owner-email", "root@example.com", "--random-password")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("Correct-horse-9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.roster("user", "create", "ann@example.com", "--name", "Ann Lee", "--password-file", pwFile)
	addr := freeAddr(t)
	url := s.serveWith([]string{"--addr", addr, "--base-url", "http://" + addr})

	config := t.TempDir()
	login := exec.Command("roster", "login", url, "--web", "--context", "web")
	login.Env = append(login.Environ(), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+config)
	stderr, err := login.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	login.Stdout = &stdout
	if err := login.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = login.Process.Kill() })
	complete := make(chan string, 1)
	var said strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			said.WriteString(sc.Text() + "\n")
			if _, u, ok := strings.Cut(sc.Text(), "or open "); ok {
				complete <- u
			}
		}
	}()
	var verify string
	select {
	case verify = <-complete:
	case <-time.After(30 * time.Second):
		t.Fatal("roster login --web printed no address within 30s")
	}
	if !strings.HasPrefix(verify, url+"/device?code=") {
		t.Fatalf("roster login --web printed %q", verify)
	}

	b := newTab(t, ctx, shotsDir(t))
	b.open(url + "/signin")
	b.fill("email", "ann@example.com", "password", "Correct-horse-9")
	b.submit("main form button", "Your account")
	b.open(verify)
	b.waitTitle("Approve a device")
	b.submit("main form button", "Approve a device")
	if got := b.text("main"); !strings.Contains(got, "roster login --web") || !strings.Contains(got, "127.0.0.1") {
		t.Errorf("the confirmation says %q", got)
	}
	b.shoot("device-confirm")
	b.click(`main form button[value="approve"]`, "Device approved")

	waited := make(chan error, 1)
	go func() { <-done; waited <- login.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("roster login --web: %v\n%s", err, said.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("roster login --web did not finish within 60s of the approval:\n%s", said.String())
	}
	if !strings.Contains(said.String(), "signed in to "+url+" as ann@example.com") {
		t.Fatalf("roster login --web said:\n%s", said.String())
	}
	// The saved context works.
	show := exec.Command("roster", "--context", "web", "account", "show", "-o", "json")
	show.Env = login.Env
	out, err := show.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"email": "ann@example.com"`) {
		t.Fatalf("account show with the saved context: %v\n%s", err, out)
	}
}
