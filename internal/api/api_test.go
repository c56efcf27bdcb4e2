package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/api/openapitest"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/testkit"
	"github.com/roster-dev/roster/internal/wire"
)

const (
	ownerEmail    = "owner@example.com"
	ownerPassword = "Quokka-Tessellate-Orbit-9187"
	userPassword  = "Marmalade-Heron-Sextant-4410"
)

var ctx = context.Background()

// env is one initialised store served over loopback HTTP.
type env struct {
	t     testing.TB
	core  *core.Core
	db    *sqlite.DB // nil on PostgreSQL
	clock *testkit.Clock
	log   *testkit.Buffer
	h     http.Handler
	url   string
	owner string // the owner's API token
}

// newEnv serves a fresh store. wrap, if not nil, stands between the
// server and the core. The limiter is lenient unless o says otherwise.
func newEnv(t testing.TB, o api.Options, wrap func(api.Backend) api.Backend) *env {
	t.Helper()
	return newEnvWith(t, o, wrap)
}

// newEnvWith is newEnv with options for the core, after its clock.
func newEnvWith(t testing.TB, o api.Options, wrap func(api.Backend) api.Backend, opts ...core.Option) *env {
	t.Helper()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := newEnvOn(t, db, o, wrap, opts...)
	e.db = db
	return e
}

