package api_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// TestEmptyRolesRefused: PUT /users/{u}/roles with {} stripped every role
// (issue 8, low); a missing, null or empty roles is now refused and
// changes nothing.
func TestEmptyRolesRefused(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	e.createUser("ann@example.com", "member", "viewer")
	before := e.auditIDs()
	for _, body := range []string{`{}`, `{"roles": null}`, `{"roles": []}`, `{"ROLES": ["admin"], "roles": null}`} {
		d := e.fails("PUT", "/api/v1/users/ann%40example.com/roles", e.owner, body, 400, wire.CodeInvalid)
		if !strings.Contains(d.Message, "role") {
			t.Errorf("%s: message %q", body, d.Message)
		}
	}
	if u := ok[roster.User](e, "GET", "/api/v1/users/ann%40example.com", e.owner, nil); !slices.Equal(u.Roles, []string{"member", "viewer"}) {
		t.Fatalf("roles after refused sets: %v", u.Roles)
	}
	if after := e.auditIDs(); !slices.Equal(before, after) {
		t.Fatalf("a refused set wrote to the audit log")
	}
	// Field names match without regard to case, as encoding/json has it.
	if r := ok[userChange](e, "PUT", "/api/v1/users/ann%40example.com/roles", e.owner, `{"Roles": ["viewer"]}`); !slices.Equal(r.Roles, []string{"viewer"}) {
		t.Fatalf("Roles: %+v", r)
	}
}

// TestRequiredFields: on every body with a field whose zero value would be
// a request of its own, leaving the field out, or sending null, is
// refused before anything happens.
func TestRequiredFields(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	e.createUser("ann@example.com", "member")
	ok[roster.Project](e, "POST", "/api/v1/projects", e.owner, wire.CreateProject{Slug: "alpha"})
	ok[roster.ProjectResult](e, "POST", "/api/v1/projects/alpha/archive", e.owner, wire.Archive{Archived: true})
	ok[roster.SettingResult](e, "PUT", "/api/v1/settings/org.name", e.owner, wire.SetSetting{Value: "Example Ltd"})
	before := e.auditIDs()

	cases := []struct {
		method, path string
		body         any // a valid body
		required     []string
	}{
		{"POST", "/api/v1/login", wire.SignIn{Email: ownerEmail, Password: ownerPassword}, []string{"email", "password"}},
		{"POST", "/api/v1/account/password", wire.ChangePassword{Current: ownerPassword, New: userPassword}, []string{"current", "new"}},
		{"POST", "/api/v1/users", wire.CreateUser{Email: "new@example.com"}, []string{"email"}},
		{"PUT", "/api/v1/users/ann%40example.com/roles", wire.Roles{Roles: []string{"viewer"}}, []string{"roles"}},
		{"POST", "/api/v1/roles", wire.CreateRole{Name: "r", Permissions: []string{"users.view"}}, []string{"name", "permissions"}},
		{"POST", "/api/v1/permissions", wire.CreatePermission{Name: "x.view"}, []string{"name"}},
		{"PUT", "/api/v1/settings/org.name", wire.SetSetting{Value: "Other"}, []string{"value"}},
		{"POST", "/api/v1/invitations", wire.CreateInvitation{Email: "inv@example.com"}, []string{"email"}},
		{"POST", "/api/v1/invitations/accept", wire.AcceptInvitation{Token: "roster_inv_x", Password: userPassword}, []string{"token", "password"}},
		{"POST", "/api/v1/reset", wire.RedeemReset{Token: "roster_rst_x", Password: userPassword}, []string{"token", "password"}},
		{"POST", "/api/v1/projects", wire.CreateProject{Slug: "beta"}, []string{"slug"}},
		{"POST", "/api/v1/projects/alpha/archive", wire.Archive{Archived: false}, []string{"archived"}},
		{"POST", "/api/v1/projects/alpha/members", wire.Members{Users: []string{"ann@example.com"}}, []string{"users"}},
		{"POST", "/api/v1/projects/alpha/members/remove", wire.Members{Users: []string{"ann@example.com"}}, []string{"users"}},
		{"POST", "/api/v1/orgs", wire.CreateOrg{Slug: "acme", OwnerEmail: "ann@acme.example"}, []string{"slug", "owner_email"}},
		{"POST", "/api/v1/orgs/default/projects", wire.CreateProject{Slug: "beta"}, []string{"slug"}},
	}
	for _, c := range cases {
		j, err := json.Marshal(c.body)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range c.required {
			var fields map[string]any
			if err := json.Unmarshal(j, &fields); err != nil {
				t.Fatal(err)
			}
			if _, ok := fields[name]; !ok {
				t.Fatalf("%s %s: the valid body lacks %q", c.method, c.path, name)
			}
			delete(fields, name)
			missing, _ := json.Marshal(fields)
			fields[name] = nil
			null, _ := json.Marshal(fields)
			for _, body := range []string{string(missing), string(null)} {
				d := e.fails(c.method, c.path, e.owner, body, 400, wire.CodeInvalid)
				if !strings.Contains(d.Message, `"`+name+`"`) {
					t.Errorf("%s %s %s: message %q does not name the field", c.method, c.path, body, d.Message)
				}
			}
		}
	}
	if after := e.auditIDs(); !slices.Equal(before, after) {
		t.Fatalf("refused bodies wrote to the audit log")
	}
	if p := ok[roster.Project](e, "GET", "/api/v1/projects/alpha", e.owner, nil); !p.Archived {
		t.Fatalf("{} unarchived the project")
	}
	if s := ok[roster.Settings](e, "GET", "/api/v1/settings", e.owner, nil); s["org.name"] != "Example Ltd" {
		t.Fatalf("{} changed org.name to %q", s["org.name"])
	}
}
