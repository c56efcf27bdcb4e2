package main

import (
	"net"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"
)

// freeAddr is a loopback address no one listens on just now, for a
// server that must know its own address before it starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
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
	b.do(chromedp.Evaluate[chromedp.Void]("document.documentElement.dataset.before = '1'"),
		chromedp.Click(chromedp.CSS(`a.button[href="/oidc/mock/start"]`)))
	b.waitTitle("Your account")
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

