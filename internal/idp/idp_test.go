package idp_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/roster-dev/roster/internal/idp"
)

// provider runs a real OpenID provider on loopback (discovery, JWKS,
// RSA signatures) and returns it with roster's relying party for it.
func provider(t *testing.T) (*mockoidc.MockOIDC, *idp.Provider) {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	cfg := m.Config()
	return m, idp.New(idp.Config{Name: "mock", Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret},
		"http://127.0.0.1:1/oidc/mock/callback")
}

// claims are a valid ID token's for m's client, with nonce.
func claims(m *mockoidc.MockOIDC, nonce string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": m.Issuer(), "aud": m.ClientID, "sub": "s-1", "email": "ann@example.com",
		"email_verified": true, "nonce": nonce, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
}

func TestVerify(t *testing.T) {
	m, p := provider(t)
	other, err := mockoidc.RandomKeypair(2048)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		edit  func(jwt.MapClaims)
		key   *mockoidc.Keypair
		nonce string // the flow's; "n-1" unless given
		ok    bool
	}{
		{name: "valid", ok: true},
		{name: "forged signature", key: other},
		{name: "wrong audience", edit: func(c jwt.MapClaims) { c["aud"] = "another-client" }},
		{name: "another issuer", edit: func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }},
		{name: "expired", edit: func(c jwt.MapClaims) {
			c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		}},
		{name: "nonce of another flow", nonce: "n-2"},
		{name: "no nonce", edit: func(c jwt.MapClaims) { delete(c, "nonce") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := claims(m, "n-1")
			if tc.edit != nil {
				tc.edit(c)
			}
			key := m.Keypair
			if tc.key != nil {
				key = tc.key
			}
			raw, err := key.SignJWT(c)
			if err != nil {
				t.Fatal(err)
			}
			nonce := "n-1"
			if tc.nonce != "" {
				nonce = tc.nonce
			}
			id, err := p.Verify(context.Background(), raw, nonce)
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.Subject != "s-1" || id.Email != "ann@example.com" || !id.EmailVerified || id.Provider != "mock" || id.Issuer != m.Issuer() {
					t.Fatalf("identity = %+v", id)
				}
				return
			}
			if !errors.Is(err, idp.ErrRefused) {
				t.Fatalf("Verify = %+v, %v; want refused", id, err)
			}
		})
	}
}

func TestEmailVerifiedAsString(t *testing.T) {
	m, p := provider(t)
	for v, want := range map[any]bool{"true": true, "false": false, false: false} {
		c := claims(m, "n")
		c["email_verified"] = v
		raw, err := m.Keypair.SignJWT(c)
		if err != nil {
			t.Fatal(err)
		}
		id, err := p.Verify(context.Background(), raw, "n")
		if err != nil || id.EmailVerified != want {
			t.Errorf("email_verified %#v: %+v, %v; want verified %v", v, id, err, want)
		}
	}
}

func TestFinishRefusesAnotherState(t *testing.T) {
	_, p := provider(t)
	flow := idp.NewFlow()
	for _, q := range []map[string][]string{
		{"state": {"not-the-flow's"}, "code": {"c"}},
		{"code": {"c"}},
	} {
		if _, err := p.Finish(context.Background(), flow, q); !errors.Is(err, idp.ErrRefused) {
			t.Errorf("Finish(%v) = %v; want refused", q, err)
		}
	}
	if _, err := p.Finish(context.Background(), idp.Flow{}, map[string][]string{"state": {""}}); !errors.Is(err, idp.ErrRefused) {
		t.Errorf("Finish of no flow = %v; want refused", err)
	}
}

func TestConfigCheck(t *testing.T) {
	for _, c := range []idp.Config{
		{Name: "Google", Issuer: "https://accounts.google.com", ClientID: "x"},
		{Name: "password", Issuer: "https://accounts.google.com", ClientID: "x"},
		{Name: "google", Issuer: "accounts.google.com", ClientID: "x"},
		{Name: "google", Issuer: "https://accounts.google.com"},
	} {
		if err := c.Check(); err == nil {
			t.Errorf("Check(%+v) = nil; want an error", c)
		}
	}
	if err := (idp.Config{Name: "entra-id", Issuer: "https://login.microsoftonline.com/x/v2.0", ClientID: "x"}).Check(); err != nil {
		t.Error(err)
	}
}

// A wrong client secret: the provider refuses the exchange and its
// answer echoes the secret (mockoidc's does); what Finish says of it,
// which roster logs and audits, names the error, never the secret.
func TestFinishWrongSecret(t *testing.T) {
	m, _ := provider(t)
	const wrong = "s3cret-of-another-client"
	p := idp.New(idp.Config{Name: "mock", Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: wrong}, "http://127.0.0.1:1/oidc/mock/callback")
	flow := idp.NewFlow()
	auth, err := p.Start(context.Background(), flow)
	if err != nil {
		t.Fatal(err)
	}
	m.QueueUser(&mockoidc.MockUser{Subject: "s-1", Email: "ann@example.com", EmailVerified: true})
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(auth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || back.Query().Get("code") == "" {
		t.Fatalf("the provider sent the browser to %q (%v)", resp.Header.Get("Location"), err)
	}
	_, err = p.Finish(context.Background(), flow, back.Query())
	if !errors.Is(err, idp.ErrRefused) || !strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), wrong) {
		t.Fatalf("Finish with a wrong secret = %v; want refused, naming invalid_client and not the secret", err)
	}
}

// TestCheckName: a provider's name is a lower-case word of at most 31
// letters, digits and dashes, and not one of roster's own methods; the
// length is checked apart from the pattern.
func TestCheckName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"google", true},
		{"entra-id", true},
		{"g" + strings.Repeat("0", 30), true},
		{"g" + strings.Repeat("0", 31), false},
		{"", false},
		{"1google", false},
		{"Google", false},
		{"password", false},
		{"link", false},
	} {
		err := idp.CheckName(c.name)
		if (err == nil) != c.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", c.name, err, c.ok)
		}
	}
}
