package contract

import (
	"fmt"
	"slices"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
)

// projectCases are the rules of projects and memberships (R8, R12, R13).
var projectCases = []struct {
	name string
	fn   func(*testing.T, Env)
}{
	{"projects visible to members and view_all only", testProjectVisibility},
	{"R12 managers manage members of their projects only", testManagerMembers},
	{"R8 deactivated users cannot join, keep memberships", testMembersDeactivated},
	{"archived projects take no new members", testArchived},
	{"deleting a project removes memberships", testDeleteProject},
	{"R13 repeated membership changes change nothing", testMembersIdempotent},
	{"project slugs", testSlugs},
	{"can --project", testCanProject},
	{"several members in one call", testMembersBatch},
	{"holes found in the second review stay closed", testSecondReview},
}

func project(t *testing.T, s roster.Service, slug string) {
	t.Helper()
	must(s.CreateProject(ctx, roster.CreateProject{Slug: slug}))(t)
}

func slugs(ps []roster.Project) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Slug)
	}
	return out
}

func testProjectVisibility(t *testing.T, e Env) {
	a := e.Admin()
	project(t, a, "alpha")
	project(t, a, "beta")
	create(t, a, "mem@example.com", roster.RoleMember)
	create(t, a, "view@example.com", roster.RoleViewer)
	must(addMember(a, "alpha", "mem@example.com"))(t)
	mem, view := e.As("mem@example.com"), e.As("view@example.com")
	if got := slugs(must(mem.ListProjects(ctx))(t)); fmt.Sprint(got) != "[alpha]" {
		t.Fatalf("a member sees %v", got)
	}
	if got := slugs(must(view.ListProjects(ctx))(t)); fmt.Sprint(got) != "[alpha beta]" {
		t.Fatalf("a viewer sees %v", got)
	}
	_, err := mem.GetProject(ctx, "beta")
	wantErr(t, err, roster.ErrNotFound, "a member showing another project")
	_, err = mem.ListUsers(ctx, roster.UserFilter{Project: "beta"})
	wantErr(t, err, roster.ErrNotFound, "a member listing another project's users")
	must(addMember(a, "beta", "view@example.com"))(t)
	// A user's projects show only what the asker may see.
	if u := must(mem.GetUser(ctx, "view@example.com"))(t); len(u.Projects) != 0 {
		t.Fatalf("a member sees the viewer's projects %v", u.Projects)
	}
	if u := must(view.GetUser(ctx, "view@example.com"))(t); fmt.Sprint(u.Projects) != "[beta]" {
		t.Fatalf("the viewer's own projects: %v", u.Projects)
	}
	_, err = mem.CreateProject(ctx, roster.CreateProject{Slug: "gamma"})
	wantErr(t, err, roster.ErrForbidden, "a member creating a project")
	_, err = view.ArchiveProject(ctx, "alpha", true)
	wantErr(t, err, roster.ErrForbidden, "a viewer archiving a project")
}

func testManagerMembers(t *testing.T, e Env) {
	a := e.Admin()
	project(t, a, "alpha")
	project(t, a, "beta")
	create(t, a, "boss@example.com", roster.RoleManager)
	create(t, a, "x@example.com", roster.RoleMember)
	must(addMember(a, "alpha", "boss@example.com"))(t)
	boss := e.As("boss@example.com")
	r := must(addMember(boss, "alpha", "x@example.com"))(t)
	if !r.Changed || fmt.Sprint(r.User.Roles) != "[member]" {
		t.Fatalf("manager adds a member: %+v", r)
	}
	_, err := addMember(boss, "beta", "x@example.com")
	wantErr(t, err, roster.ErrNotFound, "a manager adding to a project they cannot see")
	create(t, a, "vboss@example.com", roster.RoleManager, roster.RoleViewer)
	_, err = addMember(e.As("vboss@example.com"), "beta", "x@example.com")
	wantErr(t, err, roster.ErrForbidden, "a manager who sees but is not in the project")
	must(removeMember(boss, "alpha", "x@example.com"))(t)
	_, err = addMember(e.As("x@example.com"), "alpha", "x@example.com")
	wantErr(t, err, roster.ErrNotFound, "a member without projects.members")
	// Creating a user into a project follows the same rule.
	_, err = boss.CreateUser(ctx, roster.CreateUser{Email: "y@example.com", Projects: []string{"alpha"}})
	wantErr(t, err, roster.ErrForbidden, "a manager creating users (no users.create)")
	u := must(a.CreateUser(ctx, roster.CreateUser{Email: "y@example.com", Projects: []string{"alpha", "beta"}}))(t)
	if fmt.Sprint(u.User.Projects) != "[alpha beta]" {
		t.Fatalf("created with projects %v", u.User.Projects)
	}
}

