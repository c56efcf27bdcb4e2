package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/contract"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/storetest"
	"github.com/roster-dev/roster/internal/wire"
)

// attempt is one request aiming at a thing of another organisation:
// REF in its path or body stands for the reference, {member}, {project}
// and {role} for things of the actor's own.
type attempt struct {
	path, body string
	aim        contract.Aim
}

// wallCases are the attempts on every route, by pattern without /api/v1.
// A route missing from both wallCases and wallSkips fails the test.
var wallCases = map[string][]attempt{
	"POST /login": {{"/login", `{"email":"REF","password":"` + contract.WallPassword + `","org":"` + contract.WallHome + `"}`, contract.AimUser}},

	"GET /users": {{"/users?role=REF", "", contract.AimRole}, {"/users?project=REF", "", contract.AimProject},
		{"/users?search=REF", "", contract.AimUser}},
	"GET /users/{user}": {{"/users/REF", "", contract.AimUser}},
	"POST /users": {{"/users", `{"email":"new-a@example.com","roles":["REF"]}`, contract.AimRole},
		{"/users", `{"email":"new-a@example.com","projects":["REF"]}`, contract.AimProject}},
	"PATCH /users/{user}": {{"/users/REF", `{"name":"X"}`, contract.AimUser}},
	"PUT /users/{user}/roles": {{"/users/REF/roles", `{"roles":["member"]}`, contract.AimUser},
		{"/users/{member}/roles", `{"roles":["REF"]}`, contract.AimRole}},
	"POST /users/{user}/password":   {{"/users/REF/password", `{"password":"` + contract.WallPassword + `x"}`, contract.AimUser}},
	"POST /users/{user}/deactivate": {{"/users/REF/deactivate", `{}`, contract.AimUser}},
	"POST /users/{user}/expiry":     {{"/users/REF/expiry", `{"expires":"never"}`, contract.AimUser}},
	"POST /users/{user}/reactivate": {{"/users/REF/reactivate", "", contract.AimUser}},
	"DELETE /users/{user}":          {{"/users/REF", "", contract.AimUser}},
	"PUT /users/{user}/projects": {{"/users/REF/projects", `{"projects":["{project}"]}`, contract.AimUser},
		{"/users/{member}/projects", `{"projects":["REF"]}`, contract.AimProject}},
	"POST /users/{user}/reset-link": {{"/users/REF/reset-link", `{}`, contract.AimUser}},

	"GET /roles/{role}":    {{"/roles/REF", "", contract.AimRole}},
	"POST /roles":          {{"/roles", `{"name":"new-role","permissions":["REF"]}`, contract.AimPermission}},
	"PATCH /roles/{role}":  {{"/roles/REF", `{"description":"X"}`, contract.AimRole}, {"/roles/{role}", `{"add":["REF"]}`, contract.AimPermission}},
	"DELETE /roles/{role}": {{"/roles/REF", "", contract.AimRole}, {"/roles/{role}?reassign=REF", "", contract.AimRole}},
	"PUT /roles/{role}/holders/{user}": {{"/roles/REF/holders/{member}", "", contract.AimRole},
		{"/roles/member/holders/REF", "", contract.AimUser}},
	"DELETE /roles/{role}/holders/{user}": {{"/roles/REF/holders/{member}", "", contract.AimRole},
		{"/roles/member/holders/REF", "", contract.AimUser}},
	"POST /permissions":                {{"/permissions", `{"name":"a.new","implies":["REF"]}`, contract.AimPermission}},
	"DELETE /permissions/{permission}": {{"/permissions/REF", "", contract.AimPermission}},
	"GET /can": {{"/can?user=REF&permission=users.view", "", contract.AimUser},
		{"/can?user={member}&permission=REF", "", contract.AimPermission},
		{"/can?user={member}&permission=users.view&project=REF", "", contract.AimProject}},

	"GET /audit": {{"/audit?actor=REF", "", contract.AimUser}, {"/audit?target=REF", "", contract.AimUser}},

	"POST /invitations": {{"/invitations", `{"email":"new-a@example.com","roles":["REF"]}`, contract.AimRole},
		{"/invitations", `{"email":"new-a@example.com","projects":["REF"]}`, contract.AimProject}},
	"POST /invitations/{email}/resend": {{"/invitations/REF/resend", `{}`, contract.AimInvitation}},
	"POST /invitations/{email}/revoke": {{"/invitations/REF/revoke", "", contract.AimInvitation}},

	"GET /projects/{project}":          {{"/projects/REF", "", contract.AimProject}},
	"PATCH /projects/{project}":        {{"/projects/REF", `{"name":"X"}`, contract.AimProject}},
	"POST /projects/{project}/archive": {{"/projects/REF/archive", `{"archived":true}`, contract.AimProject}},
	"DELETE /projects/{project}":       {{"/projects/REF", "", contract.AimProject}},
	"POST /projects/{project}/members": {{"/projects/REF/members", `{"users":["{member}"]}`, contract.AimProject}, {"/projects/{project}/members", `{"users":["REF"]}`, contract.AimUser}},
	"POST /projects/{project}/members/remove": {{"/projects/REF/members/remove", `{"users":["{member}"]}`, contract.AimProject},
		{"/projects/{project}/members/remove", `{"users":["REF"]}`, contract.AimUser}},

	"POST /import": {{"/import?format=jsonl&dry_run=true", `{"email":"new-a@example.com","roles":["REF"]}`, contract.AimRole},
		{"/import?format=jsonl&dry_run=true", `{"email":"new-a@example.com","projects":["REF"]}`, contract.AimProject}},
	"POST /apply": {{"/apply?dry_run=true", `{"users":[{"email":"new-a@example.com","roles":["REF"]}]}`, contract.AimRole},
		{"/apply?dry_run=true", `{"users":[{"email":"new-a@example.com","roles":["member"],"projects":["REF"]}]}`, contract.AimProject},
		{"/apply?dry_run=true", `{"roles":[{"name":"new-role","permissions":["REF"]}]}`, contract.AimPermission}},

	"GET /tokens":              {{"/tokens?user=REF", "", contract.AimUser}},
	"POST /tokens":             {{"/tokens", `{"user":"REF","name":"t"}`, contract.AimUser}},
	"DELETE /tokens/{id}":      {{"/tokens/REF", "", contract.AimToken}},
	"POST /tokens/{id}/rotate": {{"/tokens/REF/rotate", "", contract.AimToken}},

	"POST /orgs":         {{"/orgs", `{"slug":"REF","owner_email":"o@example.com"}`, contract.AimOrg}},
	"GET /orgs/{org}":    {{"/orgs/REF", "", contract.AimOrg}},
	"PATCH /orgs/{org}":  {{"/orgs/REF", `{"name":"X"}`, contract.AimOrg}},
	"DELETE /orgs/{org}": {{"/orgs/REF?confirm=REF", "", contract.AimOrg}},
}

