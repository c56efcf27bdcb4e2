// Package contract is the behaviour every roster.Service must show: the
// rules of DESIGN.md as test cases, run against the local core and, through
// the same Harness, against any other implementation.
package contract

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

// Harness makes a fresh, initialised store for one test and gives
// Services over it. Admin acts as the local administrator (or, remotely,
// as the first owner); As acts as the given user.
type Harness interface {
	New(t *testing.T) Env
}

// Env is one store.
type Env interface {
	Admin() roster.Service
	As(user string) roster.Service
	// Owner is the email of the owner made at initialisation.
	Owner() string
	// Advance moves the store's clock forward, for expiry.
	Advance(d time.Duration)
	// Freeze stops the store's clock where it stands, for a case that
	// checks an instant exactly; Advance still moves it.
	Freeze()
	// WithToken returns a Service authenticated by an API token, or the
	// authentication's error.
	WithToken(token string) (roster.Service, error)
	// Server reports whether Services reach the store through roster
	// serve, where a few rules (R16) differ from local mode.
	Server() bool
	// StartSession signs user in with password as the sign-in page does
	// and returns the secret of their new browser session; SessionLive
	// reports whether a session's secret still admits its holder (R18).
	StartSession(t *testing.T, user, password string) string
	SessionLive(secret string) bool
}

// Run runs every contract case.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(*testing.T, Env)
	}{
		{"R1 unique email, username and link", testUnique},
		{"R2 last active owner stays", testLastOwner},
		{"R3 nobody acts on themselves", testSelf},
		{"R4 no granting what you lack", testGrant},
		{"R5 only owners act on owners", testOwners},
		{"R6 built-in roles locked, held roles kept", testRoleLocks},
		{"R7 who acted cannot be deleted", testDeleteActed},
		{"R9 seat limit", testSeats},
		{"R10 password policy", testPasswords},
		{"R13 repeating changes nothing", testIdempotent},
		{"failed changes write nothing", testNoPartialWrites},
		{"effective permissions and can", testCan},
		{"paging by key", testPaging},
		{"holes found in review stay closed", testReviewFindings},
	}
	cases = append(cases, linkCases...)
	cases = append(cases, projectCases...)
	cases = append(cases, tokenCases...)
	cases = append(cases, scopedCases...)
	cases = append(cases, authorityCases...)
	cases = append(cases, expiryCases...)
	cases = append(cases, auditCases...)
	cases = append(cases, serviceCases...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, h.New(t)) })
	}
}

var ctx = context.Background()

func wantErr(t *testing.T, err, kind error, what string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got %v, want %v", what, err, kind)
	}
}

// must(v, err)(t) returns v, failing the test on err.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func create(t *testing.T, s roster.Service, email string, roles ...string) roster.User {
	t.Helper()
	return must(s.CreateUser(ctx, roster.CreateUser{Email: email, Roles: roles}))(t).User
}

// bareRole makes a role that grants no sight of users (a user keeps at
// least one role, R19) and returns its name.
func bareRole(t *testing.T, a roster.Service) string {
	t.Helper()
	must(a.CreateRole(ctx, roster.CreateRole{Name: "bare", Permissions: []string{roster.PermProjectsCreate}}))(t)
	return "bare"
}

// auditCount counts the events of changes: not those of refusals
// (*.denied), which are audited though nothing changed.
func auditCount(t *testing.T, e Env) int {
	t.Helper()
	n := 0
	for _, ev := range must(e.Admin().ListAudit(ctx, roster.AuditFilter{Limit: 100000}))(t) {
		if !strings.HasSuffix(ev.Action, ".denied") {
			n++
		}
	}
	return n
}

func testUnique(t *testing.T, e Env) {
	a := e.Admin()
	must(a.CreateUser(ctx, roster.CreateUser{Email: "Ann@Example.com", Username: "ann", Links: map[string]string{"github": "ann"}}))(t)
	_, err := a.CreateUser(ctx, roster.CreateUser{Email: "ann@EXAMPLE.com"})
	wantErr(t, err, roster.ErrConflict, "same email in other case")
	_, err = a.CreateUser(ctx, roster.CreateUser{Email: "b@example.com", Username: "ANN"})
	wantErr(t, err, roster.ErrConflict, "same username")
	_, err = a.CreateUser(ctx, roster.CreateUser{Email: "b@example.com", Links: map[string]string{"github": "ann"}})
	wantErr(t, err, roster.ErrConflict, "same link")
	must(a.CreateUser(ctx, roster.CreateUser{Email: "b@example.com", Links: map[string]string{"gitlab": "ann"}}))(t)
	mail := "ANN@example.com"
	_, err = a.UpdateUser(ctx, "b@example.com", roster.UpdateUser{Email: &mail})
	wantErr(t, err, roster.ErrConflict, "update to a taken email")
	u := must(a.GetUser(ctx, "github:ann"))(t)
	if u.Email != "Ann@Example.com" {
		t.Fatalf("github:ann is %s", u.Email)
	}
}

