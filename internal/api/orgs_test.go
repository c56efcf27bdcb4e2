package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// orgResult is roster.OrgResult as the API answers it.
type orgResult struct {
	Org        roster.Org         `json:"org"`
	Changed    bool               `json:"changed"`
	Owner      *roster.User       `json:"owner"`
	Password   string             `json:"password"`
	Invitation *roster.Invitation `json:"invitation"`
	Deleted    map[string]int     `json:"deleted"`
}

// TestOrgs: a system administrator (the first owner) manages
// organisations and acts in one under /api/v1/orgs/{org}/; sign-in takes
// the organisation; an organisation's own people meet a wall around
// every other (R21); a suspended one refuses its tokens and sign-in.
func TestOrgs(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	sys := e.owner

	res := ok[orgResult](e, "POST", "/api/v1/orgs", sys, wire.CreateOrg{Slug: "acme", Name: "Acme Ltd",
		OwnerEmail: "ann@example.com", Password: userPassword})
	if !res.Changed || res.Org.Slug != "acme" || res.Org.Name != "Acme Ltd" || res.Owner == nil || res.Owner.Email != "ann@example.com" || res.Password != "" {
		t.Fatalf("created %+v", res)
	}
	if again := ok[orgResult](e, "POST", "/api/v1/orgs", sys, wire.CreateOrg{Slug: "acme", OwnerEmail: "ann@example.com", IfNotExists: true}); again.Changed {
		t.Fatalf("if_not_exists: %+v", again)
	}
	e.fails("POST", "/api/v1/orgs", sys, wire.CreateOrg{Slug: "acme", OwnerEmail: "ann@example.com"}, http.StatusConflict, wire.CodeConflict)
	e.fails("POST", "/api/v1/orgs", sys, wire.CreateOrg{Slug: "beta", OwnerEmail: "x@example.com", RandomPassword: true, Invite: true},
		http.StatusBadRequest, wire.CodeInvalid)
	orgs := ok[[]roster.Org](e, "GET", "/api/v1/orgs", sys, nil)
	if len(orgs) != 2 || !slices.ContainsFunc(orgs, func(o roster.Org) bool { return o.Slug == "acme" && o.Users == 1 }) {
		t.Fatalf("orgs: %+v", orgs)
	}
	if o := ok[roster.Org](e, "GET", "/api/v1/orgs/acme", sys, nil); o.Status != roster.OrgActive || o.System {
		t.Fatalf("acme: %+v", o)
	}
	e.fails("GET", "/api/v1/orgs/nosuch", sys, nil, http.StatusNotFound, wire.CodeNotFound)

	// The same email in two organisations: two accounts, each signed in to
	// by naming its organisation.
	mine := ok[userChange](e, "POST", "/api/v1/orgs/acme/users", sys, wire.CreateUser{Email: ownerEmail, Name: "Acme's", Password: userPassword})
	if home := ok[roster.User](e, "GET", "/api/v1/users/"+esc(ownerEmail), sys, nil); home.ID == mine.ID || home.Name == "Acme's" {
		t.Fatalf("the system organisation's %+v is acme's %+v", home, mine)
	}
	if u := ok[roster.User](e, "GET", "/api/v1/orgs/acme/users/"+esc(ownerEmail), sys, nil); u.ID != mine.ID {
		t.Fatalf("acme's owner@: %+v, want %+v", u, mine)
	}
	ann := ok[roster.APIToken](e, "POST", "/api/v1/login", "", wire.SignIn{Email: "ann@example.com", Password: userPassword, Org: "acme"}).Token
	if p := ok[roster.Principal](e, "GET", "/api/v1/whoami", ann, nil); p.Org != "acme" || p.Name != "ann@example.com" {
		t.Fatalf("ann: %+v", p)
	}
	e.fails("POST", "/api/v1/login", "", wire.SignIn{Email: "ann@example.com", Password: userPassword}, http.StatusUnauthorized, wire.CodeUnauthenticated)
	e.fails("POST", "/api/v1/login", "", wire.SignIn{Email: "ann@example.com", Password: userPassword, Org: "nosuch"}, http.StatusNotFound, wire.CodeNotFound)

	// R21: to ann, every other organisation is not found, by name or prefix.
	for _, path := range []string{"/api/v1/orgs/default", "/api/v1/orgs/default/users", "/api/v1/orgs/default/users/" + esc(ownerEmail),
		"/api/v1/orgs/nosuch/users"} {
		e.fails("GET", path, ann, nil, http.StatusNotFound, wire.CodeNotFound)
	}
	e.fails("GET", "/api/v1/orgs", ann, nil, http.StatusForbidden, wire.CodeForbidden)
	e.fails("POST", "/api/v1/orgs", ann, wire.CreateOrg{Slug: "evil", OwnerEmail: "e@example.com"}, http.StatusForbidden, wire.CodeForbidden)
	if page := ok[wire.Page[roster.User]](e, "GET", "/api/v1/orgs/acme/users", ann, nil); len(page.Items) != 2 {
		t.Fatalf("ann's own organisation by its prefix: %+v", page)
	}

	// Suspended: its tokens and sign-in stop at once; resumed, they work.
	suspend, resume := true, false
	if r := ok[orgResult](e, "PATCH", "/api/v1/orgs/acme", sys, wire.UpdateOrg{Suspended: &suspend}); !r.Changed || r.Org.Status != roster.OrgSuspended {
		t.Fatalf("suspended: %+v", r)
	}
	e.fails("GET", "/api/v1/whoami", ann, nil, http.StatusUnauthorized, wire.CodeUnauthenticated)
	e.fails("POST", "/api/v1/login", "", wire.SignIn{Email: "ann@example.com", Password: userPassword, Org: "acme"}, http.StatusUnauthorized, wire.CodeUnauthenticated)
	ok[orgResult](e, "PATCH", "/api/v1/orgs/acme", sys, wire.UpdateOrg{Suspended: &resume})
	ok[roster.Principal](e, "GET", "/api/v1/whoami", ann, nil)

	// Deleting repeats the slug, in the query or the body.
	e.fails("DELETE", "/api/v1/orgs/acme", sys, nil, http.StatusBadRequest, wire.CodeInvalid)
	e.fails("DELETE", "/api/v1/orgs/acme?confirm=other", sys, nil, http.StatusBadRequest, wire.CodeInvalid)
	e.fails("DELETE", "/api/v1/orgs/default?confirm=default", sys, nil, http.StatusForbidden, wire.CodeForbidden)
	if r := ok[orgResult](e, "DELETE", "/api/v1/orgs/acme", sys, wire.DeleteOrg{Confirm: "acme"}); r.Org.Slug != "acme" || r.Deleted["users"] != 2 {
		t.Fatalf("deleted %+v", r)
	}
	e.fails("GET", "/api/v1/orgs/acme", sys, nil, http.StatusNotFound, wire.CodeNotFound)
	ok[orgResult](e, "POST", "/api/v1/orgs", sys, wire.CreateOrg{Slug: "beta", OwnerEmail: "b@example.com"})
	ok[orgResult](e, "DELETE", "/api/v1/orgs/beta?confirm=beta", sys, nil)
}