func testMembersDeactivated(t *testing.T, e Env) {
	a := e.Admin()
	project(t, a, "alpha")
	project(t, a, "beta")
	create(t, a, "x@example.com")
	must(addMember(a, "alpha", "x@example.com"))(t)
	must(a.DeactivateUser(ctx, "x@example.com", ""))(t)
	_, err := addMember(a, "beta", "x@example.com")
	wantErr(t, err, roster.ErrConflict, "adding a deactivated user")
	u := must(a.ReactivateUser(ctx, "x@example.com"))(t)
	if fmt.Sprint(u.User.Projects) != "[alpha]" {
		t.Fatalf("after reactivation projects are %v", u.User.Projects)
	}
}

func testArchived(t *testing.T, e Env) {
	a := e.Admin()
	project(t, a, "alpha")
	create(t, a, "x@example.com")
	create(t, a, "y@example.com")
	must(addMember(a, "alpha", "x@example.com"))(t)
	if r := must(a.ArchiveProject(ctx, "alpha", true))(t); !r.Changed || !r.Project.Archived || r.Project.Members != 1 {
		t.Fatalf("archive: %+v", r)
	}
	if r := must(a.ArchiveProject(ctx, "alpha", true))(t); r.Changed {
		t.Fatal("archiving twice changed something")
	}
	_, err := addMember(a, "alpha", "y@example.com")
	wantErr(t, err, roster.ErrConflict, "adding to an archived project")
	must(a.ArchiveProject(ctx, "alpha", false))(t)
	must(addMember(a, "alpha", "y@example.com"))(t)
}

func testDeleteProject(t *testing.T, e Env) {
	a := e.Admin()
	project(t, a, "alpha")
	create(t, a, "x@example.com")
	must(addMember(a, "alpha", "x@example.com"))(t)
	if p := must(a.DeleteProject(ctx, "alpha"))(t); p.Members != 1 {
		t.Fatalf("deleted project: %+v", p)
	}
	if u := must(a.GetUser(ctx, "x@example.com"))(t); len(u.Projects) != 0 {
		t.Fatalf("memberships outlived their project: %v", u.Projects)
	}
	ev := must(a.ListAudit(ctx, roster.AuditFilter{Action: "project.delete", Limit: 5}))(t)
	if len(ev) != 1 || fmt.Sprint(ev[0].Details["members"]) != "1" {
		t.Fatalf("project.delete events: %+v", ev)
	}
	// The member's own history shows the membership ending.
	ev = must(a.ListAudit(ctx, roster.AuditFilter{Target: "x@example.com", Action: "project.member.remove", Limit: 5}))(t)
	if len(ev) != 1 || ev[0].Details["reason"] != "project deleted" {
		t.Fatalf("member's removal events: %+v", ev)
	}
	_, err := a.GetProject(ctx, "alpha")
	wantErr(t, err, roster.ErrNotFound, "a deleted project")
}

func testMembersIdempotent(t *testing.T, e Env) {
	a := e.Admin()
	project(t, a, "alpha")
	create(t, a, "x@example.com")
	must(addMember(a, "alpha", "x@example.com"))(t)
	before := auditCount(t, e)
	if r := must(addMember(a, "alpha", "x@example.com"))(t); r.Changed {
		t.Fatal("adding a member twice changed something")
	}
	must(removeMember(a, "alpha", "x@example.com"))(t)
	if r := must(removeMember(a, "alpha", "x@example.com"))(t); r.Changed {
		t.Fatal("removing a non-member changed something")
	}
	if got := auditCount(t, e); got != before+1 {
		t.Fatalf("audit grew by %d; want 1", got-before)
	}
	_, err := addMember(a, "alpha", "nobody@example.com")
	wantErr(t, err, roster.ErrNotFound, "adding an unknown user")
	_, err = addMember(a, "nope", "x@example.com")
	wantErr(t, err, roster.ErrNotFound, "adding to an unknown project")
}

func testSlugs(t *testing.T, e Env) {
	a := e.Admin()
	for _, bad := range []string{"", "Alpha", "-a", "a b", "a_b", "ä"} {
		_, err := a.CreateProject(ctx, roster.CreateProject{Slug: bad})
		wantErr(t, err, roster.ErrInvalid, fmt.Sprintf("slug %q", bad))
	}
	project(t, a, "alpha")
	_, err := a.CreateProject(ctx, roster.CreateProject{Slug: "alpha"})
	wantErr(t, err, roster.ErrConflict, "a duplicate slug")
	project(t, a, "beta")
	s := "beta"
	_, err = a.UpdateProject(ctx, "alpha", roster.UpdateProject{Slug: &s})
	wantErr(t, err, roster.ErrConflict, "renaming onto a taken slug")
	s = "gamma"
	r := must(a.UpdateProject(ctx, "alpha", roster.UpdateProject{Slug: &s}))(t)
	if r.Project.Slug != "gamma" || !slices.Contains(slugs(must(a.ListProjects(ctx))(t)), "gamma") {
		t.Fatalf("renamed: %+v", r)
	}
}