// wallSkips are the routes that name nothing another organisation could
// hold, each with the reason.
var wallSkips = map[string]string{
	"GET /healthz":               "the process's health: names nothing",
	"GET /readyz":                "the store's readiness: names nothing",
	"GET /metrics":               "route patterns and counts: names nothing",
	"GET /openapi.yaml":          "the document: names nothing",
	"GET /whoami":                "the caller only",
	"POST /account/password":     "the caller only",
	"GET /account/notices":       "the caller only",
	"POST /account/notices/seen": "the caller only",
	"GET /roles":                 "lists the caller's organisation: its snapshot is compared",
	"GET /permissions":           "lists the caller's organisation",
	"GET /settings":              "the caller's organisation's settings",
	"PUT /settings/{key}":        "a key names a setting of every organisation alike; the other's are compared",
	"GET /invitations":           "lists the caller's organisation",
	"GET /projects":              "lists the caller's organisation",
	"POST /projects":             "names a new project, not one of another organisation",
	"GET /export":                "the caller's organisation",
	"GET /orgs":                  "system administrators only (TestOrgs)",
	"POST /invitations/accept":   "a link's secret is its own authority and names its organisation",
	"POST /reset":                "a link's secret is its own authority and names its organisation",
	"GET /audit/stream":          "the caller's organisation's log; an id to resume after is a position, not a reference",
	"GET /audit/verify":          "the caller's organisation's log",
	"POST /audit/prune":          "the caller's organisation's log",
	"POST /device/code":          "asks for a code, naming no one (RFC 8628)",
	"POST /device/token":         "a device code is its own authority and names its organisation",
}

// TestWall: R21 for every route, actor role and kind of reference, on
// SQLite. Each role has a store of its own and runs in parallel.
func TestWall(t *testing.T) {
	testWall(t, storetest.SQLite)
}

// TestWallPostgres is TestWall on PostgreSQL (ROSTER_TEST_POSTGRES).
func TestWallPostgres(t *testing.T) {
	testWall(t, storetest.Postgres)
}

