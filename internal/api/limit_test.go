package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// from sends one request to e's handler as if from the TCP peer addr, with
// extra headers, and returns the recorded answer.
func (e *env) from(addr, method, path, token string, body any, header ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var raw string
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		raw = string(j)
	}
	req := httptest.NewRequest(method, path, strings.NewReader(raw))
	req.RemoteAddr = addr
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// limited checks that rec is a 429 with a Retry-After of want seconds and
// nothing said about the attempt refused.
func limited(t testing.TB, rec *httptest.ResponseRecorder, want string) {
	t.Helper()
	var eb wire.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || rec.Code != http.StatusTooManyRequests || eb.Error.Code != wire.CodeRateLimited {
		t.Fatalf("got %d %s, want 429 rate_limited", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Retry-After"); got != want {
		t.Fatalf("Retry-After %q, want %q", got, want)
	}
	if rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("a 429 must not say the credential was refused as such")
	}
}

const attacker = "192.0.2.66:40000"

// TestRateLimitTokens: only failures count, and a valid token is served
// whatever its address has failed (issue 8, item 3).
func TestRateLimitTokens(t *testing.T) {
	var counted *countingBackend
	e := newEnv(t, api.Options{FailureRate: 1}, func(b api.Backend) api.Backend {
		counted = &countingBackend{Backend: b}
		return counted
	})
	// The clock stands still unless advanced: buckets refill only then.
	for range 12 { // successes spend nothing
		if rec := e.from(attacker, "GET", "/api/v1/whoami", e.owner, nil); rec.Code != 200 {
			t.Fatalf("whoami: %d", rec.Code)
		}
	}
	for i := range 10 { // the burst
		if rec := e.from(attacker, "GET", "/api/v1/whoami", "roster_pat_guess", nil); rec.Code != 401 {
			t.Fatalf("failure %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	// Past it, every way of presenting a bad token gets the same 429 with
	// the same body: unknown, malformed, missing, and a link token too.
	var body string
	for i := range 10 {
		for _, rec := range []*httptest.ResponseRecorder{
			e.from(attacker, "GET", "/api/v1/whoami", "roster_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil),
			e.from(attacker, "GET", "/api/v1/whoami", "garbage", nil),
			e.from(attacker, "POST", "/api/v1/projects", "", wire.CreateProject{Slug: "nope"}),
			e.from(attacker, "POST", "/api/v1/invitations/accept", "", wire.AcceptInvitation{Token: "roster_inv_guess", Password: userPassword}),
			e.from(attacker, "POST", "/api/v1/reset", "", wire.RedeemReset{Token: "roster_rst_guess", Password: userPassword}),
		} {
			limited(t, rec, "1")
			if body == "" {
				body = rec.Body.String()
			} else if rec.Body.String() != body {
				t.Fatalf("attempt %d: 429 bodies differ: %s and %s", i, body, rec.Body)
			}
		}
	}
	// 20 and more failures from this address: the owner's token from the
	// very same address is still served, as is a link that exists.
	auths := counted.auths.Load()
	if rec := e.from(attacker, "GET", "/api/v1/whoami", e.owner, nil); rec.Code != 200 {
		t.Fatalf("the owner's valid token after 20 failures from its address: %d %s", rec.Code, rec.Body)
	}
	if counted.auths.Load() != auths+1 {
		t.Fatalf("the token was not checked")
	}
	inv := ok[roster.Invitation](e, "POST", "/api/v1/invitations", e.owner, wire.CreateInvitation{Email: "eve@example.com"})
	if rec := e.from(attacker, "POST", "/api/v1/invitations/accept", "", wire.AcceptInvitation{Token: inv.Token, Password: userPassword}); rec.Code != 200 {
		t.Fatalf("a valid invitation after the failures: %d %s", rec.Code, rec.Body)
	}
	// Health checks and other addresses are not held back.
	if rec := e.from(attacker, "GET", "/healthz", "", nil); rec.Code != 200 {
		t.Fatalf("healthz: %d", rec.Code)
	}
	if rec := e.from("192.0.2.7:4321", "GET", "/api/v1/whoami", "bogus", nil); rec.Code != 401 {
		t.Fatalf("another address: %d", rec.Code)
	}
	// An IPv6 client is its /64: cycling the host part buys nothing.
	for i := range 10 {
		if rec := e.from(fmt.Sprintf("[2001:db8::%x]:443", i+1), "GET", "/api/v1/whoami", "bogus", nil); rec.Code != 401 {
			t.Fatalf("IPv6 failure %d: %d", i, rec.Code)
		}
	}
	limited(t, e.from("[2001:db8::ffff]:443", "GET", "/api/v1/whoami", "bogus", nil), "1")
	if rec := e.from("[2001:db8:0:1::1]:443", "GET", "/api/v1/whoami", "bogus", nil); rec.Code != 401 {
		t.Fatalf("another /64: %d", rec.Code)
	}

	// Retry-After is when the bucket has room: at 1 per second, 0.4 s
	// into the wait, 1 s (rounded up); at 0.25 per second, 4 s.
	e.clock.Advance(400 * time.Millisecond)
	limited(t, e.from(attacker, "GET", "/api/v1/whoami", "bogus", nil), "1")
	slow := newEnv(t, api.Options{FailureRate: 0.25}, nil)
	for range 10 {
		slow.from(attacker, "GET", "/api/v1/whoami", "bogus", nil)
	}
	limited(t, slow.from(attacker, "GET", "/api/v1/whoami", "bogus", nil), "4")

	// One second buys one more attempt; after a pause the whole burst is back.
	e.clock.Advance(time.Second)
	if rec := e.from(attacker, "GET", "/api/v1/whoami", "bogus", nil); rec.Code != 401 {
		t.Fatalf("after a second: %d", rec.Code)
	}
	limited(t, e.from(attacker, "GET", "/api/v1/whoami", "bogus", nil), "1")
	e.clock.Advance(time.Minute)
	for i := range 10 {
		if rec := e.from(attacker, "GET", "/api/v1/whoami", "bogus", nil); rec.Code != 401 {
			t.Fatalf("after a pause, failure %d: %d", i, rec.Code)
		}
	}
	limited(t, e.from(attacker, "GET", "/api/v1/whoami", "bogus", nil), "1")
}

// TestRateLimitPasswords: a password's budget is per client and account;
// once spent, the password is not checked at all, right or wrong.
func TestRateLimitPasswords(t *testing.T) {
	var counted *countingBackend
	e := newEnv(t, api.Options{FailureRate: 1}, func(b api.Backend) api.Backend {
		counted = &countingBackend{Backend: b}
		return counted
	})
	bad := wire.SignIn{Email: ownerEmail, Password: "Wrong-Password-000"}
	good := wire.SignIn{Email: ownerEmail, Password: ownerPassword}
	annTok := e.createUser("ann@example.com", "member")
	for range 12 { // successes spend nothing
		if rec := e.from(attacker, "POST", "/api/v1/login", "", good); rec.Code != 200 {
			t.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
	}
	// Failed tokens from the address do not touch its password budget.
	for range 15 {
		e.from(attacker, "GET", "/api/v1/whoami", "bogus", nil)
	}
	for i := range 10 {
		if rec := e.from(attacker, "POST", "/api/v1/login", "", bad); rec.Code != 401 {
			t.Fatalf("failure %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	signIns := counted.signIns.Load()
	limited(t, e.from(attacker, "POST", "/api/v1/login", "", bad), "1")
	// The right password is refused too, unchecked: answering it would
	// tell a guesser which guess was right.
	limited(t, e.from(attacker, "POST", "/api/v1/login", "", good), "1")
	limited(t, e.from(attacker, "POST", "/api/v1/login", "", wire.SignIn{Email: " OWNER@example.com", Password: ownerPassword}), "1")
	if counted.signIns.Load() != signIns {
		t.Fatalf("a password was checked while the limit held")
	}
	// Not others' failures: another account from the same address, the
	// same account from another address, and the owner's token.
	if rec := e.from(attacker, "POST", "/api/v1/login", "", wire.SignIn{Email: "ann@example.com", Password: userPassword}); rec.Code != 200 {
		t.Fatalf("another account from the address: %d %s", rec.Code, rec.Body)
	}
	if rec := e.from("192.0.2.7:4321", "POST", "/api/v1/login", "", good); rec.Code != 200 {
		t.Fatalf("another address: %d %s", rec.Code, rec.Body)
	}
	if rec := e.from(attacker, "GET", "/api/v1/whoami", e.owner, nil); rec.Code != 200 {
		t.Fatalf("the owner's token: %d", rec.Code)
	}

	// A wrong current password is a guess at the token holder's account.
	for i := range 10 {
		if rec := e.from(attacker, "POST", "/api/v1/account/password", annTok, wire.ChangePassword{Current: "Not-It-At-All-42", New: "Brand-New-Lantern-7731"}); rec.Code != 401 {
			t.Fatalf("current password failure %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	limited(t, e.from(attacker, "POST", "/api/v1/account/password", annTok, wire.ChangePassword{Current: userPassword, New: "Brand-New-Lantern-7731"}), "1")
	if rec := e.from("192.0.2.7:4321", "POST", "/api/v1/account/password", annTok, wire.ChangePassword{Current: userPassword, New: "Brand-New-Lantern-7731"}); rec.Code != 200 {
		t.Fatalf("from another address: %d %s", rec.Code, rec.Body)
	}

	// One client trying many accounts is held at the larger burst of 100
	// failures, then even a fresh account is refused.
	sprayer := "198.51.100.9:5000"
	for i := range 100 {
		if rec := e.from(sprayer, "POST", "/api/v1/login", "", wire.SignIn{Email: fmt.Sprintf("n%d@example.com", i), Password: "Wrong-Password-000"}); rec.Code != 401 {
			t.Fatalf("spray %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	limited(t, e.from(sprayer, "POST", "/api/v1/login", "", wire.SignIn{Email: "fresh@example.com", Password: "Wrong-Password-000"}), "1")

	// A second later the owner's account has room for one more check.
	e.clock.Advance(time.Second)
	if rec := e.from(attacker, "POST", "/api/v1/login", "", good); rec.Code != 200 {
		t.Fatalf("after a second: %d %s", rec.Code, rec.Body)
	}
}

// TestTrustedProxy: X-Forwarded-For names the client only when the peer
// is a trusted proxy; otherwise a spoofed header cannot dodge the limit.
func TestTrustedProxy(t *testing.T) {
	fail := func(e *env, peer, xff string) int {
		t.Helper()
		var h []string
		if xff != "" {
			h = []string{"X-Forwarded-For", xff}
		}
		return e.from(peer, "GET", "/api/v1/whoami", "bogus", nil, h...).Code
	}
	const proxy = "10.1.2.3:55000"
	e := newEnv(t, api.Options{FailureRate: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, nil)
	for i := range 10 {
		if code := fail(e, proxy, "203.0.113.1"); code != 401 {
			t.Fatalf("client 1, failure %d: %d", i, code)
		}
	}
	if code := fail(e, proxy, "203.0.113.1"); code != 429 {
		t.Fatalf("client 1 past its budget: %d", code)
	}
	// Another client behind the same proxy has its own budget, and its
	// valid token is served either way.
	if code := fail(e, proxy, "203.0.113.2"); code != 401 {
		t.Fatalf("client 2: %d", code)
	}
	if rec := e.from(proxy, "GET", "/api/v1/whoami", e.owner, nil, "X-Forwarded-For", "203.0.113.1"); rec.Code != 200 {
		t.Fatalf("a valid token from client 1: %d", rec.Code)
	}
	// The rightmost untrusted entry is the client: what it wrote to the
	// left of it, and proxies of ours to the right, change nothing.
	for _, xff := range []string{
		"198.51.100.77, 203.0.113.1",
		"203.0.113.1, 10.9.9.9",
		"garbage, 203.0.113.1",
		"203.0.113.1:61000",
	} {
		if code := fail(e, proxy, xff); code != 429 {
			t.Fatalf("X-Forwarded-For %q: %d, want client 1's 429", xff, code)
		}
	}
	if code := e.from(proxy, "GET", "/api/v1/whoami", "bogus", nil, "X-Forwarded-For", "198.51.100.77", "X-Forwarded-For", "203.0.113.1").Code; code != 429 {
		t.Fatalf("two headers: %d, want client 1's 429", code)
	}
	// A peer outside the trusted ranges is the client, whatever it says.
	for i := range 10 {
		fail(e, "192.0.2.1:1", fmt.Sprintf("203.0.113.%d", 100+i))
	}
	if code := fail(e, "192.0.2.1:1", "203.0.113.200"); code != 429 {
		t.Fatalf("an untrusted peer's X-Forwarded-For was believed: %d", code)
	}
	fail(e, proxy, e.owner) // a token where an address belongs is not logged
	if log := e.log.String(); !strings.Contains(log, "client=203.0.113.2") || strings.Contains(log, "garbage") || strings.Contains(log, e.owner) {
		t.Fatalf("the log must name the client, parsed:\n%s", log)
	}

	// Without --trusted-proxy the header is ignored: a new value per
	// request does not dodge the limit.
	plain := newEnv(t, api.Options{FailureRate: 1}, nil)
	for i := range 10 {
		if code := fail(plain, proxy, fmt.Sprintf("203.0.113.%d", i)); code != 401 {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	if code := fail(plain, proxy, "203.0.113.250"); code != 429 {
		t.Fatalf("a spoofed X-Forwarded-For dodged the limit: %d", code)
	}
}

// TestRateLimitPerOrg: the same email in two organisations is two
// accounts to the limiter too (issue 18: rate limits are per
// organisation). Guessing at one's password leaves the other's sign-in
// alone, and the one guessed at stays limited in its own organisation.
func TestRateLimitPerOrg(t *testing.T) {
	e := newEnv(t, api.Options{FailureRate: 1}, nil)
	ok[orgResult](e, "POST", "/api/v1/orgs", e.owner, wire.CreateOrg{Slug: "acme", OwnerEmail: "ann@example.com", Password: userPassword})
	ok[orgResult](e, "POST", "/api/v1/orgs", e.owner, wire.CreateOrg{Slug: "beta", OwnerEmail: "ann@example.com", Password: userPassword})
	signIn := func(org, pw string) *httptest.ResponseRecorder {
		return e.from(attacker, "POST", "/api/v1/login", "", wire.SignIn{Email: "ann@example.com", Password: pw, Org: org})
	}
	for i := range 10 {
		if rec := signIn("acme", "Wrong-Password-000"); rec.Code != 401 {
			t.Fatalf("failure %d in acme: %d %s", i, rec.Code, rec.Body)
		}
	}
	limited(t, signIn("acme", userPassword), "1")
	if rec := signIn("beta", userPassword); rec.Code != 200 {
		t.Fatalf("ann in beta, from the same address: %d %s", rec.Code, rec.Body)
	}
	limited(t, signIn("acme", userPassword), "1")
}
