package core_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/contract"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/storetest"
	"github.com/roster-dev/roster/internal/wire"
)

// call is one Service call aiming at ref, with w's things of the
// actor's own organisation for the rest.
type call func(s roster.Service, w contract.Wall, ref string) (any, error)

// localAttempt is a call and the kind of reference it aims.
type localAttempt struct {
	aim  contract.Aim
	call call
}

func strp(s string) *string { return &s }

// id is ref as a token id; a reference that is not one stays invalid.
func id(ref string) int64 {
	n, _ := strconv.ParseInt(ref, 10, 64)
	return n
}

func jsonl(field, ref string) *strings.Reader {
	return strings.NewReader(fmt.Sprintf(`{"email":"new-a@example.com","%s":[%q]}`, field, ref))
}

// localWallCases are the attempts on every Service method that takes a
// reference. A method missing from both it and localWallSkips fails the
// test.
var localWallCases = map[string][]localAttempt{
	"ListUsers": {
		{contract.AimRole, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.ListUsers(ctx, roster.UserFilter{Role: ref})
		}},
		{contract.AimProject, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.ListUsers(ctx, roster.UserFilter{Project: ref})
		}},
		{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.ListUsers(ctx, roster.UserFilter{Search: ref})
		}},
	},
	"GetUser": {{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) { return s.GetUser(ctx, ref) }}},
	"CreateUser": {
		{contract.AimRole, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.CreateUser(ctx, roster.CreateUser{Email: "new-a@example.com", Roles: []string{ref}})
		}},
		{contract.AimProject, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.CreateUser(ctx, roster.CreateUser{Email: "new-a@example.com", Projects: []string{ref}})
		}},
	},
	"UpdateUser": {{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.UpdateUser(ctx, ref, roster.UpdateUser{Name: strp("X")})
	}}},
	"SetRoles": {
		{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.SetRoles(ctx, ref, []string{roster.RoleMember})
		}},
		{contract.AimRole, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.SetRoles(ctx, w.Member, []string{ref})
		}},
	},
	"SetPassword": {{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.SetPassword(ctx, ref, roster.SetPassword{Password: contract.WallPassword + "x"})
	}}},
	"DeactivateUser": {{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.DeactivateUser(ctx, ref, "")
	}}},
	"SetExpiry": {{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.SetExpiry(ctx, ref, "never")
	}}},
	"ReactivateUser": {{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) { return s.ReactivateUser(ctx, ref) }}},
	"DeleteUser":     {{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) { return s.DeleteUser(ctx, ref) }}},
	"SetProjects": {
		{contract.AimUser, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.SetProjects(ctx, ref, []string{w.Project})
		}},
		{contract.AimProject, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.SetProjects(ctx, w.Member, []string{ref})
		}},
	},
	"Import": {
		{contract.AimRole, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.Import(ctx, jsonl("roles", ref), roster.ImportParams{Format: "jsonl", DryRun: true})
		}},
		{contract.AimProject, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.Import(ctx, jsonl("projects", ref), roster.ImportParams{Format: "jsonl", DryRun: true})
		}},
	},
	"Apply": {
		{contract.AimRole, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.Apply(ctx, strings.NewReader(`{"users":[{"email":"new-a@example.com","roles":["`+ref+`"]}]}`), roster.ApplyParams{DryRun: true})
		}},
		{contract.AimProject, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.Apply(ctx, strings.NewReader(`{"users":[{"email":"new-a@example.com","roles":["member"],"projects":["`+ref+`"]}]}`), roster.ApplyParams{DryRun: true})
		}},
		{contract.AimPermission, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.Apply(ctx, strings.NewReader(`{"roles":[{"name":"new-role","permissions":["`+ref+`"]}]}`), roster.ApplyParams{DryRun: true})
		}},
	},
	"GetRole": {{contract.AimRole, func(s roster.Service, _ contract.Wall, ref string) (any, error) { return s.GetRole(ctx, ref) }}},
	"CreateRole": {{contract.AimPermission, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.CreateRole(ctx, roster.CreateRole{Name: "new-role", Permissions: []string{ref}})
	}}},
	"UpdateRole": {
		{contract.AimRole, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.UpdateRole(ctx, ref, roster.UpdateRole{Description: strp("X")})
		}},
		{contract.AimPermission, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.UpdateRole(ctx, w.CustomRole, roster.UpdateRole{Add: []string{ref}})
		}},
	},
	"DeleteRole": {
		{contract.AimRole, func(s roster.Service, _ contract.Wall, ref string) (any, error) { return s.DeleteRole(ctx, ref, "") }},
		{contract.AimRole, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.DeleteRole(ctx, w.CustomRole, ref)
		}},
	},
	"AssignRole": {
		{contract.AimRole, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.AssignRole(ctx, ref, w.Member)
		}},
		{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.AssignRole(ctx, roster.RoleMember, ref)
		}},
	},
	"UnassignRole": {
		{contract.AimRole, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.UnassignRole(ctx, ref, w.Member)
		}},
		{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.UnassignRole(ctx, roster.RoleMember, ref)
		}},
	},
	"CreatePermission": {{contract.AimPermission, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.CreatePermission(ctx, roster.CreatePermission{Name: "a.new", Implies: []string{ref}})
	}}},
	"DeletePermission": {{contract.AimPermission, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.DeletePermission(ctx, ref)
	}}},
	"CreateInvitation": {
		{contract.AimRole, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.CreateInvitation(ctx, roster.CreateInvitation{Email: "new-a@example.com", Roles: []string{ref}})
		}},
		{contract.AimProject, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.CreateInvitation(ctx, roster.CreateInvitation{Email: "new-a@example.com", Projects: []string{ref}})
		}},
	},
	"ResendInvitation": {{contract.AimInvitation, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.ResendInvitation(ctx, ref, 0, false)
	}}},
	"RevokeInvitation": {{contract.AimInvitation, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.RevokeInvitation(ctx, ref)
	}}},
	"CreateResetLink": {{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.CreateResetLink(ctx, ref, 0, false)
	}}},
	"GetProject": {{contract.AimProject, func(s roster.Service, _ contract.Wall, ref string) (any, error) { return s.GetProject(ctx, ref) }}},
	"UpdateProject": {{contract.AimProject, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.UpdateProject(ctx, ref, roster.UpdateProject{Name: strp("X")})
	}}},
	"ArchiveProject": {{contract.AimProject, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.ArchiveProject(ctx, ref, true)
	}}},
	"DeleteProject": {{contract.AimProject, func(s roster.Service, _ contract.Wall, ref string) (any, error) { return s.DeleteProject(ctx, ref) }}},
	"AddMembers": {
		{contract.AimProject, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.AddMembers(ctx, ref, []string{w.Member})
		}},
		{contract.AimUser, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.AddMembers(ctx, w.Project, []string{ref})
		}},
	},
	"RemoveMembers": {
		{contract.AimProject, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.RemoveMembers(ctx, ref, []string{w.Member})
		}},
		{contract.AimUser, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.RemoveMembers(ctx, w.Project, []string{ref})
		}},
	},
	"CreateToken": {{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.CreateToken(ctx, roster.CreateToken{User: ref, Name: "t"})
	}}},
	"ListTokens": {{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.ListTokens(ctx, roster.TokenFilter{User: ref})
	}}},
	"RevokeToken": {{contract.AimToken, func(s roster.Service, _ contract.Wall, ref string) (any, error) { return s.RevokeToken(ctx, id(ref)) }}},
	"RotateToken": {{contract.AimToken, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.RotateToken(ctx, roster.RotateToken{ID: id(ref)})
	}}},
	"Can": {
		{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.Can(ctx, ref, roster.PermUsersView, "")
		}},
		{contract.AimPermission, func(s roster.Service, w contract.Wall, ref string) (any, error) { return s.Can(ctx, w.Member, ref, "") }},
		{contract.AimProject, func(s roster.Service, w contract.Wall, ref string) (any, error) {
			return s.Can(ctx, w.Member, roster.PermUsersView, ref)
		}},
	},
	"ListAudit": {
		{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.ListAudit(ctx, roster.AuditFilter{Actor: ref})
		}},
		{contract.AimUser, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
			return s.ListAudit(ctx, roster.AuditFilter{Target: ref})
		}},
	},
	"GetOrg": {{contract.AimOrg, func(s roster.Service, _ contract.Wall, ref string) (any, error) { return s.GetOrg(ctx, ref) }}},
	"CreateOrg": {{contract.AimOrg, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.CreateOrg(ctx, roster.CreateOrg{Slug: ref, OwnerEmail: "o@example.com"})
	}}},
	"UpdateOrg": {{contract.AimOrg, func(s roster.Service, _ contract.Wall, ref string) (any, error) {
		return s.UpdateOrg(ctx, ref, roster.UpdateOrg{Name: strp("X")})
	}}},
	"DeleteOrg": {{contract.AimOrg, func(s roster.Service, _ contract.Wall, ref string) (any, error) { return s.DeleteOrg(ctx, ref, ref) }}},
}