func testWall(t *testing.T, open func(*testing.T) store.Admin) {
	var covered []string
	for _, p := range api.Patterns() {
		method, path, _ := strings.Cut(p, " ")
		if strings.HasPrefix(path, wire.OrgsPrefix+"/") {
			continue // the same routes again, run under each prefix below
		}
		key := method + " " + strings.TrimPrefix(path, wire.Prefix)
		_, skip := wallSkips[key]
		if _, ok := wallCases[key]; !ok && !skip {
			t.Errorf("route %s: no case in wallCases and no reason in wallSkips", p)
		}
		covered = append(covered, key)
	}
	for key := range wallCases {
		if !slices.Contains(covered, key) {
			t.Errorf("wallCases has %s, which is no route", key)
		}
	}
	if t.Failed() {
		return
	}
	for _, role := range contract.WallRoles {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			e := newEnvOn(t, db, api.Options{}, nil)
			w := contract.BuildWall(t, e.admin(), func(org string) roster.Service {
				return e.core.As(core.Actor{Name: "local:test", Org: org})
			})
			home := e.core.As(core.Actor{Name: "local:test", Org: contract.WallHome})
			tok, err := home.CreateToken(ctx, roster.CreateToken{User: w.Actors[role], Name: "wall"})
			if err != nil {
				t.Fatal(err)
			}
			other := e.core.As(core.Actor{Name: "local:test", Org: contract.WallOther})
			before := contract.Snapshot(t, other)
			e.on(t).aimAll(w, tok.Token)
			if after := contract.Snapshot(t, other); !bytes.Equal(before, after) {
				t.Errorf("R21: organisation %s changed:\nbefore %s\nafter  %s", contract.WallOther, before, after)
			}
		})
	}
}

// aimAll makes every attempt as token's holder: on the routes as they
// are, under the caller's own organisation's prefix, and, with every
// reference another organisation's, under that organisation's prefix
// against one that does not exist.
func (e *env) aimAll(w contract.Wall, token string) {
	e.t.Helper()
	fixed := strings.NewReplacer("{member}", w.Member, "{project}", w.Project, "{role}", w.CustomRole)
	for key, attempts := range wallCases {
		method, _, _ := strings.Cut(key, " ")
		orgRoute := strings.HasPrefix(key, method+" /orgs")
		for _, a := range attempts {
			path, body := fixed.Replace(a.path), fixed.Replace(a.body)
			for _, ref := range w.Refs[a.aim] {
				prefixes := []string{wire.Prefix}
				if !orgRoute && key != "POST /login" {
					prefixes = append(prefixes, orgPath(contract.WallHome))
				}
				for _, prefix := range prefixes {
					e.same(method, token, ref.Shape, prefix+path, body, ref.Other, ref.None)
				}
			}
			if orgRoute || key == "POST /login" {
				continue
			}
			// The whole attempt behind the other organisation's prefix.
			other := w.Refs[a.aim][0].Other
			scoped := strings.ReplaceAll(path, "REF", other)
			sbody := strings.ReplaceAll(body, "REF", other)
			e.same(method, token, "organisation", orgPath("REF")+scoped, sbody, contract.WallOther, contract.WallNone)
		}
	}
}

// orgPath is the prefix of the routes acting in the organisation slug.
func orgPath(slug string) string { return strings.Replace(wire.OrgsPrefix, "{org}", slug, 1) }

// same asks method path with REF the other organisation's reference and
// then the made-up one, and fails unless both answer alike.
func (e *env) same(method, token, shape, path, body, other, none string) {
	e.t.Helper()
	status, got := e.answer(method, strings.ReplaceAll(path, "REF", other), token, strings.ReplaceAll(body, "REF", other), other)
	wantStatus, want := e.answer(method, strings.ReplaceAll(path, "REF", none), token, strings.ReplaceAll(body, "REF", none), none)
	if status != wantStatus || got != want {
		e.t.Errorf("R21: %s %s by %s: another organisation's thing answers\n\t%d %s\nwhere none answers\n\t%d %s",
			method, path, shape, status, got, wantStatus, want)
	}
}

// answer is a request's status and body, ref written REF in an error's
// message and hint, and wherever it stands alone in an answer that
// succeeded.
func (e *env) answer(method, path, token, body, ref string) (int, string) {
	e.t.Helper()
	var b any
	if body != "" {
		b = body
	}
	resp, raw := e.request(method, path, token, b)
	if resp.StatusCode == http.StatusOK {
		// Outcomes of several targets name each, as it was given.
		return resp.StatusCode, contract.Masked(string(raw), ref)
	}
	var eb wire.ErrorBody
	if err := json.Unmarshal(raw, &eb); err != nil {
		e.t.Fatalf("%s %s: error body %s: %v", method, path, raw, err)
	}
	eb.Error.Message = strings.ReplaceAll(eb.Error.Message, ref, "REF")
	eb.Error.Hint = strings.ReplaceAll(eb.Error.Hint, ref, "REF")
	for i := range eb.Error.Lines {
		eb.Error.Lines[i].Message = strings.ReplaceAll(eb.Error.Lines[i].Message, ref, "REF")
	}
	out, err := json.Marshal(eb)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(out)
}
