package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// TestPasswordSource: a body that sets a password says which, exactly
// once: a password, or random_password. {} names none (R10; roster user
// set-password without a source is a usage error), and both leave it
// unclear which the user was to get (the command line's flags exclude
// each other). docs/openapi.yaml says the same, and the validator every
// request here passes through holds the two together.
func TestPasswordSource(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	e.createUser("ann@example.com", "member")
	path := "/api/v1/users/" + esc("ann@example.com") + "/password"
	for _, body := range []wire.SetPassword{
		{},
		{MustChangePassword: true},
		{Password: userPassword, RandomPassword: true},
	} {
		e.fails("POST", path, e.owner, body, http.StatusBadRequest, wire.CodeInvalid)
	}
	if r := ok[userChange](e, "POST", path, e.owner, wire.SetPassword{RandomPassword: true}); r.Password == "" || !r.Changed {
		t.Fatalf("random_password: %+v", r)
	}
	ok[userChange](e, "POST", path, e.owner, wire.SetPassword{Password: userPassword})

	e.fails("POST", "/api/v1/users", e.owner, wire.CreateUser{Email: "bob@example.com", Password: userPassword, RandomPassword: true},
		http.StatusBadRequest, wire.CodeInvalid)
	ok[userChange](e, "POST", "/api/v1/users", e.owner, wire.CreateUser{Email: "bob@example.com", RandomPassword: true})
}

// TestUnseenUsers: a user the caller may not see (no users.view) is
// answered as no more than the email the caller gave, not as a user with
// a status of "" made in the year 1; and a failed member outcome has an
// error and no result.
func TestUnseenUsers(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	e.createUser("ann@example.com", "member")
	ok[roster.Role](e, "POST", "/api/v1/roles", e.owner, wire.CreateRole{Name: "hr",
		Permissions: []string{roster.PermUsersCreate, roster.PermProjectsManage}})
	hr := e.createUser("hr@example.com", "hr")
	ok[roster.Project](e, "POST", "/api/v1/projects", e.owner, wire.CreateProject{Slug: "alpha"})

	resp, raw := e.request("POST", "/api/v1/users", hr, wire.CreateUser{Email: "ann@example.com", IfNotExists: true})
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(raw)) != `{"email":"ann@example.com","changed":false}` {
		t.Errorf("if_not_exists without users.view: %d %s", resp.StatusCode, raw)
	}
	resp, raw = e.request("POST", "/api/v1/projects/alpha/members", hr, wire.Members{Users: []string{"ann@example.com", "nobody@example.com"}})
	want := `[{"ref":"ann@example.com","result":{"project":"alpha","user":{"email":"ann@example.com"},"changed":true}},` +
		`{"ref":"nobody@example.com","error":{"code":"not_found",`
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(raw), want) {
		t.Errorf("members without users.view: %d %s", resp.StatusCode, raw)
	}
}