func testLastOwner(t *testing.T, e Env) {
	a, owner := e.Admin(), e.Owner()
	_, err := a.DeactivateUser(ctx, owner, "")
	wantErr(t, err, roster.ErrForbidden, "deactivate last owner")
	_, err = a.DeleteUser(ctx, owner)
	wantErr(t, err, roster.ErrForbidden, "delete last owner")
	_, err = a.UnassignRole(ctx, roster.RoleOwner, owner)
	wantErr(t, err, roster.ErrForbidden, "unassign last owner")
	_, err = a.SetRoles(ctx, owner, []string{roster.RoleAdmin})
	wantErr(t, err, roster.ErrForbidden, "set-role of last owner")
	// A second owner lifts the limit; a deactivated one does not count.
	create(t, a, "o2@example.com", roster.RoleOwner)
	must(a.DeactivateUser(ctx, "o2@example.com", ""))(t)
	_, err = a.DeactivateUser(ctx, owner, "")
	wantErr(t, err, roster.ErrForbidden, "deactivate last active owner")
	must(a.ReactivateUser(ctx, "o2@example.com"))(t)
	must(a.DeactivateUser(ctx, owner, ""))(t)
}

func testSelf(t *testing.T, e Env) {
	create(t, e.Admin(), "adm@example.com", roster.RoleAdmin)
	me := e.As("adm@example.com")
	_, err := me.DeactivateUser(ctx, "adm@example.com", "")
	wantErr(t, err, roster.ErrForbidden, "deactivate self")
	_, err = me.DeleteUser(ctx, "adm@example.com")
	wantErr(t, err, roster.ErrForbidden, "delete self")
	_, err = me.SetRoles(ctx, "adm@example.com", []string{roster.RoleMember})
	wantErr(t, err, roster.ErrForbidden, "change own roles")
	_, err = me.AssignRole(ctx, roster.RoleViewer, "adm@example.com")
	wantErr(t, err, roster.ErrForbidden, "assign self a role")
	// Seeing one's own account needs no permission.
	create(t, e.Admin(), "nobody@example.com", bareRole(t, e.Admin()))
	must(e.As("nobody@example.com").GetUser(ctx, "nobody@example.com"))(t)
	_, err = e.As("nobody@example.com").GetUser(ctx, e.Owner())
	wantErr(t, err, roster.ErrForbidden, "see others without users.view")
}

func testGrant(t *testing.T, e Env) {
	a := e.Admin()
	must(a.CreateRole(ctx, roster.CreateRole{Name: "helpdesk", Permissions: []string{
		roster.PermUsersView, roster.PermUsersCreate, roster.PermUsersManage, roster.PermRolesView, roster.PermRolesManage}}))(t)
	create(t, a, "help@example.com", "helpdesk")
	create(t, a, "x@example.com")
	h := e.As("help@example.com")
	_, err := h.AssignRole(ctx, roster.RoleAdmin, "x@example.com")
	wantErr(t, err, roster.ErrForbidden, "assign admin without its permissions")
	_, err = h.CreateUser(ctx, roster.CreateUser{Email: "y@example.com", Roles: []string{roster.RoleViewer}})
	wantErr(t, err, roster.ErrForbidden, "create with a role carrying projects.view_all")
	_, err = h.CreateRole(ctx, roster.CreateRole{Name: "auditor", Permissions: []string{roster.PermAuditView}})
	wantErr(t, err, roster.ErrForbidden, "create a role with audit.view")
	_, err = h.UpdateRole(ctx, "helpdesk", roster.UpdateRole{Add: []string{roster.PermAuditView}})
	wantErr(t, err, roster.ErrForbidden, "add audit.view to a role")
	// Implications count: a permission implying audit.view carries it.
	must(a.CreatePermission(ctx, roster.CreatePermission{Name: "reports.read", Implies: []string{roster.PermAuditView}}))(t)
	_, err = h.CreateRole(ctx, roster.CreateRole{Name: "reporter", Permissions: []string{"reports.read"}})
	wantErr(t, err, roster.ErrForbidden, "role whose permission implies one not held")
	// What the actor holds it may grant.
	must(h.AssignRole(ctx, roster.RoleMember, "x@example.com"))(t)
	must(h.CreateRole(ctx, roster.CreateRole{Name: "lookers", Permissions: []string{roster.PermUsersView}}))(t)
}

