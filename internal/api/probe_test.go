package api_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// TestNoUserProbe: without users.view, asking about someone else answers
// the same whether or not they exist, so a token cannot probe for emails
// (issue 8, low). The message may name the email asked about, and only
// that differs.
func TestNoUserProbe(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	e.createUser("ann@example.com", "member")
	ok[roster.Role](e, "POST", "/api/v1/roles", e.owner, wire.CreateRole{Name: "starter", Permissions: []string{roster.PermProjectsCreate}})
	nobody := e.createUser("zed@example.com", "starter") // without users.view
	answer := func(path, email string) (int, string) {
		t.Helper()
		resp, raw := e.request("GET", strings.ReplaceAll(path, "EMAIL", url.PathEscape(email)), nobody, nil)
		var eb wire.ErrorBody
		if err := json.Unmarshal(raw, &eb); err != nil {
			t.Fatalf("GET %s: %s: %v", path, raw, err)
		}
		shape := strings.ReplaceAll(string(raw), email, "EMAIL")
		return resp.StatusCode, shape
	}
	for _, path := range []string{"/api/v1/users/EMAIL", "/api/v1/can?user=EMAIL&permission=users.view"} {
		s1, b1 := answer(path, "ann@example.com")
		s2, b2 := answer(path, "nobody@example.com")
		if s1 != s2 || b1 != b2 {
			t.Errorf("GET %s: an existing user gets %d %s, an unknown one %d %s", path, s1, b1, s2, b2)
		}
		if s1 < 400 {
			t.Errorf("GET %s: %d without users.view", path, s1)
		}
	}
}