// newEnvOn is newEnvWith on a store of the caller's, of either kind.
func newEnvOn(t testing.TB, db store.Store, o api.Options, wrap func(api.Backend) api.Backend, opts ...core.Option) *env {
	t.Helper()
	clk := testkit.NewClock(time.Now())
	var st store.Store = db
	if o.Metrics != nil { // the server's metrics measure the store, as roster serve's do
		st = o.Metrics.Store(db)
	}
	c := core.New(st, append([]core.Option{core.WithClock(clk.Now)}, opts...)...)
	if _, err := c.As(core.Actor{Name: "local:test"}).Init(ctx, roster.InitParams{OwnerEmail: ownerEmail, Password: ownerPassword}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.As(core.Actor{User: ownerEmail}).CreateToken(ctx, roster.CreateToken{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, core: c, clock: clk, log: &testkit.Buffer{}, owner: tok.Token}
	switch {
	case o.FailureRate == 0: // not a test of the limiter: keep out of its way
		o.FailureRate = 1e6
	case o.Now == nil: // a test of the limiter: it runs on the test's clock
		o.Now = clk.Now
	}
	o.Logger = slog.New(slog.NewTextHandler(e.log, nil))
	var b api.Backend = c
	if wrap != nil {
		b = wrap(c)
	}
	e.h = api.New(b, o)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// on is e reporting to t, for subtests.
func (e *env) on(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// admin acts on the store directly, as the local administrator.
func (e *env) admin() roster.Service { return e.core.As(core.Actor{Name: "local:test"}) }

// request sends one request. body is nil (none), a string (raw) or a
// value to encode. Every response but a health check's must be JSON.
func (e *env) request(method, path, token string, body any) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// Each answer is held to docs/openapi.yaml as well, and so is each
	// request but those written by hand, which probe the server with
	// what a client following the document would not send.
	v, err := openapitest.New()
	if err != nil {
		e.t.Fatal(err)
	}
	tr := v.Transport(e.t, nil)
	if _, raw := body.(string); raw {
		tr = v.ResponseTransport(e.t, nil)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); path != "/healthz" && path != "/readyz" && ct != "application/json" {
		e.t.Fatalf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return resp, raw
}

// ok sends a request that must succeed and decodes its result.
func ok[T any](e *env, method, path, token string, body any) T {
	e.t.Helper()
	resp, raw := e.request(method, path, token, body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s %s: status %d: %s", method, path, resp.StatusCode, raw)
	}
	var out T
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // the result is exactly the documented type
	if err := dec.Decode(&out); err != nil {
		e.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
	}
	return out
}

// fails sends a request that must fail with status and code, and returns
// the error's detail.
func (e *env) fails(method, path, token string, body any, status int, code string) wire.ErrorDetail {
	e.t.Helper()
	resp, raw := e.request(method, path, token, body)
	var eb wire.ErrorBody
	if err := json.Unmarshal(raw, &eb); err != nil {
		e.t.Fatalf("%s %s: error body %s: %v", method, path, raw, err)
	}
	if resp.StatusCode != status || eb.Error.Code != code {
		e.t.Fatalf("%s %s: got %d %s (%s); want %d %s", method, path, resp.StatusCode, eb.Error.Code, eb.Error.Message, status, code)
	}
	if eb.Error.Message == "" {
		e.t.Fatalf("%s %s: error without a message", method, path)
	}
	return eb.Error
}

// auditIDs is the whole audit log, as ids, read through the core.
func (e *env) auditIDs() []int64 {
	e.t.Helper()
	events, err := e.admin().ListAudit(ctx, roster.AuditFilter{Limit: 100000})
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make([]int64, len(events))
	for i, ev := range events {
		ids[i] = ev.ID
	}
	return ids
}

// createUser makes an active user with a password and returns a token
// of theirs, made by the owner over the API.
func (e *env) createUser(email string, roles ...string) string {
	e.t.Helper()
	res := ok[userChange](e, "POST", "/api/v1/users", e.owner, wire.CreateUser{Email: email, Roles: roles, Password: userPassword})
	if !res.Changed || res.Email != email || res.Status != roster.StatusActive {
		e.t.Fatalf("created %+v", res)
	}
	return ok[roster.APIToken](e, "POST", "/api/v1/tokens", e.owner, wire.CreateToken{User: email, Name: "t"}).Token
}

// userChange is a user after a change as the API answers it (docs/json.md):
// the user's fields, flat, with changed and, once, a password.
type userChange struct {
	roster.User
	Changed  bool   `json:"changed"`
	Password string `json:"password,omitempty"`
}

func esc(s string) string { return url.PathEscape(s) }

func TestHealth(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, raw := e.request("GET", p, "", nil)
		if resp.StatusCode != 200 || strings.TrimSpace(string(raw)) != "ok" {
			t.Fatalf("GET %s: %d %q", p, resp.StatusCode, raw)
		}
	}
	down := newEnv(t, api.Options{}, func(b api.Backend) api.Backend { return notReady{b} })
	d := down.fails("GET", "/readyz", "", nil, http.StatusServiceUnavailable, wire.CodeUnavailable)
	if strings.Contains(d.Message, "disk on fire") || !strings.Contains(down.log.String(), "disk on fire") {
		t.Fatalf("the cause must be logged, not told: %q", d.Message)
	}
}

type notReady struct{ api.Backend }

func (notReady) Ready(context.Context) error { return errors.New("disk on fire") }

func TestLoginWhoamiAccount(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	tok := ok[roster.APIToken](e, "POST", "/api/v1/login", "", wire.SignIn{Email: ownerEmail, Password: ownerPassword, Name: "laptop"})
	if !strings.HasPrefix(tok.Token, "roster_pat_") || tok.Name != "laptop" || tok.User != ownerEmail {
		t.Fatalf("login gave %+v", tok)
	}
	p := ok[roster.Principal](e, "GET", "/api/v1/whoami", tok.Token, nil)
	if p.Name != ownerEmail || p.User == nil || !slices.Contains(p.Permissions, roster.PermUsersManage) {
		t.Fatalf("whoami: %+v", p)
	}
	e.fails("POST", "/api/v1/login", "", wire.SignIn{Email: ownerEmail, Password: "wrong-password-123"}, 401, wire.CodeUnauthenticated)

	e.fails("POST", "/api/v1/account/password", tok.Token, wire.ChangePassword{Current: "not-it-at-all", New: userPassword}, 401, wire.CodeUnauthenticated)
	u := ok[roster.User](e, "POST", "/api/v1/account/password", tok.Token, wire.ChangePassword{Current: ownerPassword, New: userPassword})
	if u.Email != ownerEmail {
		t.Fatalf("changed the password of %+v", u)
	}
	ok[roster.APIToken](e, "POST", "/api/v1/login", "", wire.SignIn{Email: ownerEmail, Password: userPassword})
}

func TestUsers(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	ann := "ann@example.com"
	e.createUser(ann, roster.RoleMember)
	e.createUser("bob@example.com")

	page := ok[wire.Page[roster.User]](e, "GET", "/api/v1/users?limit=2", e.owner, nil)
	if len(page.Items) != 2 || page.Next == "" {
		t.Fatalf("first page: %+v", page)
	}
	rest := ok[wire.Page[roster.User]](e, "GET", "/api/v1/users?limit=2&after="+url.QueryEscape(page.Next), e.owner, nil)
	if len(rest.Items) != 1 || rest.Next != "" {
		t.Fatalf("second page: %+v", rest)
	}
	none := ok[wire.Page[roster.User]](e, "GET", "/api/v1/users?search=zzz-nobody", e.owner, nil)
	if none.Items == nil || len(none.Items) != 0 {
		t.Fatalf("an empty page must have items []: %+v", none)
	}

	if u := ok[roster.User](e, "GET", "/api/v1/users/"+esc(ann), e.owner, nil); u.Email != ann || !slices.Equal(u.Roles, []string{"member"}) {
		t.Fatalf("GET user: %+v", u)
	}
	name := "Ann Example"
	if r := ok[userChange](e, "PATCH", "/api/v1/users/"+esc(ann), e.owner, wire.UpdateUser{Name: &name}); r.Name != name || !r.Changed {
		t.Fatalf("PATCH: %+v", r)
	}
	if r := ok[userChange](e, "PUT", "/api/v1/users/"+esc(ann)+"/roles", e.owner, wire.Roles{Roles: []string{"viewer"}}); !slices.Equal(r.Roles, []string{"viewer"}) {
		t.Fatalf("PUT roles: %+v", r)
	}
	if r := ok[userChange](e, "POST", "/api/v1/users/"+esc(ann)+"/password", e.owner, wire.SetPassword{RandomPassword: true}); r.Password == "" {
		t.Fatalf("a random password is shown once: %+v", r)
	}
	if r := ok[userChange](e, "POST", "/api/v1/users/"+esc(ann)+"/deactivate", e.owner, wire.Deactivate{Reason: "leave"}); r.Status != roster.StatusDeactivated {
		t.Fatalf("deactivate: %+v", r)
	}
	if r := ok[userChange](e, "POST", "/api/v1/users/"+esc(ann)+"/reactivate", e.owner, nil); r.Status != roster.StatusActive {
		t.Fatalf("reactivate: %+v", r)
	}

	// A reset link, redeemed without a token, then a sign-in with it.
	link := ok[roster.ResetLink](e, "POST", "/api/v1/users/"+esc(ann)+"/reset-link", e.owner, wire.Link{TTLSeconds: 3600})
	if link.Token == "" || link.Email != ann {
		t.Fatalf("reset link: %+v", link)
	}
	if u := ok[roster.User](e, "POST", "/api/v1/reset", "", wire.RedeemReset{Token: link.Token, Password: "Brand-New-Lantern-7731"}); u.Email != ann {
		t.Fatalf("reset: %+v", u)
	}
	e.fails("POST", "/api/v1/reset", "", wire.RedeemReset{Token: link.Token, Password: "Brand-New-Lantern-7731"}, 409, wire.CodeConflict)
	ok[roster.APIToken](e, "POST", "/api/v1/login", "", wire.SignIn{Email: ann, Password: "Brand-New-Lantern-7731"})

	// bob never acted, so may be deleted.
	if u := ok[roster.User](e, "DELETE", "/api/v1/users/bob%40example.com", e.owner, nil); u.Email != "bob@example.com" {
		t.Fatalf("delete: %+v", u)
	}
	e.fails("GET", "/api/v1/users/bob@example.com", e.owner, nil, 404, wire.CodeNotFound)
	// A rule of the core answers through the table: nobody acts on themselves (R3).
	e.fails("POST", "/api/v1/users/"+esc(ownerEmail)+"/deactivate", e.owner, wire.Deactivate{}, 403, wire.CodeForbidden)
}

func TestRolesPermissionsCan(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	e.createUser("cat@example.com")

	p := ok[roster.Permission](e, "POST", "/api/v1/permissions", e.owner, wire.CreatePermission{Name: "invoices.view", Description: "see invoices"})
	if p.Name != "invoices.view" || p.Builtin {
		t.Fatalf("permission: %+v", p)
	}
	perms := ok[[]roster.Permission](e, "GET", "/api/v1/permissions", e.owner, nil)
	if !slices.ContainsFunc(perms, func(p roster.Permission) bool { return p.Name == "invoices.view" }) {
		t.Fatalf("permissions: %+v", perms)
	}
	ok[roster.Role](e, "POST", "/api/v1/roles", e.owner, wire.CreateRole{Name: "billing", Permissions: []string{"users.view"}})
	add := ok[roster.RoleResult](e, "PATCH", "/api/v1/roles/billing", e.owner, wire.UpdateRole{Add: []string{"invoices.view"}})
	if !add.Changed || !slices.Contains(add.Role.Permissions, "invoices.view") {
		t.Fatalf("PATCH role: %+v", add)
	}
	if r := ok[roster.Role](e, "GET", "/api/v1/roles/billing", e.owner, nil); r.Name != "billing" {
		t.Fatalf("GET role: %+v", r)
	}
	if rs := ok[[]roster.Role](e, "GET", "/api/v1/roles", e.owner, nil); len(rs) < 6 {
		t.Fatalf("roles: %+v", rs)
	}

	held := ok[userChange](e, "PUT", "/api/v1/roles/billing/holders/cat%40example.com", e.owner, nil)
	if !slices.Contains(held.Roles, "billing") {
		t.Fatalf("assign: %+v", held)
	}
	can := ok[roster.Decision](e, "GET", "/api/v1/can?user=cat%40example.com&permission=invoices.view", e.owner, nil)
	if !can.Allowed || !slices.Equal(can.GrantedBy, []string{"billing"}) {
		t.Fatalf("can: %+v", can)
	}
	ok[userChange](e, "DELETE", "/api/v1/roles/billing/holders/cat%40example.com", e.owner, nil)
	if can := ok[roster.Decision](e, "GET", "/api/v1/can?user=cat%40example.com&permission=invoices.view", e.owner, nil); can.Allowed {
		t.Fatalf("can after unassign: %+v", can)
	}
	ok[roster.Role](e, "DELETE", "/api/v1/roles/billing?reassign=", e.owner, nil)
	ok[roster.Permission](e, "DELETE", "/api/v1/permissions/invoices.view", e.owner, nil)
	e.fails("GET", "/api/v1/roles/billing", e.owner, nil, 404, wire.CodeNotFound)
}

func TestAuditSettings(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	set := ok[roster.SettingResult](e, "PUT", "/api/v1/settings/org.name", e.owner, wire.SetSetting{Value: "Example Ltd"})
	if !set.Changed || set.Value != "Example Ltd" {
		t.Fatalf("set: %+v", set)
	}
	if s := ok[roster.Settings](e, "GET", "/api/v1/settings", e.owner, nil); s["org.name"] != "Example Ltd" || s["invite.ttl"] != "7d" {
		t.Fatalf("settings: %+v", s)
	}
	e.fails("PUT", "/api/v1/settings/seats", e.owner, wire.SetSetting{Value: "many"}, 400, wire.CodeInvalid)

	events := ok[[]roster.AuditEvent](e, "GET", "/api/v1/audit?action=settings.set&limit=5", e.owner, nil)
	if len(events) != 1 || events[0].Target != "org.name" || events[0].Actor != ownerEmail {
		t.Fatalf("audit: %+v", events)
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if none := ok[[]roster.AuditEvent](e, "GET", "/api/v1/audit?since="+future, e.owner, nil); len(none) != 0 {
		t.Fatalf("audit since the future: %+v", none)
	}
	// A member may not read the log.
	e.fails("GET", "/api/v1/audit", e.createUser("dan@example.com", "member"), nil, 403, wire.CodeForbidden)
}

func TestInvitations(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	inv := ok[roster.Invitation](e, "POST", "/api/v1/invitations", e.owner, wire.CreateInvitation{Email: "eve@example.com", Roles: []string{"member"}})
	if inv.Token == "" || inv.Status != roster.InvitePending {
		t.Fatalf("invite: %+v", inv)
	}
	list := ok[[]roster.Invitation](e, "GET", "/api/v1/invitations?status=pending", e.owner, nil)
	if len(list) != 1 || list[0].Token != "" {
		t.Fatalf("pending (the token is shown once): %+v", list)
	}
	again := ok[roster.Invitation](e, "POST", "/api/v1/invitations/eve%40example.com/resend", e.owner, wire.Link{TTLSeconds: 7200})
	if again.Token == "" || again.Token == inv.Token {
		t.Fatalf("resend: %+v", again)
	}
	// Accepted without a token: the link's token is the credential.
	u := ok[roster.User](e, "POST", "/api/v1/invitations/accept", "", wire.AcceptInvitation{Token: again.Token, Name: "Eve", Password: userPassword})
	if u.Email != "eve@example.com" || u.Status != roster.StatusActive {
		t.Fatalf("accept: %+v", u)
	}
	ok[roster.APIToken](e, "POST", "/api/v1/login", "", wire.SignIn{Email: "eve@example.com", Password: userPassword})
	e.fails("POST", "/api/v1/invitations/accept", "", wire.AcceptInvitation{Token: "roster_inv_nonsense", Password: userPassword}, 404, wire.CodeNotFound)

	ok[roster.Invitation](e, "POST", "/api/v1/invitations", e.owner, wire.CreateInvitation{Email: "fay@example.com"})
	if r := ok[roster.InvitationResult](e, "POST", "/api/v1/invitations/fay%40example.com/revoke", e.owner, nil); !r.Changed || r.Invitation.Status != roster.InviteRevoked {
		t.Fatalf("revoke: %+v", r)
	}
}

func TestProjects(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	e.createUser("gil@example.com")
	e.createUser("hal@example.com")
	p := ok[roster.Project](e, "POST", "/api/v1/projects", e.owner, wire.CreateProject{Slug: "alpha", Name: "Alpha"})
	if p.Slug != "alpha" {
		t.Fatalf("create: %+v", p)
	}
	e.fails("POST", "/api/v1/projects", e.owner, wire.CreateProject{Slug: "alpha"}, 409, wire.CodeConflict)
	name := "Alpha One"
	if r := ok[roster.ProjectResult](e, "PATCH", "/api/v1/projects/alpha", e.owner, wire.UpdateProject{Name: &name}); r.Project.Name != name || !r.Changed {
		t.Fatalf("update: %+v", r)
	}

	// One unknown user among several: reported apart, the others added.
	out := ok[[]wire.MemberOutcome](e, "POST", "/api/v1/projects/alpha/members", e.owner,
		wire.Members{Users: []string{"gil@example.com", "nobody@example.com", "hal@example.com"}})
	if len(out) != 3 || out[0].Error != nil || out[2].Error != nil || !out[0].Result.Changed || out[0].Result.User.Email != "gil@example.com" {
		t.Fatalf("members: %+v", out)
	}
	if out[1].Ref != "nobody@example.com" || out[1].Error == nil || out[1].Error.Code != wire.CodeNotFound {
		t.Fatalf("the unknown user's outcome: %+v", out[1])
	}
	if got := ok[roster.Project](e, "GET", "/api/v1/projects/alpha", e.owner, nil); got.Members != 2 {
		t.Fatalf("alpha has %d members, want 2", got.Members)
	}
	rm := ok[[]wire.MemberOutcome](e, "POST", "/api/v1/projects/alpha/members/remove", e.owner, wire.Members{Users: []string{"hal@example.com"}})
	if len(rm) != 1 || rm[0].Error != nil || !rm[0].Result.Changed {
		t.Fatalf("remove: %+v", rm)
	}
	if r := ok[roster.ProjectResult](e, "POST", "/api/v1/projects/alpha/archive", e.owner, wire.Archive{Archived: true}); !r.Project.Archived {
		t.Fatalf("archive: %+v", r)
	}
	if ps := ok[[]roster.Project](e, "GET", "/api/v1/projects", e.owner, nil); len(ps) != 1 {
		t.Fatalf("projects: %+v", ps)
	}
	ok[roster.Project](e, "DELETE", "/api/v1/projects/alpha", e.owner, nil)
	if ps := ok[[]roster.Project](e, "GET", "/api/v1/projects", e.owner, nil); ps == nil || len(ps) != 0 {
		t.Fatalf("an empty list must be []: %+v", ps)
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	made := ok[roster.APIToken](e, "POST", "/api/v1/tokens", e.owner, wire.CreateToken{Name: "ci", TTLSeconds: 86400})
	if made.Token == "" || made.ExpiresAt == nil {
		t.Fatalf("create: %+v", made)
	}
	list := ok[[]roster.APIToken](e, "GET", "/api/v1/tokens", e.owner, nil)
	if len(list) != 2 || slices.ContainsFunc(list, func(t roster.APIToken) bool { return t.Token != "" }) {
		t.Fatalf("list (secrets are never listed): %+v", list)
	}
	path := fmt.Sprintf("/api/v1/tokens/%d", made.ID)
	rotated := ok[roster.APIToken](e, "POST", path+"/rotate", e.owner, nil)
	if rotated.Token == "" || rotated.Token == made.Token || rotated.ID != made.ID {
		t.Fatalf("rotate: %+v", rotated)
	}
	e.fails("GET", "/api/v1/whoami", made.Token, nil, 401, wire.CodeUnauthenticated)
	ok[roster.Principal](e, "GET", "/api/v1/whoami", rotated.Token, nil)
	if r := ok[roster.TokenResult](e, "DELETE", path, e.owner, nil); !r.Changed || !r.Token.Revoked {
		t.Fatalf("revoke: %+v", r)
	}
	e.fails("GET", "/api/v1/whoami", rotated.Token, nil, 401, wire.CodeUnauthenticated)
	e.fails("DELETE", "/api/v1/tokens/999999", e.owner, nil, 404, wire.CodeNotFound)
}

// TestBadInput sends requests that must be refused: each gets its status
// and code, nothing is written, and the server stays up.
func TestBadInput(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	before := e.auditIDs()
	huge := `{"email":"` + strings.Repeat("a", 1<<20) + `@example.com"}`
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
		mention            string // the message must say this
	}{
		{"malformed JSON", "POST", "/api/v1/users", `{"email":`, 400, wire.CodeInvalid, "JSON"},
		{"not JSON at all", "POST", "/api/v1/roles", `name=x`, 400, wire.CodeInvalid, "object"},
		{"wrong type", "POST", "/api/v1/users", `{"email": 5}`, 400, wire.CodeInvalid, `"email" must be a string, not number`},
		{"wrong element type", "POST", "/api/v1/users", `{"email":"x@example.com","roles":[1]}`, 400, wire.CodeInvalid, "roles"},
		{"unknown field", "POST", "/api/v1/users", `{"email":"x@example.com","admin":true}`, 400, wire.CodeInvalid, `unknown field "admin"`},
		{"trailing data", "POST", "/api/v1/users", `{"email":"x@example.com"} {"email":"y@example.com"}`, 400, wire.CodeInvalid, "after the object"},
		{"trailing garbage", "POST", "/api/v1/projects", `{"slug":"p"}}`, 400, wire.CodeInvalid, "after the object"},
		{"empty body", "POST", "/api/v1/projects", "", 400, wire.CodeInvalid, "body is required"},
		{"null body", "POST", "/api/v1/projects", "null", 400, wire.CodeInvalid, "object"},
		{"array body", "POST", "/api/v1/projects/x/members", `["a"]`, 400, wire.CodeInvalid, "object"},
		{"oversized body", "POST", "/api/v1/users", huge, 413, wire.CodeTooLarge, "bytes"},
		{"unknown route", "GET", "/api/v1/nothing", nil, 404, wire.CodeNotFound, "no such endpoint"},
		{"unknown root", "GET", "/", nil, 404, wire.CodeNotFound, "no such endpoint"},
		{"wrong method", "DELETE", "/api/v1/whoami", nil, 405, wire.CodeInvalid, "not allowed"},
		{"wrong method on a known path", "PUT", "/api/v1/projects", `{}`, 405, wire.CodeInvalid, "not allowed"},
		{"limit not an int", "GET", "/api/v1/users?limit=ten", nil, 400, wire.CodeInvalid, "limit"},
		{"limit out of range", "GET", "/api/v1/users?limit=-1", nil, 400, wire.CodeInvalid, "limit"},
		{"bad status", "GET", "/api/v1/users?status=asleep", nil, 400, wire.CodeInvalid, "status"},
		{"bad since", "GET", "/api/v1/audit?since=yesterday", nil, 400, wire.CodeInvalid, "RFC 3339"},
		{"bad audit limit", "GET", "/api/v1/audit?limit=1.5", nil, 400, wire.CodeInvalid, "limit"},
		{"token id not an int", "DELETE", "/api/v1/tokens/abc", nil, 400, wire.CodeInvalid, "id"},
		{"ttl overflows", "POST", "/api/v1/tokens", wire.CreateToken{TTLSeconds: 1 << 62}, 400, wire.CodeInvalid, "ttl_seconds"},
		{"ttl negative", "POST", "/api/v1/users/" + esc(ownerEmail) + "/reset-link", wire.Link{TTLSeconds: -5}, 400, wire.CodeInvalid, "ttl_seconds"},
		{"bad invitation status", "GET", "/api/v1/invitations?status=lost", nil, 400, wire.CodeInvalid, "status"},
		{"invalid slug", "POST", "/api/v1/projects", wire.CreateProject{Slug: "Not A Slug"}, 400, wire.CodeInvalid, "slug"},
		{"unknown user", "PATCH", "/api/v1/users/nobody%40example.com", `{}`, 404, wire.CodeNotFound, "nobody"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := e.on(t).fails(c.method, c.path, e.owner, c.body, c.status, c.code)
			if !strings.Contains(d.Message, c.mention) {
				t.Errorf("message %q does not mention %q", d.Message, c.mention)
			}
		})
	}
	if after := e.auditIDs(); !slices.Equal(before, after) {
		t.Fatalf("bad requests wrote to the audit log: %v -> %v", before, after)
	}
	ok[roster.Principal](e, "GET", "/api/v1/whoami", e.owner, nil) // still up

	// A 405 says what is allowed.
	resp, _ := e.request("DELETE", "/api/v1/whoami", e.owner, nil)
	if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") {
		t.Fatalf("Allow: %q", allow)
	}
}

// TestNoSecretsEchoed checks that values, which may be passwords, are not
// quoted back in errors, and that the log holds no secrets.
func TestNoSecretsEchoed(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	d := e.fails("POST", "/api/v1/login", "", `{"email":"x@example.com","password":98765432123}`, 400, wire.CodeInvalid)
	if strings.Contains(d.Message, "98765432123") {
		t.Fatalf("the value was echoed: %q", d.Message)
	}
	e.fails("DELETE", "/api/v1/tokens/"+e.owner, e.owner, nil, 400, wire.CodeInvalid)
	if d := e.fails("GET", "/api/v1/x/"+e.owner, e.owner, nil, 404, wire.CodeNotFound); strings.Contains(d.Message, e.owner) {
		t.Fatalf("the token in the path was echoed: %q", d.Message)
	}
	e.fails("POST", "/api/v1/login", "", wire.SignIn{Email: ownerEmail, Password: "Secret-Guess-Number-1"}, 401, wire.CodeUnauthenticated)
	tok := ok[roster.APIToken](e, "POST", "/api/v1/login", "", wire.SignIn{Email: ownerEmail, Password: ownerPassword})
	ok[wire.Page[roster.User]](e, "GET", "/api/v1/users?search=query-secret", tok.Token, nil)
	e.fails("GET", "/api/v1/whoami", "roster_pat_not-a-real-one", nil, 401, wire.CodeUnauthenticated)

	log := e.log.String()
	for _, secret := range []string{ownerPassword, "Secret-Guess-Number-1", "98765432123", tok.Token, e.owner, "not-a-real-one", "query-secret"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds %q:\n%s", secret, log)
		}
	}
	for _, want := range []string{"method=POST", "path=/api/v1/login", "status=401", "status=200", "duration=", "remote=127.0.0.1"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}

// TestUnauthenticated: every way of not having a valid token gets the
// same 401, an expired token's saying only that it expired, and writes
// nothing.
func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	revoked := ok[roster.APIToken](e, "POST", "/api/v1/tokens", e.owner, wire.CreateToken{Name: "old"})
	ok[roster.TokenResult](e, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", revoked.ID), e.owner, nil)
	expiring := ok[roster.APIToken](e, "POST", "/api/v1/tokens", e.owner, wire.CreateToken{Name: "short", TTLSeconds: 60})
	gone := e.createUser("ivy@example.com", "member")
	ok[roster.Principal](e, "GET", "/api/v1/whoami", gone, nil)
	ok[userChange](e, "POST", "/api/v1/users/ivy%40example.com/deactivate", e.owner, wire.Deactivate{})
	e.clock.Advance(2 * time.Minute)
	ok[roster.Principal](e, "GET", "/api/v1/whoami", e.owner, nil)

	before := e.auditIDs()
	cases := []struct{ name, header string }{
		{"missing", ""},
		{"empty bearer", "Bearer "},
		{"other scheme", "Basic b3duZXI6cGFzcw=="},
		{"garbage", "Bearer garbage"},
		{"well-formed but unknown", "Bearer roster_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"revoked", "Bearer " + revoked.Token},
		{"expired", "Bearer " + expiring.Token},
		{"deactivated user", "Bearer " + gone},
	}
	var message string
	for _, c := range cases {
		req, _ := http.NewRequest("POST", e.url+"/api/v1/projects", strings.NewReader(`{"slug":"nope"}`))
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb wire.ErrorBody
		err = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 401 || eb.Error.Code != wire.CodeUnauthenticated {
			t.Fatalf("%s: %d %+v %v", c.name, resp.StatusCode, eb, err)
		}
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", c.name)
		}
		switch {
		case c.name == "expired":
			// An expired token's holder learns only that: when it ended
			// and what to do, since they hold its secret already.
			if !strings.Contains(eb.Error.Message, "expired at") || !strings.Contains(eb.Error.Hint, "roster login") {
				t.Errorf("expired: %+v does not say it expired and what to do", eb.Error)
			}
		case message == "":
			message = eb.Error.Message
		case eb.Error.Message != message:
			t.Errorf("%s: message %q differs from %q", c.name, eb.Error.Message, message)
		}
	}
	if after := e.auditIDs(); !slices.Equal(before, after) {
		t.Fatalf("failed authentications wrote to the audit log")
	}
	if ps, _ := e.admin().ListProjects(ctx); len(ps) != 0 {
		t.Fatalf("a project was made: %+v", ps)
	}
}

// countingBackend counts the calls that cost the core work.
type countingBackend struct {
	api.Backend
	signIns, auths atomic.Int32
}

func (b *countingBackend) SignIn(ctx context.Context, email, pw, name string) (roster.APIToken, error) {
	b.signIns.Add(1)
	return b.Backend.SignIn(ctx, email, pw, name)
}

func (b *countingBackend) Authenticate(ctx context.Context, bearer string) (roster.Service, error) {
	b.auths.Add(1)
	return b.Backend.Authenticate(ctx, bearer)
}

// panicky panics where the core would sign in.
type panicky struct{ api.Backend }

func (panicky) SignIn(context.Context, string, string, string) (roster.APIToken, error) {
	panic("boom")
}

func TestPanicRecovered(t *testing.T) {
	e := newEnv(t, api.Options{}, func(b api.Backend) api.Backend { return panicky{b} })
	d := e.fails("POST", "/api/v1/login", "", wire.SignIn{Email: ownerEmail, Password: ownerPassword}, 500, wire.CodeInternal)
	if strings.Contains(d.Message, "boom") {
		t.Fatalf("the panic was told to the client: %q", d.Message)
	}
	if log := e.log.String(); !strings.Contains(log, "boom") || !strings.Contains(log, "status=500") {
		t.Fatalf("the panic was not logged:\n%s", log)
	}
	ok[roster.Principal](e, "GET", "/api/v1/whoami", e.owner, nil)
}

// FuzzDecode throws bytes at every body decoder and at a few POST
// endpoints of a real store: nothing panics, and every answer is a
// success or a client error with a JSON error body.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"email":"a@example.com","password":"x"}`,
		`{"slug":"alpha","name":"A"}`, `{"users":["owner@example.com","x"]}`,
		`{"name":"r","permissions":["users.view"]}`, `{"ttl_seconds":9223372036854775807}`,
		`{"roles":null}`, `{"a":1}{}`, `{"email":"\ud800"}`, `{"links":{"github":"x"}}`,
		`{"token":"roster_inv_x","password":"Some-Long-Password-1"}`, `{"value":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	e := newEnv(f, api.Options{MaxBody: 4096}, nil)
	endpoints := []string{
		"POST /api/v1/projects", "POST /api/v1/roles", "POST /api/v1/invitations/accept",
		"PATCH /api/v1/users/owner@example.com", "POST /api/v1/projects/alpha/members",
		"PUT /api/v1/settings/org.name", "POST /api/v1/tokens",
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for i, status := range api.DecodeAll(body, 4096) {
			if status != 200 && status != 400 && status != 413 {
				t.Fatalf("decoder %d answered %d", i, status)
			}
		}
		for _, ep := range endpoints {
			method, path, _ := strings.Cut(ep, " ")
			req := httptest.NewRequest(method, path, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+e.owner)
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code >= 500 || rec.Code < 200 || (rec.Code >= 300 && rec.Code < 400) {
				t.Fatalf("%s %q: %d %s", ep, body, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("%s: Content-Type %q", ep, ct)
			}
			if rec.Code >= 400 {
				var eb wire.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" {
					t.Fatalf("%s %q: error body %s", ep, body, rec.Body)
				}
			}
		}
	})
}

// cancelled answers a sign-in as a store does when the client has gone.
type cancelled struct{ api.Backend }

func (cancelled) SignIn(ctx context.Context, _, _, _ string) (roster.APIToken, error) {
	return roster.APIToken{}, ctx.Err()
}

// TestClientGoneNotLogged: a request its client abandoned ends in
// context.Canceled, which is no fault of the server's and is not logged
// as an internal error (wrk's stopped connections filled the log).
func TestClientGoneNotLogged(t *testing.T) {
	e := newEnv(t, api.Options{}, func(b api.Backend) api.Backend { return cancelled{b} })
	body := strings.NewReader(`{"email":"owner@example.com","password":"x"}`)
	rctx, cancel := context.WithCancel(ctx)
	cancel()
	req := httptest.NewRequestWithContext(rctx, "POST", "/api/v1/login", body)
	req.Header.Set("Content-Type", "application/json")
	e.h.ServeHTTP(httptest.NewRecorder(), req)
	if log := e.log.String(); strings.Contains(log, "internal error") {
		t.Fatalf("an abandoned request was logged as an internal error:\n%s", log)
	}
}

// TestBadFraming: a body whose chunked encoding is malformed, or that
// ends before its Content-Length, is the client's fault: 400, not 500,
// and nothing is written.
func TestBadFraming(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	before := e.auditIDs()
	host := strings.TrimPrefix(e.url, "http://")
	for _, c := range []struct{ name, path, head, body string }{
		{"bad chunk size", "/api/v1/users", "Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n"},
		{"chunk longer than said", "/api/v1/users", "Transfer-Encoding: chunked\r\n", "2\r\n{\"email\":\"x@example.com\"}\r\n0\r\n\r\n"},
		{"bad chunk on import", "/api/v1/import?format=jsonl", "Transfer-Encoding: chunked\r\n", "5\r\n{\"ema\r\nzz\r\n\r\n"},
		{"cut short", "/api/v1/users", "Content-Length: 100\r\n", `{"email":"x@example.com"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			req := "POST " + c.path + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + e.owner +
				"\r\nContent-Type: application/json\r\n" + c.head + "\r\n" + c.body
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			if tc, ok := conn.(*net.TCPConn); ok && strings.HasPrefix(c.head, "Content-Length") {
				tc.CloseWrite() // the rest never comes
			}
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				b, _ := io.ReadAll(res.Body)
				t.Fatalf("status %d, want 400: %s", res.StatusCode, b)
			}
		})
	}
	if after := e.auditIDs(); !slices.Equal(before, after) {
		t.Fatalf("badly framed requests wrote to the audit log: %v -> %v", before, after)
	}
}
