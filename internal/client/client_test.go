package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

var ctx = context.Background()

// tok is the token every test client sends; no error may show it.
const tok = "roster_pat_secret-test-token"

// request is what the fake server saw of one request.
type request struct {
	method, path, query, auth, contentType string
	body                                   []byte
}

// fake is a roster server stand-in: it answers every request with one
// canned response and records the last request.
type fake struct {
	srv    *httptest.Server
	status int
	header map[string]string
	body   string

	mu   sync.Mutex // the handler runs on the server's goroutines
	got  *request
	hits int
}

// newFake starts a fake answering status and body, with header (nil:
// JSON's content type).
func newFake(t *testing.T, status int, body string, header map[string]string) *fake {
	t.Helper()
	if header == nil {
		header = map[string]string{"Content-Type": "application/json"}
	}
	f := &fake{status: status, body: body, header: header}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = &request{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery,
			auth: r.Header.Get("Authorization"), contentType: r.Header.Get("Content-Type"), body: b}
		f.hits++
		f.mu.Unlock()
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

func (f *fake) last(t *testing.T) request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.got == nil {
		t.Fatal("the server got no request")
	}
	return *f.got
}

// client is a Client of f with the test token.
func (f *fake) client(t *testing.T) *Client {
	t.Helper()
	c, err := New(f.srv.URL, Options{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sameJSON(t *testing.T, got []byte, want string) bool {
	t.Helper()
	if want == "" {
		return len(got) == 0
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func ptr[T any](v T) *T { return &v }

// TestRoutes calls every method of roster.Service (but Init, which has no
// endpoint) and the unauthenticated helpers, and checks the request each
// makes and the result it decodes.
func TestRoutes(t *testing.T) {
	const ref = "okta:ann@corp/x y?#%" // every character that must be escaped
	const eref = "okta:ann@corp%2Fx%20y%3F%23%25"
	user := `{"id":3,"email":"ann@example.com","roles":["member"]}`
	ann := roster.User{ID: 3, Email: "ann@example.com", Roles: []string{"member"}}
	changed := `{"id":3,"email":"ann@example.com","roles":["member"],"changed":true,"password":"generated"}`
	annChanged := roster.UserResult{User: ann, Changed: true, Password: "generated"}
	since := time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600))
	until := time.Date(2026, 1, 3, 3, 4, 5, 500, time.UTC)

	cases := []struct {
		name   string
		call   func(*Client) (any, error)
		method string
		path   string // escaped, after /api/v1
		query  string
		body   string // JSON; "" for none
		anon   bool   // sent without the token
		resp   string
		want   any // nil: not checked
	}{
		{name: "Whoami", call: func(c *Client) (any, error) { return c.Whoami(ctx) },
			method: "GET", path: "/whoami",
			resp: `{"user":null,"name":"owner@example.com","via":"token:1","permissions":["users.view"]}`,
			want: roster.Principal{Name: "owner@example.com", Via: "token:1", Permissions: []string{"users.view"}}},
		{name: "ChangePassword", call: func(c *Client) (any, error) {
			return c.ChangePassword(ctx, roster.ChangePassword{Current: "old pw", New: "new pw"})
		},
			method: "POST", path: "/account/password", body: `{"current":"old pw","new":"new pw"}`, resp: user, want: ann},
		{name: "ListUsers", call: func(c *Client) (any, error) {
			return c.ListUsers(ctx, roster.UserFilter{Status: roster.StatusActive, Role: "r", Project: "p", Search: "é x", Limit: 3, After: "c&d"})
		},
			method: "GET", path: "/users", query: "after=c%26d&limit=3&project=p&role=r&search=%C3%A9+x&status=active",
			resp: `{"items":[` + user + `],"next":"n"}`, want: roster.Page[roster.User]{Items: []roster.User{ann}, Next: "n"}},
		{name: "ListUsers unfiltered", call: func(c *Client) (any, error) { return c.ListUsers(ctx, roster.UserFilter{}) },
			method: "GET", path: "/users", resp: `{"items":[],"next":""}`, want: roster.Page[roster.User]{Items: []roster.User{}}},
		{name: "GetUser", call: func(c *Client) (any, error) { return c.GetUser(ctx, ref) },
			method: "GET", path: "/users/" + eref, resp: user, want: ann},
		{name: "CreateUser", call: func(c *Client) (any, error) {
			return c.CreateUser(ctx, roster.CreateUser{Email: "ann@example.com", Name: "Ann", Username: "ann",
				Roles: []string{"member"}, Projects: []string{"alpha"}, Links: map[string]string{"github": "ann"},
				Password: "pw", MustChangePassword: true, IfNotExists: true})
		},
			method: "POST", path: "/users",
			body: `{"email":"ann@example.com","name":"Ann","username":"ann","roles":["member"],"projects":["alpha"],
				"links":{"github":"ann"},"password":"pw","must_change_password":true,"if_not_exists":true}`,
			resp: changed, want: annChanged},
		{name: "UpdateUser", call: func(c *Client) (any, error) {
			return c.UpdateUser(ctx, ref, roster.UpdateUser{Name: ptr("Ann"), Username: ptr(""), Unlink: []string{"github"}})
		},
			method: "PATCH", path: "/users/" + eref, body: `{"name":"Ann","username":"","unlink":["github"]}`,
			resp: changed, want: annChanged},
		{name: "SetRoles to none", call: func(c *Client) (any, error) { return c.SetRoles(ctx, ref, nil) },
			method: "PUT", path: "/users/" + eref + "/roles", body: `{"roles":[]}`, resp: changed, want: annChanged},
		{name: "SetPassword", call: func(c *Client) (any, error) {
			return c.SetPassword(ctx, ref, roster.SetPassword{RandomPassword: true, RevokeSessions: true})
		},
			method: "POST", path: "/users/" + eref + "/password", body: `{"random_password":true,"revoke_sessions":true}`,
			resp: changed, want: annChanged},
		{name: "DeactivateUser", call: func(c *Client) (any, error) { return c.DeactivateUser(ctx, ref, "left") },
			method: "POST", path: "/users/" + eref + "/deactivate", body: `{"reason":"left"}`, resp: changed, want: annChanged},
		{name: "ReactivateUser", call: func(c *Client) (any, error) { return c.ReactivateUser(ctx, ref) },
			method: "POST", path: "/users/" + eref + "/reactivate", resp: `{"email":"ann@example.com","changed":false}`,
			want: roster.UserResult{User: roster.User{Email: "ann@example.com"}}},
		{name: "DeleteUser", call: func(c *Client) (any, error) { return c.DeleteUser(ctx, ref) },
			method: "DELETE", path: "/users/" + eref, resp: user, want: ann},
		{name: "CreateResetLink", call: func(c *Client) (any, error) { return c.CreateResetLink(ctx, ref, 90*time.Minute, true) },
			method: "POST", path: "/users/" + eref + "/reset-link", body: `{"ttl_seconds":5400,"send":true}`,
			resp: `{"email":"ann@example.com","sent":true}`, want: roster.ResetLink{Email: "ann@example.com", Sent: true}},
		{name: "ListRoles", call: func(c *Client) (any, error) { return c.ListRoles(ctx) },
			method: "GET", path: "/roles", resp: `[{"name":"ops","holders":2}]`, want: []roster.Role{{Name: "ops", Holders: 2}}},
		{name: "GetRole", call: func(c *Client) (any, error) { return c.GetRole(ctx, "o/ps") },
			method: "GET", path: "/roles/o%2Fps", resp: `{"name":"ops"}`, want: roster.Role{Name: "ops"}},
		{name: "CreateRole without permissions", call: func(c *Client) (any, error) { return c.CreateRole(ctx, roster.CreateRole{Name: "ops"}) },
			method: "POST", path: "/roles", body: `{"name":"ops","permissions":[]}`, resp: `{"name":"ops"}`, want: roster.Role{Name: "ops"}},
		{name: "UpdateRole", call: func(c *Client) (any, error) {
			return c.UpdateRole(ctx, "ops", roster.UpdateRole{Description: ptr("d"), Add: []string{"a"}, Remove: []string{"b"}})
		},
			method: "PATCH", path: "/roles/ops", body: `{"description":"d","add":["a"],"remove":["b"]}`,
			resp: `{"role":{"name":"ops"},"changed":true}`, want: roster.RoleResult{Role: roster.Role{Name: "ops"}, Changed: true}},
		{name: "DeleteRole", call: func(c *Client) (any, error) { return c.DeleteRole(ctx, "ops", "viewer") },
			method: "DELETE", path: "/roles/ops", query: "reassign=viewer", resp: `{"name":"ops"}`, want: roster.Role{Name: "ops"}},
		{name: "AssignRole", call: func(c *Client) (any, error) { return c.AssignRole(ctx, "ops", ref) },
			method: "PUT", path: "/roles/ops/holders/" + eref, resp: changed, want: annChanged},
		{name: "UnassignRole", call: func(c *Client) (any, error) { return c.UnassignRole(ctx, "ops", ref) },
			method: "DELETE", path: "/roles/ops/holders/" + eref, resp: changed, want: annChanged},
		{name: "ListPermissions", call: func(c *Client) (any, error) { return c.ListPermissions(ctx) },
			method: "GET", path: "/permissions", resp: `[{"name":"x.y","implies":["x.z"]}]`,
			want: []roster.Permission{{Name: "x.y", Implies: []string{"x.z"}}}},
		{name: "CreatePermission", call: func(c *Client) (any, error) {
			return c.CreatePermission(ctx, roster.CreatePermission{Name: "x.y", Description: "d", Implies: []string{"x.z"}})
		},
			method: "POST", path: "/permissions", body: `{"name":"x.y","description":"d","implies":["x.z"]}`,
			resp: `{"name":"x.y"}`, want: roster.Permission{Name: "x.y"}},
		{name: "DeletePermission", call: func(c *Client) (any, error) { return c.DeletePermission(ctx, "x.y") },
			method: "DELETE", path: "/permissions/x.y", resp: `{"name":"x.y"}`, want: roster.Permission{Name: "x.y"}},
		{name: "Can", call: func(c *Client) (any, error) { return c.Can(ctx, "ann@example.com", "x.y", "") },
			method: "GET", path: "/can", query: "permission=x.y&user=ann%40example.com",
			resp: `{"user":"ann@example.com","permission":"x.y","allowed":true,"granted_by":["ops"]}`,
			want: roster.Decision{User: "ann@example.com", Permission: "x.y", Allowed: true, GrantedBy: []string{"ops"}}},
		{name: "ListAudit", call: func(c *Client) (any, error) {
			return c.ListAudit(ctx, roster.AuditFilter{Since: since, Until: until, Actor: "a", Action: "user.create", Target: "t", Limit: 5})
		},
			method: "GET", path: "/audit",
			query: "action=user.create&actor=a&limit=5&since=2026-01-02T03%3A04%3A05Z&target=t&until=2026-01-03T03%3A04%3A05.0000005Z",
			resp:  `[{"id":1,"action":"user.create","details":{"n":1}}]`,
			want:  []roster.AuditEvent{{ID: 1, Action: "user.create", Details: map[string]any{"n": 1.0}}}},
		{name: "ListAudit unfiltered", call: func(c *Client) (any, error) { return c.ListAudit(ctx, roster.AuditFilter{}) },
			method: "GET", path: "/audit", resp: `[]`, want: []roster.AuditEvent{}},
		{name: "GetSettings", call: func(c *Client) (any, error) { return c.GetSettings(ctx) },
			method: "GET", path: "/settings", resp: `{"seats":"0"}`, want: roster.Settings{"seats": "0"}},
		{name: "SetSetting", call: func(c *Client) (any, error) { return c.SetSetting(ctx, "seats", "2") },
			method: "PUT", path: "/settings/seats", body: `{"value":"2"}`,
			resp: `{"key":"seats","value":"2","changed":true}`, want: roster.SettingResult{Key: "seats", Value: "2", Changed: true}},
		{name: "ListInvitations", call: func(c *Client) (any, error) { return c.ListInvitations(ctx, roster.InvitePending) },
			method: "GET", path: "/invitations", query: "status=pending", resp: `[{"email":"ann@example.com","status":"pending"}]`,
			want: []roster.Invitation{{Email: "ann@example.com", Status: roster.InvitePending}}},
		{name: "CreateInvitation", call: func(c *Client) (any, error) {
			// A fraction of a second rounds up: it must not become 0, "the default".
			return c.CreateInvitation(ctx, roster.CreateInvitation{Email: "ann@example.com", Name: "Ann",
				Roles: []string{"member"}, Projects: []string{"alpha"}, TTL: 90*time.Second + time.Nanosecond, Send: true})
		},
			method: "POST", path: "/invitations",
			body: `{"email":"ann@example.com","name":"Ann","roles":["member"],"projects":["alpha"],"ttl_seconds":91,"send":true}`,
			resp: `{"email":"ann@example.com","token":"roster_inv_x"}`, want: roster.Invitation{Email: "ann@example.com", Token: "roster_inv_x"}},
		{name: "ResendInvitation with the default lifetime", call: func(c *Client) (any, error) { return c.ResendInvitation(ctx, "a/b@example.com", 0, false) },
			method: "POST", path: "/invitations/a%2Fb@example.com/resend", body: `{}`,
			resp: `{"email":"a/b@example.com"}`, want: roster.Invitation{Email: "a/b@example.com"}},
		{name: "RevokeInvitation", call: func(c *Client) (any, error) { return c.RevokeInvitation(ctx, "ann@example.com") },
			method: "POST", path: "/invitations/ann@example.com/revoke",
			resp: `{"invitation":{"email":"ann@example.com","status":"revoked"},"changed":true}`,
			want: roster.InvitationResult{Invitation: roster.Invitation{Email: "ann@example.com", Status: roster.InviteRevoked}, Changed: true}},
		{name: "AcceptInvitation", call: func(c *Client) (any, error) {
			return c.AcceptInvitation(ctx, roster.AcceptInvitation{Token: "roster_inv_x", Name: "Ann", Username: "ann", Password: "pw"})
		},
			method: "POST", path: "/invitations/accept", anon: true,
			body: `{"token":"roster_inv_x","name":"Ann","username":"ann","password":"pw"}`, resp: user, want: ann},
		{name: "RedeemResetLink", call: func(c *Client) (any, error) { return c.RedeemResetLink(ctx, "roster_rst_x", "pw") },
			method: "POST", path: "/reset", anon: true, body: `{"token":"roster_rst_x","password":"pw"}`, resp: user, want: ann},
		{name: "ListProjects", call: func(c *Client) (any, error) { return c.ListProjects(ctx) },
			method: "GET", path: "/projects", resp: `[{"slug":"alpha","members":1}]`, want: []roster.Project{{Slug: "alpha", Members: 1}}},
		{name: "GetProject", call: func(c *Client) (any, error) { return c.GetProject(ctx, "al pha") },
			method: "GET", path: "/projects/al%20pha", resp: `{"slug":"alpha"}`, want: roster.Project{Slug: "alpha"}},
		{name: "CreateProject", call: func(c *Client) (any, error) {
			return c.CreateProject(ctx, roster.CreateProject{Slug: "alpha", Name: "Alpha"})
		},
			method: "POST", path: "/projects", body: `{"slug":"alpha","name":"Alpha"}`, resp: `{"slug":"alpha"}`, want: roster.Project{Slug: "alpha"}},
		{name: "UpdateProject", call: func(c *Client) (any, error) {
			return c.UpdateProject(ctx, "alpha", roster.UpdateProject{Slug: ptr("beta")})
		},
			method: "PATCH", path: "/projects/alpha", body: `{"slug":"beta"}`,
			resp: `{"project":{"slug":"beta"},"changed":true}`, want: roster.ProjectResult{Project: roster.Project{Slug: "beta"}, Changed: true}},
		{name: "ArchiveProject off", call: func(c *Client) (any, error) { return c.ArchiveProject(ctx, "alpha", false) },
			method: "POST", path: "/projects/alpha/archive", body: `{"archived":false}`,
			resp: `{"project":{"slug":"alpha"},"changed":false}`, want: roster.ProjectResult{Project: roster.Project{Slug: "alpha"}}},
		{name: "DeleteProject", call: func(c *Client) (any, error) { return c.DeleteProject(ctx, "alpha") },
			method: "DELETE", path: "/projects/alpha", resp: `{"slug":"alpha","members":2}`, want: roster.Project{Slug: "alpha", Members: 2}},
		{name: "AddMembers", call: func(c *Client) (any, error) { return c.AddMembers(ctx, "alpha", []string{ref}) },
			method: "POST", path: "/projects/alpha/members", body: `{"users":["` + ref + `"]}`,
			resp: `[{"ref":"x","result":{"project":"alpha","user":` + user + `,"changed":true}}]`,
			want: []roster.MemberOutcome{{Ref: "x", Result: roster.MemberResult{Project: "alpha", User: ann, Changed: true}}}},
		{name: "RemoveMembers", call: func(c *Client) (any, error) { return c.RemoveMembers(ctx, "alpha", []string{"x"}) },
			method: "POST", path: "/projects/alpha/members/remove", body: `{"users":["x"]}`, resp: `[]`, want: []roster.MemberOutcome{}},
		{name: "CreateToken", call: func(c *Client) (any, error) {
			return c.CreateToken(ctx, roster.CreateToken{User: "ann@example.com", Name: "ci", TTL: time.Hour})
		},
			method: "POST", path: "/tokens", body: `{"user":"ann@example.com","name":"ci","ttl_seconds":3600}`,
			resp: `{"id":7,"user":"ann@example.com","token":"roster_pat_new"}`,
			want: roster.APIToken{ID: 7, User: "ann@example.com", Token: "roster_pat_new"}},
		{name: "ListTokens", call: func(c *Client) (any, error) { return c.ListTokens(ctx, roster.TokenFilter{User: "ann@example.com"}) },
			method: "GET", path: "/tokens", query: "user=ann%40example.com", resp: `[{"id":7}]`, want: []roster.APIToken{{ID: 7}}},
		{name: "RevokeToken", call: func(c *Client) (any, error) { return c.RevokeToken(ctx, 7) },
			method: "DELETE", path: "/tokens/7", resp: `{"token":{"id":7,"revoked":true},"changed":true}`,
			want: roster.TokenResult{Token: roster.APIToken{ID: 7, Revoked: true}, Changed: true}},
		{name: "RotateToken", call: func(c *Client) (any, error) { return c.RotateToken(ctx, roster.RotateToken{ID: 7}) },
			method: "POST", path: "/tokens/7/rotate", resp: `{"id":7,"token":"roster_pat_new"}`,
			want: roster.APIToken{ID: 7, Token: "roster_pat_new"}},
		{name: "SignIn", call: func(c *Client) (any, error) { return c.SignIn(ctx, "ann@example.com", "pw", "laptop") },
			method: "POST", path: "/login", anon: true, body: `{"email":"ann@example.com","password":"pw","name":"laptop"}`,
			resp: `{"id":8,"token":"roster_pat_new"}`, want: roster.APIToken{ID: 8, Token: "roster_pat_new"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, http.StatusOK, tc.resp, nil)
			got, err := tc.call(f.client(t))
			if err != nil {
				t.Fatal(err)
			}
			r := f.last(t)
			if r.method != tc.method || r.path != "/api/v1"+tc.path || r.query != tc.query {
				t.Errorf("request %s %s?%s; want %s /api/v1%s?%s", r.method, r.path, r.query, tc.method, tc.path, tc.query)
			}
			if !sameJSON(t, r.body, tc.body) {
				t.Errorf("body %s; want %s", r.body, tc.body)
			}
			if tc.body != "" && r.contentType != "application/json" {
				t.Errorf("content type %q", r.contentType)
			}
			wantAuth := "Bearer " + tok
			if tc.anon {
				wantAuth = ""
			}
			if r.auth != wantAuth {
				t.Errorf("Authorization %q; want %q", r.auth, wantAuth)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("result %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestErrorCodes: each error body comes back as its domain error, with the
// server's message and hint, so the CLI exits as it does locally.
func TestErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		kind   error // nil: none of the sentinels
	}{
		{400, "invalid", roster.ErrInvalid},
		{401, "unauthenticated", roster.ErrUnauthenticated},
		{403, "forbidden", roster.ErrForbidden},
		{404, "not_found", roster.ErrNotFound},
		{405, "invalid", roster.ErrInvalid},
		{409, "conflict", roster.ErrConflict},
		{413, "too_large", roster.ErrInvalid},
		{429, "rate_limited", roster.ErrUnavailable},
		{503, "unavailable", roster.ErrUnavailable},
		{500, "internal", nil},
	} {
		t.Run(tc.code, func(t *testing.T) {
			f := newFake(t, tc.status, `{"error":{"code":"`+tc.code+`","message":"it went wrong","hint":"do this"}}`, nil)
			_, err := f.client(t).GetUser(ctx, "ann@example.com")
			checkKind(t, err, tc.kind)
			if err.Error() != "it went wrong" || roster.Hint(err) != "do this" {
				t.Errorf("message %q, hint %q", err, roster.Hint(err))
			}
		})
	}
}

var sentinels = []error{roster.ErrInvalid, roster.ErrNotFound, roster.ErrConflict,
	roster.ErrForbidden, roster.ErrUnauthenticated, roster.ErrUnavailable}

// checkKind checks that err is of kind, or of no sentinel kind when kind
// is nil, and that it does not tell the token.
func checkKind(t *testing.T, err, kind error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range sentinels {
		if errors.Is(err, s) != (s == kind) {
			t.Errorf("%v: errors.Is(%v) = %v", err, s, !(s == kind))
		}
	}
	if strings.Contains(err.Error()+roster.Hint(err), tok) {
		t.Errorf("the error tells the token: %v", err)
	}
}

// TestUnexpectedResponses: what is not a roster response is an internal
// error that names the status.
func TestUnexpectedResponses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		header map[string]string
		want   string
	}{
		{"proxy error page", 502, "<html>bad gateway</html>", map[string]string{"Content-Type": "text/html"}, "HTTP 502"},
		{"error without a code", 404, `{"message":"no"}`, nil, "HTTP 404"},
		{"HTML with 200", 200, "<html>sign in</html>", map[string]string{"Content-Type": "text/html"}, "HTTP 200"},
		{"redirect", 302, "", map[string]string{"Location": "https://elsewhere.example.com/"}, "https://elsewhere.example.com/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.status, tc.body, tc.header)
			_, err := f.client(t).Whoami(ctx)
			checkKind(t, err, nil)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q does not say %q", err, tc.want)
			}
			if f.requests() != 1 {
				t.Errorf("%d requests; a redirect must not be followed", f.requests())
			}
		})
	}
}

func TestMemberOutcomes(t *testing.T) {
	f := newFake(t, http.StatusOK, `[
		{"ref":"a","result":{"project":"alpha","user":{"email":"a@example.com"},"changed":true}},
		{"ref":"b","error":{"code":"not_found","message":"user b not found","hint":"see roster user list"}},
		{"ref":"c","error":{"code":"conflict","message":"c is deactivated"}}]`, nil)
	out, err := f.client(t).AddMembers(ctx, "alpha", []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || out[0].Err != nil || !out[0].Result.Changed || out[0].Result.User.Email != "a@example.com" {
		t.Fatalf("outcomes %+v", out)
	}
	checkKind(t, out[1].Err, roster.ErrNotFound)
	checkKind(t, out[2].Err, roster.ErrConflict)
	if out[1].Err.Error() != "user b not found" || roster.Hint(out[1].Err) != "see roster user list" {
		t.Errorf("b: %q, hint %q", out[1].Err, roster.Hint(out[1].Err))
	}
}

func TestUnreachable(t *testing.T) {
	// A port that was just free: nothing listens on it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := New("http://"+addr, Options{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Whoami(ctx)
	checkKind(t, err, roster.ErrUnavailable)
	if !strings.Contains(err.Error(), "cannot reach server http://"+addr) || roster.Hint(err) == "" {
		t.Errorf("message %q, hint %q", err, roster.Hint(err))
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handler
	c, err := New(srv.URL, Options{Token: tok, HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListRoles(ctx)
	checkKind(t, err, roster.ErrUnavailable)
}

// TestPlainHTTP: a credential never crosses the network in clear text
// unless asked; loopback traffic does not leave the host.
func TestPlainHTTP(t *testing.T) {
	for _, tc := range []struct {
		base     string
		insecure bool
		refused  bool
	}{
		{"http://roster.example.com", false, true},
		{"http://10.0.0.1:8080", false, true},
		{"http://127.0.0.1.example.com", false, true},
		{"http://roster.example.com", true, false},
		{"https://roster.example.com", false, false},
		{"http://127.0.0.1:8080", false, false},
		{"http://127.9.8.7", false, false},
		{"http://[::1]:8080/roster", false, false},
		{"http://localhost:8080", false, false},
		{"HTTP://LocalHost", false, false},
	} {
		_, err := New(tc.base, Options{Token: tok, Insecure: tc.insecure})
		if !tc.refused {
			if err != nil {
				t.Errorf("%s: %v", tc.base, err)
			}
			continue
		}
		checkKind(t, err, roster.ErrInvalid)
		if h := roster.Hint(err); !strings.Contains(h, "https") || !strings.Contains(h, "--insecure") {
			t.Errorf("%s: hint %q", tc.base, h)
		}
		// Without a token the client is made, but passwords are not sent.
		c, err := New(tc.base, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.SignIn(ctx, "ann@example.com", "hunter2-password", "")
		checkKind(t, err, roster.ErrInvalid)
		_, err = c.RedeemResetLink(ctx, "roster_rst_x", "hunter2-password")
		checkKind(t, err, roster.ErrInvalid)
		_, err = c.AcceptInvitation(ctx, roster.AcceptInvitation{Token: "roster_inv_x", Password: "hunter2-password"})
		checkKind(t, err, roster.ErrInvalid)
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error tells the password: %v", err)
		}
	}
}

func TestBadAddress(t *testing.T) {
	for _, base := range []string{"", "roster.example.com", "ftp://roster.example.com", "http://", "http://ann:s3cret@roster.example.com", "http://[::1"} {
		_, err := New(base, Options{})
		checkKind(t, err, roster.ErrInvalid)
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error tells the password: %v", base, err)
		}
	}
}

// TestPrefix: a path in the address is kept before /api/v1 and /readyz.
func TestPrefix(t *testing.T) {
	f := newFake(t, http.StatusOK, `{"name":"x"}`, nil)
	c, err := New(f.srv.URL+"/roster/", Options{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Whoami(ctx); err != nil {
		t.Fatal(err)
	}
	if p := f.last(t).path; p != "/roster/api/v1/whoami" {
		t.Errorf("path %s", p)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if r := f.last(t); r.path != "/roster/readyz" || r.method != "GET" || r.auth != "" {
		t.Errorf("ping sent %+v", r)
	}
}

func TestPing(t *testing.T) {
	f := newFake(t, http.StatusServiceUnavailable, "not ready", map[string]string{"Content-Type": "text/plain"})
	checkKind(t, f.client(t).Ping(ctx), roster.ErrUnavailable)
}

// TestInit: init has no endpoint, and the client does not try one.
func TestInit(t *testing.T) {
	f := newFake(t, http.StatusOK, `{}`, nil)
	_, err := f.client(t).Init(ctx, roster.InitParams{OwnerEmail: "ann@example.com"})
	checkKind(t, err, roster.ErrForbidden)
	if f.requests() != 0 {
		t.Error("Init made a request")
	}
}
