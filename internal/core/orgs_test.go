package core_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/contract"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
	"github.com/roster-dev/roster/internal/store/storetest"
	"github.com/roster-dev/roster/internal/testkit"
)

// orgHarness runs the contract inside an organisation that is not the
// system one, beside a neighbour holding the same emails, roles, projects
// and a seat limit of its own. Every rule must hold inside the walls, and
// nothing done inside may reach the neighbour (R21): each case ends by
// checking the neighbour is as it was.
type orgHarness struct {
	open func(t *testing.T) store.Admin
}

type orgEnv struct {
	localEnv
	org string
}

func (h orgHarness) New(t *testing.T) contract.Env {
	db := h.open(t)
	clk := &testkit.WallClock{}
	c := core.New(db, core.WithClock(clk.Now))
	sys := c.As(core.Actor{Name: "local:test"})
	if _, err := sys.Init(ctx, roster.InitParams{OwnerEmail: "root@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	for _, slug := range []string{"acme", "noise"} {
		if _, err := sys.CreateOrg(ctx, roster.CreateOrg{Slug: slug, OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
			t.Fatal(err)
		}
	}
	noise := c.As(core.Actor{Name: "local:test", Org: "noise"})
	fillNeighbour(t, noise)
	before := snapshot(t, noise)
	t.Cleanup(func() {
		if after := snapshot(t, noise); !reflect.DeepEqual(before, after) {
			t.Errorf("R21: the neighbouring organisation changed:\nbefore %+v\nafter  %+v", before, after)
		}
	})
	return orgEnv{localEnv{c: c, clock: clk}, "acme"}
}

func (e orgEnv) Admin() roster.Service {
	return e.c.As(core.Actor{Name: "local:test", Org: e.org})
}

func (e orgEnv) As(user string) roster.Service { return e.c.As(core.Actor{User: user, Org: e.org}) }

func (e orgEnv) StartSession(t *testing.T, user, pw string) string {
	return testkit.StartSession(t, e.c, e.org, user, pw)
}

// fillNeighbour gives the neighbour what the contract's cases make in
// theirs, by the same names: were a wall missing, a case would trip on it.
func fillNeighbour(t *testing.T, svc roster.Service) {
	t.Helper()
	for _, email := range []string{"ann@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "eve@example.com"} {
		name := strings.TrimSuffix(email, "@example.com")
		if _, err := svc.CreateUser(ctx, roster.CreateUser{Email: email, Username: name, Roles: []string{roster.RoleAdmin},
			Password: "neighbour-password-1", Links: map[string]string{"okta": name}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CreatePermission(ctx, roster.CreatePermission{Name: "billing.view"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateRole(ctx, roster.CreateRole{Name: "support", Permissions: []string{"billing.view", roster.PermUsersView}}); err != nil {
		t.Fatal(err)
	}
	for _, slug := range []string{"apollo", "gemini"} {
		if _, err := svc.CreateProject(ctx, roster.CreateProject{Slug: slug}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddMembers(ctx, slug, []string{"ann@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CreateInvitation(ctx, roster.CreateInvitation{Email: "frank@example.com"}); err != nil {
		t.Fatal(err)
	}
	// Full: a seat taken in the neighbour would fail here, not there.
	if _, err := svc.SetSetting(ctx, "seats", "6"); err != nil {
		t.Fatal(err)
	}
}

// neighbour is what an organisation holds, as its own administrator sees it.
type neighbour struct {
	Users       []roster.User
	Roles       []roster.Role
	Permissions []roster.Permission
	Projects    []roster.Project
	Invitations []roster.Invitation
	Tokens      []roster.APIToken
	Settings    roster.Settings
	Audit       int
}

func snapshot(t *testing.T, svc roster.Service) neighbour {
	t.Helper()
	var n neighbour
	var err error
	page, err := svc.ListUsers(ctx, roster.UserFilter{Limit: roster.MaxPageSize})
	n.Users = page.Items
	errs := []error{err}
	n.Roles, err = svc.ListRoles(ctx)
	errs = append(errs, err)
	n.Permissions, err = svc.ListPermissions(ctx)
	errs = append(errs, err)
	n.Projects, err = svc.ListProjects(ctx)
	errs = append(errs, err)
	n.Invitations, err = svc.ListInvitations(ctx, "")
	errs = append(errs, err)
	n.Tokens, err = svc.ListTokens(ctx, roster.TokenFilter{})
	errs = append(errs, err)
	n.Settings, err = svc.GetSettings(ctx)
	errs = append(errs, err)
	// Host settings are the host's, every organisation's alike (R16); an
	// invitation's status moves with the clock the cases advance.
	for _, spec := range roster.SettingSpecs {
		if spec.Host {
			delete(n.Settings, spec.Key)
		}
	}
	for i := range n.Invitations {
		n.Invitations[i].Status = ""
	}
	events, err := svc.ListAudit(ctx, roster.AuditFilter{Limit: 10000})
	n.Audit = len(events)
	if err := errors.Join(append(errs, err)...); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestContractInOrg: every rule of the contract holds inside an
// organisation that is not the system one, and none of it leaks into the
// organisation beside it (R21).
func TestContractInOrg(t *testing.T) { contract.Run(t, orgHarness{open: storetest.SQLite}) }

func TestContractInOrgPostgres(t *testing.T) {
	pgtest.URL(t)
	contract.Run(t, orgHarness{open: storetest.Postgres})
}

func TestSystemAdministrators(t *testing.T) { testSystemAdministrators(t, storetest.SQLite) }

func TestSystemAdministratorsPostgres(t *testing.T) {
	pgtest.URL(t)
	testSystemAdministrators(t, storetest.Postgres)
}

// testSystemAdministrators: orgs.manage and orgs.view holders, and nobody
// else, reach other organisations; what they do there is audited in both
// logs; suspension and deletion act at once.
func testSystemAdministrators(t *testing.T, open func(t *testing.T) store.Admin) {
	db := open(t)
	c := core.New(db)
	local := c.As(core.Actor{Name: "local:test"})
	if _, err := local.Init(ctx, roster.InitParams{OwnerEmail: "root@example.com", Password: "root-password-1", Org: "system", OrgName: "Hosting"}); err != nil {
		t.Fatal(err)
	}
	created, err := local.CreateOrg(ctx, roster.CreateOrg{Slug: "acme", Name: "Acme", OwnerEmail: "boss@acme.test", Password: "boss-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	if created.Org.Users != 1 || created.Org.ActiveUsers != 1 || created.Org.System || created.Owner == nil || !created.Owner.HasPassword {
		t.Fatalf("created: %+v", created)
	}
	// Every organisation has the six locked roles; only the system one orgs.*.
	roles, err := c.As(core.Actor{Name: "local:test", Org: "acme"}).ListRoles(ctx)
	if err != nil || len(roles) != len(roster.BuiltinRoles) {
		t.Fatalf("acme's roles: %v, %v", roles, err)
	}
	assertPerm := func(org string, want bool) {
		t.Helper()
		perms, err := c.As(core.Actor{Name: "local:test", Org: org}).ListPermissions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		has := slices.ContainsFunc(perms, func(p roster.Permission) bool { return p.Name == roster.PermOrgsManage })
		if has != want {
			t.Errorf("%s has orgs.manage: %v, want %v", org, has, want)
		}
	}
	assertPerm("system", true)
	assertPerm("acme", false)

	// A second organisation with the same email is a separate account.
	if _, err := local.CreateOrg(ctx, roster.CreateOrg{Slug: "globex", OwnerEmail: "boss@acme.test", Password: "globex-password-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := local.CreateOrg(ctx, roster.CreateOrg{Slug: "globex", OwnerEmail: "x@y.test", RandomPassword: true}); !errors.Is(err, roster.ErrConflict) {
		t.Fatalf("slug taken: %v", err)
	}
	if res, err := local.CreateOrg(ctx, roster.CreateOrg{Slug: "globex", OwnerEmail: "x@y.test", RandomPassword: true, IfNotExists: true}); err != nil || res.Changed {
		t.Fatalf("--if-not-exists: %+v, %v", res, err)
	}

	var bossToken string
	login := func(org, email, pw string) roster.Service {
		t.Helper()
		octx, err := c.OrgContext(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.SignIn(octx, email, pw, "t")
		if err != nil {
			t.Fatalf("sign in %s in %s: %v", email, org, err)
		}
		svc, err := c.Authenticate(ctx, tok.Token)
		if err != nil {
			t.Fatal(err)
		}
		if email == "boss@acme.test" {
			bossToken = tok.Token
		}
		return svc
	}
	root := login("system", "root@example.com", "root-password-1")
	login("acme", "boss@acme.test", "boss-password-1")
	if _, err := c.SignIn(mustOrgCtx(t, c, "acme"), "boss@acme.test", "globex-password-1", "t"); !errors.Is(err, roster.ErrUnauthenticated) {
		t.Fatalf("globex's password in acme: %v", err)
	}

	// The system administrator acts in acme as its owner would.
	if _, err := core.InOrg(root, "acme").SetPassword(ctx, "boss@acme.test", roster.SetPassword{Password: "reset-by-root-1"}); err != nil {
		t.Fatalf("root sets acme's owner's password: %v", err)
	}
	events, err := core.InOrg(root, "acme").ListAudit(ctx, roster.AuditFilter{Action: "user.set_password"})
	if err != nil || len(events) != 1 || events[0].Actor != "sys:root@example.com" {
		t.Fatalf("acme's log: %+v, %v", events, err)
	}
	events, err = root.ListAudit(ctx, roster.AuditFilter{Action: "user.set_password"})
	if err != nil || len(events) != 1 || events[0].Actor != "root@example.com" || events[0].Details["org"] != "acme" {
		t.Fatalf("the system log: %+v, %v", events, err)
	}

	// Acme's owner sees no other organisation (R21): not found, as a
	// missing one.
	boss := login("acme", "boss@acme.test", "reset-by-root-1")
	for _, slug := range []string{"system", "globex", "nosuch"} {
		if _, err := core.InOrg(boss, slug).ListUsers(ctx, roster.UserFilter{}); !errors.Is(err, roster.ErrNotFound) {
			t.Errorf("acme's owner lists %s's users: %v", slug, err)
		}
		if _, err := boss.GetOrg(ctx, slug); !errors.Is(err, roster.ErrNotFound) {
			t.Errorf("acme's owner shows %s: %v", slug, err)
		}
	}
	if _, err := boss.ListOrgs(ctx); !errors.Is(err, roster.ErrForbidden) {
		t.Errorf("acme's owner lists organisations: %v", err)
	}
	if org, err := boss.GetOrg(ctx, "acme"); err != nil || org.Slug != "acme" {
		t.Errorf("acme's owner shows acme: %+v, %v", org, err)
	}

	// orgs.view reads and does not write.
	if _, err := local.CreateRole(ctx, roster.CreateRole{Name: "auditor", Permissions: []string{roster.PermOrgsView}}); err != nil {
		t.Fatal(err)
	}
	if _, err := local.CreateUser(ctx, roster.CreateUser{Email: "reader@example.com", Roles: []string{"auditor"}, Password: "reader-password-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := local.CreateUser(ctx, roster.CreateUser{Email: "member@example.com", Roles: []string{roster.RoleMember}, Password: "member-password-1"}); err != nil {
		t.Fatal(err)
	}
	reader := login("system", "reader@example.com", "reader-password-1")
	if page, err := core.InOrg(reader, "acme").ListUsers(ctx, roster.UserFilter{}); err != nil || len(page.Items) != 1 {
		t.Errorf("orgs.view lists acme's users: %+v, %v", page, err)
	}
	if _, err := core.InOrg(reader, "acme").CreateUser(ctx, roster.CreateUser{Email: "x@acme.test"}); !errors.Is(err, roster.ErrForbidden) {
		t.Errorf("orgs.view creates in acme: %v", err)
	}
	if orgs, err := reader.ListOrgs(ctx); err != nil || len(orgs) != 3 {
		t.Errorf("orgs.view lists organisations: %+v, %v", orgs, err)
	}
	member := login("system", "member@example.com", "member-password-1")
	if _, err := core.InOrg(member, "acme").ListUsers(ctx, roster.UserFilter{}); !errors.Is(err, roster.ErrNotFound) {
		t.Errorf("a member of the system organisation lists acme: %v", err)
	}
	// R4: orgs.view is granted only by who holds it.
	if _, err := local.CreateRole(ctx, roster.CreateRole{Name: "helpdesk", Permissions: []string{roster.PermUsersView, roster.PermUsersManage}}); err != nil {
		t.Fatal(err)
	}
	if _, err := local.CreateUser(ctx, roster.CreateUser{Email: "desk@example.com", Roles: []string{"helpdesk"}, Password: "desk-password-1"}); err != nil {
		t.Fatal(err)
	}
	desk := login("system", "desk@example.com", "desk-password-1")
	if _, err := desk.SetRoles(ctx, "member@example.com", []string{"auditor"}); !errors.Is(err, roster.ErrForbidden) {
		t.Errorf("granting orgs.view without holding it: %v", err)
	}

	// Suspension stops acme's tokens and sign-ins at once, and keeps its data.
	suspend, resume := true, false
	if _, err := root.UpdateOrg(ctx, "acme", roster.UpdateOrg{Suspended: &suspend}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, bossToken); !errors.Is(err, roster.ErrUnauthenticated) {
		t.Errorf("a suspended organisation's token: %v", err)
	}
	if _, err := c.SignIn(mustOrgCtx(t, c, "acme"), "boss@acme.test", "reset-by-root-1", "t"); !errors.Is(err, roster.ErrUnauthenticated) {
		t.Errorf("sign-in to a suspended organisation: %v", err)
	}
	if page, err := core.InOrg(root, "acme").ListUsers(ctx, roster.UserFilter{}); err != nil || len(page.Items) != 1 {
		t.Errorf("a suspended organisation's data: %+v, %v", page, err)
	}
	if _, err := root.UpdateOrg(ctx, "system", roster.UpdateOrg{Suspended: &suspend}); !errors.Is(err, roster.ErrForbidden) {
		t.Errorf("suspending the system organisation: %v", err)
	}
	if _, err := root.UpdateOrg(ctx, "acme", roster.UpdateOrg{Suspended: &resume}); err != nil {
		t.Fatal(err)
	}
	login("acme", "boss@acme.test", "reset-by-root-1")

	// Deletion: never the system organisation; acme goes whole, with an
	// org.delete event and its counts in the system log.
	if _, err := root.DeleteOrg(ctx, "system", "system"); !errors.Is(err, roster.ErrForbidden) {
		t.Errorf("deleting the system organisation: %v", err)
	}
	if _, err := root.DeleteOrg(ctx, "acme", "globex"); !errors.Is(err, roster.ErrInvalid) {
		t.Errorf("deleting with the wrong confirmation: %v", err)
	}
	res, err := root.DeleteOrg(ctx, "acme", "acme")
	if err != nil || res.Deleted["users"] != 1 {
		t.Fatalf("delete acme: %+v, %v", res, err)
	}
	if _, err := root.GetOrg(ctx, "acme"); !errors.Is(err, roster.ErrNotFound) {
		t.Errorf("acme after deletion: %v", err)
	}
	events, err = root.ListAudit(ctx, roster.AuditFilter{Action: "org.delete"})
	if err != nil || len(events) != 1 || events[0].Target != "acme" {
		t.Fatalf("org.delete: %+v, %v", events, err)
	}
	if page, err := core.InOrg(root, "globex").ListUsers(ctx, roster.UserFilter{}); err != nil || len(page.Items) != 1 || page.Items[0].Email != "boss@acme.test" {
		t.Errorf("globex after acme's deletion: %+v, %v", page, err)
	}
}

var ctx = context.Background()

func mustOrgCtx(t *testing.T, c *core.Core, slug string) context.Context {
	t.Helper()
	octx, err := c.OrgContext(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	return octx
}

// TestInitInOrg: init naming another organisation of an initialised store
// makes it with its owner, as org create does for the local
// administrator; repeated, it is unchanged, and it names the owner that
// organisation has, not the system organisation's.
func TestInitInOrg(t *testing.T) {
	c := core.New(storetest.SQLite(t))
	sys := c.As(core.Actor{Name: "local:test"})
	if _, err := sys.Init(ctx, roster.InitParams{OwnerEmail: "root@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	p := roster.InitParams{Org: "acme", OwnerEmail: "owner@example.com"}
	if _, err := sys.Init(ctx, p); !errors.Is(err, roster.ErrPasswordRequired) {
		t.Fatalf("no password: %v", err)
	}
	p.RandomPassword = true
	res, err := sys.Init(ctx, p)
	if err != nil || !res.Changed || res.Owner.Email != "owner@example.com" || res.Password == "" {
		t.Fatalf("init acme: %+v %v", res, err)
	}
	if again, err := sys.Init(ctx, p); err != nil || again.Changed || again.Owner.ID != res.Owner.ID {
		t.Fatalf("again: %+v %v", again, err)
	}
	p.OwnerEmail = "root@example.com"
	if _, err := sys.Init(ctx, p); !errors.Is(err, roster.ErrConflict) || !strings.Contains(err.Error(), "owner@example.com") {
		t.Fatalf("another owner: %v", err)
	}
	acme := c.As(core.Actor{Name: "local:test", Org: "acme"})
	if u, err := acme.GetUser(ctx, "owner@example.com"); err != nil || !slices.Contains(u.Roles, roster.RoleOwner) {
		t.Fatalf("acme's owner: %+v %v", u, err)
	}
	if _, err := sys.GetUser(ctx, "owner@example.com"); !errors.Is(err, roster.ErrNotFound) {
		t.Fatalf("the system organisation has acme's owner: %v", err)
	}
}