func testCanProject(t *testing.T, e Env) {
	a := e.Admin()
	project(t, a, "alpha")
	project(t, a, "beta")
	create(t, a, "boss@example.com", roster.RoleManager)
	must(addMember(a, "alpha", "boss@example.com"))(t)
	if d := must(a.Can(ctx, "boss@example.com", roster.PermProjectsMembers, "alpha"))(t); !d.Allowed {
		t.Fatalf("manager in alpha: %+v", d)
	}
	if d := must(a.Can(ctx, "boss@example.com", roster.PermProjectsMembers, "beta"))(t); d.Allowed {
		t.Fatalf("manager outside beta: %+v", d)
	}
	if d := must(a.Can(ctx, e.Owner(), roster.PermProjectsMembers, "beta"))(t); !d.Allowed {
		t.Fatalf("owner in beta: %+v", d)
	}
	_, err := a.Can(ctx, "boss@example.com", roster.PermProjectsMembers, "nope")
	wantErr(t, err, roster.ErrNotFound, "can for an unknown project")
}

// addMember and removeMember change one membership and return its outcome
// as a single result and error.
func addMember(s roster.Service, slug, ref string) (roster.MemberResult, error) {
	return one(s.AddMembers(ctx, slug, []string{ref}))
}

func removeMember(s roster.Service, slug, ref string) (roster.MemberResult, error) {
	return one(s.RemoveMembers(ctx, slug, []string{ref}))
}

func one(out []roster.MemberOutcome, err error) (roster.MemberResult, error) {
	if err != nil {
		return roster.MemberResult{}, err
	}
	return out[0].Result, out[0].Err
}

func testMembersBatch(t *testing.T, e Env) {
	a := e.Admin()
	project(t, a, "alpha")
	create(t, a, "x@example.com")
	create(t, a, "gone@example.com")
	create(t, a, "y@example.com")
	must(a.DeactivateUser(ctx, "gone@example.com", ""))(t)
	out := must(a.AddMembers(ctx, "alpha", []string{"x@example.com", "nobody@example.com", "gone@example.com", "y@example.com"}))(t)
	wantErr(t, out[1].Err, roster.ErrNotFound, "an unknown user among several")
	wantErr(t, out[2].Err, roster.ErrConflict, "a deactivated user among several")
	if out[0].Err != nil || out[3].Err != nil || !out[0].Result.Changed || !out[3].Result.Changed {
		t.Fatalf("the others were not added: %+v", out)
	}
	if p := must(a.GetProject(ctx, "alpha"))(t); p.Members != 2 {
		t.Fatalf("alpha has %d members; want 2", p.Members)
	}
}

// testSecondReview pins fixes of the second review: projects.manage acts
// on every project; membership results tell no more than users.view
// allows; resending needs the right to invite with the user's roles;
// accepting grants, and records, the user's current roles.
func testSecondReview(t *testing.T, e Env) {
	a := e.Admin()
	project(t, a, "alpha")
	create(t, a, "x@example.com")
	must(a.CreateRole(ctx, roster.CreateRole{Name: "pm", Permissions: []string{roster.PermProjectsManage}}))(t)
	create(t, a, "pm@example.com", "pm")
	must(a.SetRoles(ctx, "pm@example.com", []string{"pm"}))(t)
	pm := e.As("pm@example.com")
	must(addMember(pm, "alpha", "x@example.com"))(t)
	r := must(removeMember(pm, "alpha", "x@example.com"))(t)
	if r.User.ID != 0 || len(r.User.Roles) != 0 || r.User.Email != "x@example.com" {
		t.Fatalf("a member change showed %+v to an actor without users.view", r.User)
	}
	must(pm.ArchiveProject(ctx, "alpha", true))(t)

	must(a.CreateRole(ctx, roster.CreateRole{Name: "um", Permissions: []string{roster.PermUsersManage, roster.PermUsersView}}))(t)
	create(t, a, "um@example.com", "um")
	inv := invite(t, a, "i@example.com")
	_, err := e.As("um@example.com").ResendInvitation(ctx, "i@example.com", 0, false)
	wantErr(t, err, roster.ErrForbidden, "resending without users.create")
	must(a.SetRoles(ctx, "i@example.com", []string{roster.RoleViewer}))(t)
	if err := accept(a, inv.Token); err != nil {
		t.Fatal(err)
	}
	ev := must(a.ListAudit(ctx, roster.AuditFilter{Action: "invite.accept", Limit: 1}))(t)
	if fmt.Sprint(ev[0].Details["roles"]) != "[viewer]" {
		t.Fatalf("invite.accept recorded roles %v", ev[0].Details["roles"])
	}
	_, err = a.SetSetting(ctx, "invite.ttl", "3650d")
	wantErr(t, err, roster.ErrInvalid, "a ten-year invitation lifetime")
}