// TestOrgPrefixWall: every route under /api/v1/orgs/{org}/, asked by the
// owner of one organisation in another, answers exactly as it does for
// an organisation that does not exist, and changes nothing there (R21).
func TestOrgPrefixWall(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	// The system organisation holds a thing of each kind a path names.
	ok[roster.Project](e, "POST", "/api/v1/projects", e.owner, wire.CreateProject{Slug: "alpha"})
	ok[roster.Permission](e, "POST", "/api/v1/permissions", e.owner, wire.CreatePermission{Name: "app.view"})
	ok[roster.Invitation](e, "POST", "/api/v1/invitations", e.owner, wire.CreateInvitation{Email: "ivy@example.com"})
	tokens := ok[[]roster.APIToken](e, "GET", "/api/v1/tokens", e.owner, nil)
	ok[orgResult](e, "POST", "/api/v1/orgs", e.owner, wire.CreateOrg{Slug: "acme", OwnerEmail: "ann@example.com", Password: userPassword})
	ann := ok[roster.APIToken](e, "POST", "/api/v1/login", "", wire.SignIn{Email: "ann@example.com", Password: userPassword, Org: "acme"}).Token
	before := e.auditIDs()
	users, err := e.admin().ListUsers(ctx, roster.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}

	params := strings.NewReplacer("{user}", esc(ownerEmail), "{role}", roster.RoleAdmin, "{project}", "alpha",
		"{permission}", "app.view", "{email}", esc("ivy@example.com"), "{id}", strconv.FormatInt(tokens[0].ID, 10), "{key}", "seats")
	answer := func(method, path string, body any) (int, wire.ErrorDetail) {
		resp, raw := e.request(method, path, ann, body)
		var eb wire.ErrorBody
		if resp.StatusCode == http.StatusOK || json.Unmarshal(raw, &eb) != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return resp.StatusCode, eb.Error
	}
	n := 0
	for _, p := range api.Patterns() {
		method, path, _ := strings.Cut(p, " ")
		rest, scoped := strings.CutPrefix(path, wire.OrgsPrefix)
		if !scoped {
			continue
		}
		n++
		var body any
		if method != http.MethodGet && method != http.MethodDelete {
			body = "{}"
		}
		status, got := answer(method, "/api/v1/orgs/default"+params.Replace(rest), body)
		wantStatus, want := answer(method, "/api/v1/orgs/nosuch"+params.Replace(rest), body)
		got.Message = strings.ReplaceAll(got.Message, "default", "nosuch")
		got.Hint = strings.ReplaceAll(got.Hint, "default", "nosuch")
		if status != wantStatus || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: another organisation answers %d %+v, none %d %+v", p, status, got, wantStatus, want)
		}
	}
	if n < 30 {
		t.Fatalf("only %d organisation-scoped routes", n)
	}
	if after := e.auditIDs(); !slices.Equal(before, after) {
		t.Errorf("the audit log changed")
	}
	if now, err := e.admin().ListUsers(ctx, roster.UserFilter{}); err != nil || !reflect.DeepEqual(now, users) {
		t.Errorf("the users changed: %v", err)
	}
}
