package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/api/openapitest"
	"github.com/roster-dev/roster/internal/core"
)

// form posts a form through the document's validator, request and
// answer, and returns the status and the decoded JSON answer.
func (e *env) form(path string, values url.Values) (int, map[string]any) {
	e.t.Helper()
	v, err := openapitest.New()
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(values.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Transport: v.Transport(e.t, nil)}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// TestDeviceEndpoints: the device authorization grant as docs/openapi.yaml
// documents it, every request and answer checked against the document.
func TestDeviceEndpoints(t *testing.T) {
	e := newEnvWith(t, api.Options{}, nil, core.WithBaseURL("https://id.example.com"))
	status, g := e.form("/api/v1/device/code", url.Values{"client_id": {api.DeviceClientID}, "host": {"laptop"}, "token_ttl": {"86400"}})
	if status != http.StatusOK || g["verification_uri"] != "https://id.example.com/device" || g["expires_in"] != float64(600) {
		t.Fatalf("device code: %d %v", status, g)
	}
	poll := url.Values{"client_id": {api.DeviceClientID}, "grant_type": {api.DeviceGrantType}, "device_code": {g["device_code"].(string)}}
	if status, ans := e.form("/api/v1/device/token", poll); status != http.StatusBadRequest || ans["error"] != "authorization_pending" {
		t.Fatalf("first poll: %d %v", status, ans)
	}

	secret, err := e.core.StartSession(ctx, ownerEmail, ownerPassword)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.core.Session(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.core.DecideDevice(ctx, s, g["user_code"].(string), true); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Second)
	status, ans := e.form("/api/v1/device/token", poll)
	if status != http.StatusOK || !strings.HasPrefix(ans["access_token"].(string), "roster_pat_") || ans["expires_in"] != float64(86400) {
		t.Fatalf("poll after approval: %d %v", status, ans)
	}
	if _, err := e.core.Authenticate(ctx, ans["access_token"].(string)); err != nil {
		t.Fatalf("the token does not authenticate: %v", err)
	}
	if status, ans := e.form("/api/v1/device/token", poll); status != http.StatusBadRequest || ans["error"] != "invalid_grant" {
		t.Fatalf("a second poll: %d %v", status, ans)
	}
	if status, ans := e.form("/api/v1/device/token", url.Values{"client_id": {api.DeviceClientID}, "grant_type": {"password"}}); status != http.StatusBadRequest || ans["error"] != "unsupported_grant_type" {
		t.Fatalf("another grant type: %d %v", status, ans)
	}
}