// localWallSkips are the methods that take no reference another
// organisation could hold, each with the reason.
var localWallSkips = map[string]string{
	"StreamAudit":      "the caller's organisation's log; an id to resume after is a position, not a reference",
	"VerifyAudit":      "the caller's organisation's log",
	"PruneAudit":       "the caller's organisation's log",
	"Init":             "initialises the organisation acted in; names nothing of another",
	"Whoami":           "the caller only",
	"ChangePassword":   "the caller only",
	"Notices":          "the caller only",
	"Export":           "the caller's organisation",
	"ListRoles":        "lists the caller's organisation",
	"ListPermissions":  "lists the caller's organisation",
	"ListInvitations":  "lists the caller's organisation",
	"ListProjects":     "lists the caller's organisation",
	"CreateProject":    "names a new project, not one of another organisation",
	"GetSettings":      "the caller's organisation's settings",
	"SetSetting":       "a key names a setting of every organisation alike; the other's are compared",
	"ListOrgs":         "system administrators only (TestOrgs)",
	"AcceptInvitation": "a link's secret is its own authority and names its organisation",
	"RedeemResetLink":  "a link's secret is its own authority and names its organisation",
}

// localActor is the local administrator acting in the home organisation
// (as the store's OS user: a system administrator, so organisations
// themselves are not behind a wall for it).
const localActor = "local"