func testOwners(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "adm@example.com", roster.RoleAdmin)
	create(t, a, "x@example.com")
	adm := e.As("adm@example.com")
	_, err := adm.AssignRole(ctx, roster.RoleOwner, "x@example.com")
	wantErr(t, err, roster.ErrForbidden, "admin grants owner")
	for what, f := range map[string]func() error{
		"deactivate": func() error { _, err := adm.DeactivateUser(ctx, e.Owner(), ""); return err },
		"delete":     func() error { _, err := adm.DeleteUser(ctx, e.Owner()); return err },
		"set-role": func() error {
			_, err := adm.SetRoles(ctx, e.Owner(), []string{roster.RoleOwner, roster.RoleAdmin})
			return err
		},
		"password": func() error {
			_, err := adm.SetPassword(ctx, e.Owner(), roster.SetPassword{RandomPassword: true})
			return err
		},
	} {
		wantErr(t, f(), roster.ErrForbidden, "admin "+what+" an owner")
	}
	create(t, a, "own2@example.com", roster.RoleOwner)
	own2 := e.As("own2@example.com")
	must(own2.AssignRole(ctx, roster.RoleOwner, "x@example.com"))(t)
	must(own2.UnassignRole(ctx, roster.RoleOwner, "x@example.com"))(t)
}

func testRoleLocks(t *testing.T, e Env) {
	a := e.Admin()
	desc := "mine"
	_, err := a.UpdateRole(ctx, roster.RoleAdmin, roster.UpdateRole{Description: &desc})
	wantErr(t, err, roster.ErrForbidden, "edit built-in role")
	_, err = a.DeleteRole(ctx, roster.RoleViewer, "")
	wantErr(t, err, roster.ErrForbidden, "delete built-in role")
	must(a.CreateRole(ctx, roster.CreateRole{Name: "ops", Permissions: []string{roster.PermUsersView}}))(t)
	create(t, a, "x@example.com", "ops")
	_, err = a.DeleteRole(ctx, "ops", "")
	wantErr(t, err, roster.ErrConflict, "delete held role")
	_, err = a.DeleteRole(ctx, "ops", "nosuch")
	wantErr(t, err, roster.ErrNotFound, "reassign to unknown role")
	must(a.DeleteRole(ctx, "ops", roster.RoleViewer))(t)
	u := must(a.GetUser(ctx, "x@example.com"))(t)
	if fmt.Sprint(u.Roles) != "[viewer]" {
		t.Fatalf("after reassign roles are %v", u.Roles)
	}
}

func testDeleteActed(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "adm@example.com", roster.RoleAdmin)
	create(t, a, "x@example.com")
	must(e.As("adm@example.com").DeactivateUser(ctx, "x@example.com", ""))(t)
	_, err := a.DeleteUser(ctx, "adm@example.com")
	wantErr(t, err, roster.ErrConflict, "delete a user who acted")
	must(a.DeleteUser(ctx, "x@example.com"))(t)
	_, err = a.GetUser(ctx, "x@example.com")
	wantErr(t, err, roster.ErrNotFound, "deleted user")
}

func testSeats(t *testing.T, e Env) {
	a := e.Admin()
	must(a.SetSetting(ctx, "seats", "2"))(t)
	create(t, a, "x@example.com")
	_, err := a.CreateUser(ctx, roster.CreateUser{Email: "y@example.com"})
	wantErr(t, err, roster.ErrConflict, "create beyond the seat limit")
	must(a.DeactivateUser(ctx, "x@example.com", ""))(t)
	create(t, a, "y@example.com")
	_, err = a.ReactivateUser(ctx, "x@example.com")
	wantErr(t, err, roster.ErrConflict, "reactivate beyond the seat limit")
}

func testPasswords(t *testing.T, e Env) {
	a := e.Admin()
	for _, pw := range []string{"short", "password123", "qwertyuiop", "pw@example.com", string(make([]rune, 0)) + "ééééééé"} {
		_, err := a.CreateUser(ctx, roster.CreateUser{Email: "pw@example.com", Password: pw})
		wantErr(t, err, roster.ErrInvalid, fmt.Sprintf("password %q", pw))
	}
	must(a.SetSetting(ctx, "password.min_length", "12"))(t)
	_, err := a.CreateUser(ctx, roster.CreateUser{Email: "pw@example.com", Password: "elevenchars"})
	wantErr(t, err, roster.ErrInvalid, "password under the configured minimum")
	u := must(a.CreateUser(ctx, roster.CreateUser{Email: "pw@example.com", Password: "twelve chars ok"}))(t)
	if !u.User.HasPassword {
		t.Fatal("created user has no password")
	}
	res := must(a.SetPassword(ctx, "pw@example.com", roster.SetPassword{RandomPassword: true, MustChangePassword: true}))(t)
	if res.Password == "" || !res.User.MustChangePassword {
		t.Fatalf("set-password --random-password gave %+v", res)
	}
}

