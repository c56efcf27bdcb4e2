package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// deviceGrant is the answer to POST /api/v1/device/code.
type deviceGrant struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// deviceCode asks for a device code, in the organisation org names.
func (e *env) deviceCode(org string) deviceGrant {
	e.t.Helper()
	r := e.browser().from("192.0.2.44").post("/api/v1/device/code", url.Values{"client_id": {"roster"},
		"token_name": {"login from build-box"}, "token_ttl": {"3600"}, "host": {"build-box"}, "org": {org}})
	expect(e.t, "device code", r, http.StatusOK)
	var g deviceGrant
	if err := json.Unmarshal([]byte(r.body), &g); err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(g.DeviceCode, "roster_dvc_") || len(g.UserCode) != 9 || g.ExpiresIn != 600 || g.Interval != 5 {
		e.t.Fatalf("device code: %+v", g)
	}
	return g
}

// poll polls once for g's token and returns the token or the OAuth error.
func (e *env) poll(g deviceGrant) (tok, oauthErr string) {
	e.t.Helper()
	r := e.browser().post("/api/v1/device/token", url.Values{"client_id": {"roster"},
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {g.DeviceCode}})
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		e.t.Fatalf("poll: %d %s", r.status, r.body)
	}
	if (r.status == http.StatusOK) != (body.AccessToken != "") || (r.status == http.StatusBadRequest) != (body.Error != "") {
		e.t.Fatalf("poll: %d %s", r.status, r.body)
	}
	return body.AccessToken, body.Error
}

// decide enters code on the /device page under base, checks what it
// shows, and approves or denies.
func decide(t *testing.T, b *browser, base, code string, approve bool) result {
	t.Helper()
	r := b.get(base + "/device?code=" + code)
	expect(t, "device page", r, http.StatusOK)
	if !strings.Contains(r.body, `value="`+code+`"`) {
		t.Fatalf("the device page is not filled with the code:\n%s", r.body)
	}
	r = b.post(base+"/device", url.Values{"code": {strings.ToLower(strings.ReplaceAll(code, "-", ""))}})
	expect(t, "device confirm", r, http.StatusOK)
	for _, want := range []string{"login from build-box", "60 minutes", "build-box (192.0.2.44)", code} {
		if !strings.Contains(r.body, want) {
			t.Fatalf("the confirmation does not show %q:\n%s", want, r.body)
		}
	}
	decision := "deny"
	if approve {
		decision = "approve"
	}
	return b.post(base+"/device/decide", url.Values{"code": {code}, "decision": {decision}})
}

func TestDeviceApproved(t *testing.T) {
	e := newEnv(t, config{proxy: true})
	e.set("base_url", e.url)
	e.addUser("ann@example.com", userPassword)
	g := e.deviceCode("")
	if g.VerificationURI != e.url+"/device" || g.VerificationURIComplete != e.url+"/device?code="+g.UserCode {
		t.Fatalf("verification addresses: %+v", g)
	}
	if _, oe := e.poll(g); oe != "authorization_pending" {
		t.Fatalf("first poll: %q", oe)
	}
	// Polling again before the interval: slow down, and the interval grows.
	if _, oe := e.poll(g); oe != "slow_down" {
		t.Fatalf("a poll too soon: %q", oe)
	}
	e.clock.Advance(6 * time.Second)
	if _, oe := e.poll(g); oe != "slow_down" {
		t.Fatalf("a poll within the grown interval (10s): %q", oe)
	}

	b := e.browser()
	b.signIn("ann@example.com", userPassword)
	r := decide(t, b, "", g.UserCode, true)
	expect(t, "approve", r, http.StatusOK)
	e.clock.Advance(20 * time.Second)
	tok, oe := e.poll(g)
	if tok == "" {
		t.Fatalf("poll after approval: %q", oe)
	}
	who, err := e.core.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	me, err := who.Whoami(ctx)
	if err != nil || me.User.Email != "ann@example.com" {
		t.Fatalf("the token is %+v, %v", me, err)
	}
	// Single use: the token is handed out once.
	e.clock.Advance(20 * time.Second)
	if _, oe := e.poll(g); oe != "invalid_grant" {
		t.Fatalf("a second poll after the token: %q", oe)
	}
	// And the code cannot be approved again.
	r = b.post("/device", url.Values{"code": {g.UserCode}})
	expect(t, "used code", r, http.StatusNotFound)
	for _, action := range []string{"device.request", "device.approve", "device.token"} {
		if len(e.events(action)) != 1 {
			t.Errorf("%d %s events", len(e.events(action)), action)
		}
	}
	if ev := e.lastEvent("device.approve"); ev.Actor != "ann@example.com" || ev.Details["host"] != "build-box (192.0.2.44)" {
		t.Errorf("approve event: %+v", ev)
	}
}

func TestDeviceDeniedAndExpired(t *testing.T) {
	e := newEnv(t, config{proxy: true})
	e.set("base_url", e.url)
	b := e.browser()
	b.signIn(ownerEmail, ownerPassword)

	denied := e.deviceCode("")
	expect(t, "deny", decide(t, b, "", denied.UserCode, false), http.StatusOK)
	if _, oe := e.poll(denied); oe != "access_denied" {
		t.Fatalf("a denied code: %q", oe)
	}

	expired := e.deviceCode("")
	e.clock.Advance(10 * time.Minute)
	if _, oe := e.poll(expired); oe != "expired_token" {
		t.Fatalf("an expired code: %q", oe)
	}
	r := b.post("/device", url.Values{"code": {expired.UserCode}})
	expect(t, "an expired code on the page", r, http.StatusNotFound)

	if _, oe := e.poll(deviceGrant{DeviceCode: "roster_dvc_unknown"}); oe != "invalid_grant" {
		t.Fatalf("an unknown code: %q", oe)
	}
	r = e.browser().post("/api/v1/device/code", url.Values{"client_id": {"someone-else"}})
	expect(t, "another client", r, http.StatusBadRequest)
}

// A code asked for in one organisation cannot be approved by a person of
// another: there it is not found (R21).
func TestDeviceOtherOrg(t *testing.T) {
	e := twoOrgs(t, config{proxy: true})
	e.set("base_url", e.url)
	g := e.deviceCode("acme")
	if g.VerificationURI != e.url+"/o/acme/device" {
		t.Fatalf("acme's verification address: %s", g.VerificationURI)
	}
	b := e.browser()
	b.signInAt("/o/globex", "ann@example.com", globexPassword)
	r := b.post("/o/globex/device", url.Values{"code": {g.UserCode}})
	expect(t, "globex's page", r, http.StatusNotFound)
	if _, oe := e.poll(g); oe != "authorization_pending" {
		t.Fatalf("after globex tried: %q", oe)
	}
	b = e.browser()
	b.signInAt("/o/acme", "ann@example.com", acmePassword)
	expect(t, "acme approves", decide(t, b, "/o/acme", g.UserCode, true), http.StatusOK)
	e.clock.Advance(10 * time.Second)
	tok, oe := e.poll(g)
	if tok == "" {
		t.Fatalf("poll: %q", oe)
	}
	svc, err := e.core.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if me, err := svc.Whoami(ctx); err != nil || me.Org != "acme" {
		t.Fatalf("the token acts in %+v, %v", me, err)
	}
	if n := len(e.eventsIn("acme", "device.token")); n != 1 {
		t.Fatalf("%d device.token events in acme", n)
	}
}