// TestWall: R21 for every Service method, actor role and kind of
// reference, locally on SQLite; each actor has a store of its own.
func TestWall(t *testing.T) { testWall(t, storetest.SQLite) }

// TestWallPostgres is TestWall on PostgreSQL (ROSTER_TEST_POSTGRES).
func TestWallPostgres(t *testing.T) { testWall(t, storetest.Postgres) }

func testWall(t *testing.T, open func(*testing.T) store.Admin) {
	svc := reflect.TypeFor[roster.Service]()
	for i := range svc.NumMethod() {
		name := svc.Method(i).Name
		_, skip := localWallSkips[name]
		if _, ok := localWallCases[name]; !ok && !skip {
			t.Errorf("Service.%s: no case in localWallCases and no reason in localWallSkips", name)
		}
	}
	for name := range localWallCases {
		if _, ok := svc.MethodByName(name); !ok {
			t.Errorf("localWallCases has %s, which is no method of Service", name)
		}
	}
	if t.Failed() {
		return
	}
	for _, role := range append(slices.Clone(contract.WallRoles), localActor) {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			c := core.New(open(t))
			sys := c.As(core.Actor{Name: "local:test"})
			if _, err := sys.Init(ctx, roster.InitParams{OwnerEmail: "root@example.com", RandomPassword: true}); err != nil {
				t.Fatal(err)
			}
			w := contract.BuildWall(t, sys, func(org string) roster.Service {
				return c.As(core.Actor{Name: "local:test", Org: org})
			})
			actor := core.Actor{User: w.Actors[role], Org: contract.WallHome}
			if role == localActor {
				actor = core.Actor{Name: "local:test", Org: contract.WallHome}
			}
			s := c.As(actor)
			other := c.As(core.Actor{Name: "local:test", Org: contract.WallOther})
			before := contract.Snapshot(t, other)
			for name, attempts := range localWallCases {
				for _, a := range attempts {
					if role == localActor && a.aim == contract.AimOrg {
						continue
					}
					for _, ref := range w.Refs[a.aim] {
						got := outcome(t, ref.Other, func() (any, error) { return a.call(s, w, ref.Other) })
						want := outcome(t, ref.None, func() (any, error) { return a.call(s, w, ref.None) })
						if got != want {
							t.Errorf("R21: %s by %s: another organisation's thing answers\n\t%s\nwhere none answers\n\t%s", name, ref.Shape, got, want)
						}
					}
				}
			}
			if after := contract.Snapshot(t, other); !bytes.Equal(before, after) {
				t.Errorf("R21: organisation %s changed:\nbefore %s\nafter  %s", contract.WallOther, before, after)
			}
		})
	}
}

// outcome is a call's result or error as JSON (an error as the API
// would answer it), with ref written REF wherever it stands alone.
func outcome(t *testing.T, ref string, fn func() (any, error)) string {
	t.Helper()
	res, err := fn()
	var v any = res
	if err != nil {
		v = wire.Detail(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return contract.Masked(string(b), ref)
}