func testIdempotent(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "x@example.com")
	if r := must(a.CreateUser(ctx, roster.CreateUser{Email: "X@example.com", IfNotExists: true}))(t); r.Changed || r.User.Email != "x@example.com" {
		t.Fatalf("create --if-not-exists of an existing user: %+v", r)
	}
	must(a.DeactivateUser(ctx, "x@example.com", ""))(t)
	before := auditCount(t, e)
	if r := must(a.DeactivateUser(ctx, "x@example.com", ""))(t); r.Changed {
		t.Fatal("second deactivate changed something")
	}
	must(a.ReactivateUser(ctx, "x@example.com"))(t)
	if r := must(a.ReactivateUser(ctx, "x@example.com"))(t); r.Changed {
		t.Fatal("second reactivate changed something")
	}
	if r := must(a.AssignRole(ctx, roster.RoleMember, "x@example.com"))(t); r.Changed {
		t.Fatal("assigning a held role changed something")
	}
	if r := must(a.SetSetting(ctx, "seats", "0"))(t); r.Changed {
		t.Fatal("setting a setting to its value changed something")
	}
	if r := must(a.Init(ctx, roster.InitParams{OwnerEmail: e.Owner(), RandomPassword: true}))(t); r.Changed || r.Password != "" {
		t.Fatalf("init of an initialised store: %+v", r)
	}
	_, err := a.Init(ctx, roster.InitParams{OwnerEmail: "new@example.com", RandomPassword: true})
	wantErr(t, err, roster.ErrConflict, "init asking for another owner")
	if !strings.Contains(err.Error(), e.Owner()) {
		t.Fatalf("init conflict does not name the owner: %v", err)
	}
	if got := auditCount(t, e); got != before+1 {
		t.Fatalf("audit grew by %d; want 1 (the reactivation)", got-before)
	}
}

func testNoPartialWrites(t *testing.T, e Env) {
	a := e.Admin()
	must(a.CreateRole(ctx, roster.CreateRole{Name: "ops", Permissions: []string{roster.PermUsersView}}))(t)
	create(t, a, "x@example.com")
	before := auditCount(t, e)
	// A role list with one unknown role: nothing of it is applied.
	_, err := a.SetRoles(ctx, "x@example.com", []string{"ops", "nosuch"})
	wantErr(t, err, roster.ErrNotFound, "unknown role")
	_, err = a.CreateUser(ctx, roster.CreateUser{Email: "y@example.com", Roles: []string{"ops", "nosuch"}})
	wantErr(t, err, roster.ErrNotFound, "create with unknown role")
	_, err = a.GetUser(ctx, "y@example.com")
	wantErr(t, err, roster.ErrNotFound, "user of a failed create")
	_, err = a.UpdateRole(ctx, "ops", roster.UpdateRole{Add: []string{roster.PermRolesView, "no.such"}})
	wantErr(t, err, roster.ErrNotFound, "unknown permission")
	if r := must(a.GetRole(ctx, "ops"))(t); fmt.Sprint(r.Permissions) != "[users.view]" {
		t.Fatalf("ops has %v after a failed update", r.Permissions)
	}
	if u := must(a.GetUser(ctx, "x@example.com"))(t); fmt.Sprint(u.Roles) != "[member]" {
		t.Fatalf("x has %v after a failed set-role", u.Roles)
	}
	if got := auditCount(t, e); got != before {
		t.Fatalf("failed changes wrote %d audit events", got-before)
	}
}

func testCan(t *testing.T, e Env) {
	a := e.Admin()
	must(a.CreatePermission(ctx, roster.CreatePermission{Name: "clients.view"}))(t)
	must(a.CreatePermission(ctx, roster.CreatePermission{Name: "clients.create", Implies: []string{"clients.view"}}))(t)
	must(a.CreateRole(ctx, roster.CreateRole{Name: "sales", Permissions: []string{"clients.create"}}))(t)
	create(t, a, "s@example.com", "sales")
	d := must(a.Can(ctx, "s@example.com", "clients.view", ""))(t)
	if !d.Allowed || fmt.Sprint(d.GrantedBy) != "[sales]" {
		t.Fatalf("can clients.view: %+v", d)
	}
	if d := must(a.Can(ctx, "s@example.com", roster.PermUsersManage, ""))(t); d.Allowed {
		t.Fatalf("sales can users.manage: %+v", d)
	}
	// Admin holds application permissions registered after it was made.
	if d := must(a.Can(ctx, e.Owner(), "clients.view", ""))(t); !d.Allowed {
		t.Fatalf("owner cannot clients.view: %+v", d)
	}
	must(a.DeactivateUser(ctx, "s@example.com", ""))(t)
	if d := must(a.Can(ctx, "s@example.com", "clients.view", ""))(t); d.Allowed {
		t.Fatal("a deactivated user is allowed")
	}
	_, err := a.Can(ctx, "s@example.com", "no.such", "")
	wantErr(t, err, roster.ErrNotFound, "unknown permission")
	_, err = e.As("s@example.com").Whoami(ctx)
	wantErr(t, err, roster.ErrUnauthenticated, "acting as a deactivated user")
}

func testPaging(t *testing.T, e Env) {
	a := e.Admin()
	for i := range 7 {
		create(t, a, fmt.Sprintf("u%d@example.com", i))
	}
	var seen []string
	f := roster.UserFilter{Limit: 3}
	for {
		page := must(a.ListUsers(ctx, f))(t)
		for _, u := range page.Items {
			seen = append(seen, u.Email)
		}
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	if len(seen) != 8 {
		t.Fatalf("paged through %d users; want 8: %v", len(seen), seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i-1] >= seen[i] {
			t.Fatalf("pages out of order: %v", seen)
		}
	}
	_, err := a.ListUsers(ctx, roster.UserFilter{After: "!!"})
	wantErr(t, err, roster.ErrInvalid, "bad cursor")
}

// testReviewFindings pins fixes of holes found in review: reassigning a
// deleted role's holders is a change of their roles (R5); --if-not-exists
// shows no more than the actor may see; ids are never reused; a link value
// may hold an '@'.
func testReviewFindings(t *testing.T, e Env) {
	a := e.Admin()
	create(t, a, "adm@example.com", roster.RoleAdmin)
	create(t, a, "own2@example.com", roster.RoleOwner)
	must(a.CreateRole(ctx, roster.CreateRole{Name: "helper", Permissions: []string{roster.PermUsersView}}))(t)
	must(a.AssignRole(ctx, "helper", "own2@example.com"))(t)
	_, err := e.As("adm@example.com").DeleteRole(ctx, "helper", roster.RoleViewer)
	wantErr(t, err, roster.ErrForbidden, "an admin reassigning an owner's role")
	must(a.DeleteRole(ctx, "helper", roster.RoleViewer))(t)
	if ev := must(a.ListAudit(ctx, roster.AuditFilter{Action: "role.reassign", Target: "own2@example.com", Limit: 5}))(t); len(ev) != 1 {
		t.Fatalf("role.reassign events for own2: %+v", ev)
	}

	must(a.CreateRole(ctx, roster.CreateRole{Name: "hr", Permissions: []string{roster.PermUsersCreate}}))(t)
	create(t, a, "hr@example.com", "hr")
	must(a.SetRoles(ctx, "hr@example.com", []string{"hr"}))(t)
	got := must(e.As("hr@example.com").CreateUser(ctx, roster.CreateUser{Email: "adm@example.com", IfNotExists: true}))(t)
	if got.Changed || got.User.ID != 0 || len(got.User.Roles) != 0 {
		t.Fatalf("--if-not-exists without users.view showed %+v", got.User)
	}

	tmp := create(t, a, "tmp@example.com")
	must(a.DeleteUser(ctx, "tmp@example.com"))(t)
	fresh := create(t, a, "fresh@example.com")
	if fresh.ID <= tmp.ID {
		t.Fatalf("id %d of a deleted user was given again (%d)", tmp.ID, fresh.ID)
	}
	if ev := must(a.ListAudit(ctx, roster.AuditFilter{Target: "fresh@example.com", Limit: 10}))(t); len(ev) != 1 {
		t.Fatalf("fresh@example.com inherited history: %+v", ev)
	}

	must(a.CreateUser(ctx, roster.CreateUser{Email: "okta@example.com", Name: "Émile Zola", Links: map[string]string{"okta": "ann@corp.example"}}))(t)
	if page := must(a.ListUsers(ctx, roster.UserFilter{Search: "éMILE"}))(t); len(page.Items) != 1 {
		t.Fatalf("--search éMILE found %d users", len(page.Items))
	}
	if u := must(a.GetUser(ctx, "okta:ann@corp.example"))(t); u.Email != "okta@example.com" {
		t.Fatalf("okta:ann@corp.example is %s", u.Email)
	}
}
