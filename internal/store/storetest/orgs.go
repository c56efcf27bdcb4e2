package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Organisations are walls (R21): each test here puts a neighbour
// organisation next to the one it looks at, holding the same emails,
// usernames, links, slugs, role and permission names, and checks that
// nothing of one is read, counted or changed from the other.
var orgTests = []test{
	{"a new organisation has roster's catalog, the system one orgs.*",
		[]string{"InsertOrg", "OrgByID", "OrgBySlug", "Orgs", "ManyOrgs", "Org", "LoadCatalog"}, testOrgCatalog},
	{"an organisation's slug is unique", []string{"InsertOrg"}, testOrgSlugUnique},
	{"UpdateOrg renames and suspends", []string{"UpdateOrg", "OrgByID", "OrgBySlug"}, testUpdateOrg},
	{"UpdateOrg changes a slug to a free one only", []string{"UpdateOrg", "OrgBySlug"}, testUpdateOrgSlug},
	{"two organisations hold the same names apart",
		[]string{"InsertUser", "SetLink", "InsertProject", "InsertRole", "InsertPermission", "SetSetting", "UserByRef"}, testOrgSameNames},
	{"nothing of a neighbour is listed, counted or found",
		[]string{"ListUsers", "CountActive", "CountActiveOwners", "UserCount", "FirstOwner", "Holders", "RoleHolderIDs",
			"ListProjects", "CountProjects", "Members", "IsMember", "ListInvitations", "ListTokens", "ListAudit", "Settings",
			"UsersByKey", "UserByRef", "EmailTaken", "UsernameTaken", "LinkTaken", "TokenByID", "TokenByHash", "LatestLink",
			"CountLinksSince", "PermissionUsers", "ProjectBySlug", "HasActed", "NoticesSeen"}, testOrgWallReads},
	{"nothing of a neighbour is changed",
		[]string{"UpdateUser", "DeleteUser", "SetUserRoles", "DeleteLink", "RevokeTokens", "RevokeLinks", "EndSessions",
			"EndSessionsExcept", "UpdateProject", "DeleteProject", "RemoveMember", "DeleteRole", "DeletePermission",
			"UpdateRoleDescription", "SetRolePermissions", "MoveRoleHolders", "ConsumeLink", "MarkSent", "TouchToken", "SetTokenScope",
			"ReplaceTokenSecret", "TouchSession", "SetNoticesSeen", "AddMember", "InsertMembers"}, testOrgWallWrites},
	{"look-ups by secret name the user's organisation",
		[]string{"TokenUser", "SessionUser", "LinkByHash", "UpdateOrg"}, testOrgSecrets},
	{"bulk writes stay in their organisation", []string{"InsertUsers", "UsersByKey", "InsertMembers", "InsertAudits"}, testOrgBulk},
	{"DeleteOrg removes one organisation and nothing else", []string{"DeleteOrg", "InsertOrg"}, testDeleteOrg},
	{"In acts in another organisation in the same transaction", []string{"In", "Org"}, testOrgIn},
}

// inOrg is ctx naming org.
func inOrg(t *testing.T, org int64) context.Context { return store.WithOrg(t.Context(), org) }

// writeIn runs fn in a write transaction acting in org.
func writeIn(t *testing.T, s store.Store, org int64, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Write(inOrg(t, org), fn); err != nil {
		t.Fatalf("write in organisation %d: %v", org, err)
	}
}

// readIn runs fn in a read transaction acting in org.
func readIn(t *testing.T, s store.Store, org int64, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Read(inOrg(t, org), fn); err != nil {
		t.Fatalf("read in organisation %d: %v", org, err)
	}
}

// addOrg makes an organisation and returns its id.
func addOrg(t *testing.T, s store.Store, slug string) int64 {
	t.Helper()
	var id int64
	write(t, s, func(tx store.Tx) error {
		var err error
		id, err = tx.InsertOrg(t.Context(), roster.Org{Slug: slug, Name: "Org " + slug, Status: roster.OrgActive}, t0)
		return err
	})
	if id == 0 || id == store.SystemOrg {
		t.Fatalf("InsertOrg(%s) = %d", slug, id)
	}
	return id
}

// neighbour is what populate makes in one organisation.
type neighbour struct {
	org                    int64
	ann, bob               int64 // an owner, and an invited user with an invitation
	project                int64
	token, session, link   int64
	tokenHash, sessionHash []byte
	linkHash               []byte
	tag                    string
}

// populate fills org with one of everything, under the same names in
// every organisation; tag sets what tells them apart (names,
// descriptions, secrets, setting values).
func populate(t *testing.T, s store.Store, org int64, tag string) neighbour {
	t.Helper()
	n := neighbour{org: org, tag: tag, tokenHash: []byte("token-" + tag), sessionHash: []byte("session-" + tag),
		linkHash: []byte("link-" + tag)}
	ctx := inOrg(t, org)
	writeIn(t, s, org, func(tx store.Tx) error {
		if err := tx.InsertPermission(ctx, roster.Permission{Name: "invoices.view", Description: "see invoices " + tag}); err != nil {
			return err
		}
		if err := tx.InsertPermission(ctx, roster.Permission{Name: "invoices.manage", Description: "manage invoices " + tag,
			Implies: []string{"invoices.view"}}); err != nil {
			return err
		}
		if err := tx.InsertRole(ctx, roster.Role{Name: "auditor", Description: "audits " + tag,
			Permissions: []string{"invoices.view", roster.PermAuditView}}); err != nil {
			return err
		}
		ann := member("ann@example.com")
		ann.Name, ann.Username = "Ann "+tag, "ann"
		ann.Roles = []string{roster.RoleOwner, "auditor"}
		ann.Links = map[string]string{"github": "octo"}
		ann.PasswordHash = "hash-" + tag
		var err error
		if n.ann, err = tx.InsertUser(ctx, ann); err != nil {
			return err
		}
		bob := member("bob@example.com")
		bob.Name, bob.Status = "Bob "+tag, roster.StatusInvited
		if n.bob, err = tx.InsertUser(ctx, bob); err != nil {
			return err
		}
		if n.project, err = tx.InsertProject(ctx, roster.Project{Slug: "web", Name: "Web " + tag}, t0); err != nil {
			return err
		}
		if _, err := tx.AddMember(ctx, n.project, n.ann, t0); err != nil {
			return err
		}
		if n.token, err = tx.InsertToken(ctx, n.ann, "ci "+tag, n.tokenHash, "local:root", t0, ptr(at(time.Hour))); err != nil {
			return err
		}
		if n.session, err = tx.InsertSession(ctx, store.SessionRow{UserID: n.ann, TokenHash: n.sessionHash, Method: "password",
			CreatedAt: t0, LastSeenAt: t0, ExpiresAt: at(time.Hour)}); err != nil {
			return err
		}
		if n.link, err = tx.InsertLink(ctx, store.Link{Kind: store.LinkInvite, UserID: n.bob, TokenHash: n.linkHash,
			CreatedBy: n.ann, Creator: "ann@example.com", CreatedAt: t0, ExpiresAt: at(time.Hour)}); err != nil {
			return err
		}
		if err := tx.SetSetting(ctx, "org.name", "Org "+tag); err != nil {
			return err
		}
		if err := tx.InsertAudit(ctx, store.AuditEntry{AuditEvent: roster.AuditEvent{At: t0, Actor: "ann@example.com",
			Via: "cli", Action: "user.create", Target: "bob@example.com", Details: map[string]any{"org": tag}},
			ActorID: n.ann, TargetID: n.bob}); err != nil {
			return err
		}
		return tx.SetNoticesSeen(ctx, n.ann, 1)
	})
	return n
}

// view is everything an organisation's lists and counts show.
type view struct {
	Users, Searched, ByRole, ByProject, Active []roster.User
	Catalog                                    store.Catalog
	Holders                                    map[string]int
	Projects                                   []roster.Project
	Members                                    []store.Member
	Invitations                                []store.Link
	Tokens                                     []roster.APIToken
	Audit                                      []roster.AuditEvent
	Settings                                   map[string]string
	Counts                                     [4]int
	Owner                                      store.UserRow
	Auditors                                   []int64
	NoticesSeen                                int64
}

// look reads n's organisation as its lists and counts show it.
func look(t *testing.T, s store.Store, n neighbour) view {
	t.Helper()
	var v view
	ctx := inOrg(t, n.org)
	readIn(t, s, n.org, func(tx store.Tx) error {
		list := func(f roster.UserFilter) ([]roster.User, error) {
			f.Limit = 100
			p, err := tx.ListUsers(ctx, f)
			return p.Items, err
		}
		var err error
		if v.Users, err = list(roster.UserFilter{}); err != nil {
			return err
		}
		if v.Searched, err = list(roster.UserFilter{Search: "example"}); err != nil {
			return err
		}
		if v.ByRole, err = list(roster.UserFilter{Role: "auditor"}); err != nil {
			return err
		}
		if v.ByProject, err = list(roster.UserFilter{Project: "web"}); err != nil {
			return err
		}
		if v.Active, err = list(roster.UserFilter{Status: roster.StatusActive}); err != nil {
			return err
		}
		if v.Catalog, err = tx.LoadCatalog(ctx); err != nil {
			return err
		}
		if v.Holders, err = tx.Holders(ctx); err != nil {
			return err
		}
		if v.Projects, err = tx.ListProjects(ctx, 0); err != nil {
			return err
		}
		if v.Members, err = tx.Members(ctx, n.project); err != nil {
			return err
		}
		if v.Invitations, err = tx.ListInvitations(ctx); err != nil {
			return err
		}
		if v.Tokens, err = tx.ListTokens(ctx, 0); err != nil {
			return err
		}
		if v.Audit, err = tx.ListAudit(ctx, store.AuditQuery{Limit: 100}); err != nil {
			return err
		}
		if v.Settings, err = tx.Settings(ctx); err != nil {
			return err
		}
		active := func(ctx context.Context) (int, error) { return tx.CountActive(ctx, t0) }
		owners := func(ctx context.Context) (int, error) { return tx.CountActiveOwners(ctx, t0) }
		for i, count := range []func(context.Context) (int, error){active, owners, tx.UserCount, tx.CountProjects} {
			if v.Counts[i], err = count(ctx); err != nil {
				return err
			}
		}
		if v.Owner, _, err = tx.FirstOwner(ctx); err != nil {
			return err
		}
		if v.Auditors, err = tx.RoleHolderIDs(ctx, "auditor"); err != nil {
			return err
		}
		v.NoticesSeen, err = tx.NoticesSeen(ctx, n.ann)
		return err
	})
	return v
}

// sameView reports, field by field, how an organisation's view differs
// from what it was.
func sameView(t *testing.T, what string, got, want view) {
	t.Helper()
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		equal(t, what+": "+g.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface())
	}
}

func testOrgCatalog(t *testing.T, s store.Admin) {
	ctx := t.Context()
	manyOrgs := func(want bool) {
		read(t, s, func(tx store.Tx) error {
			many, err := tx.ManyOrgs(ctx)
			equal(t, "ManyOrgs", many, want)
			return err
		})
	}
	manyOrgs(false)
	b := addOrg(t, s, "beta")
	manyOrgs(true)
	builtin := func(perms []roster.Permission) []string {
		var out []string
		for _, p := range perms {
			out = append(out, p.Name)
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		org   int64
		perms []string
	}{{store.SystemOrg, builtin(roster.OrgPermissions(true))}, {b, builtin(roster.OrgPermissions(false))}} {
		readIn(t, s, c.org, func(tx store.Tx) error {
			equal(t, "Org()", tx.Org(), c.org)
			cat, err := tx.LoadCatalog(inOrg(t, c.org))
			if err != nil {
				return err
			}
			equal(t, "permissions of organisation", cat.PermissionNames(), c.perms)
			for _, p := range cat.Permissions {
				if !p.Builtin {
					t.Errorf("permission %s of organisation %d is not built in", p.Name, c.org)
				}
			}
			equal(t, "number of roles", len(cat.Roles), len(roster.BuiltinRoles))
			for _, want := range roster.BuiltinRoles {
				r, ok := cat.Roles[want.Name]
				if !ok || !r.Builtin || r.AllPermissions != want.AllPermissions {
					t.Errorf("organisation %d role %s = %+v, found %v; want a locked role", c.org, want.Name, r, ok)
					continue
				}
				perms := want.Permissions
				if want.AllPermissions {
					perms = c.perms
				}
				got := slices.Clone(r.Permissions)
				slices.Sort(got)
				perms = slices.Clone(perms)
				slices.Sort(perms)
				equal(t, "permissions of role "+want.Name, got, perms)
			}
			return nil
		})
	}
	read(t, s, func(tx store.Tx) error {
		equal(t, "Org() of a context naming none", tx.Org(), store.SystemOrg)
		orgs, err := tx.Orgs(ctx)
		if err != nil {
			return err
		}
		var slugs []string
		for _, o := range orgs {
			slugs = append(slugs, o.Slug)
			equal(t, "System of "+o.Slug, o.System, o.ID == store.SystemOrg)
		}
		equal(t, "Orgs", slugs, []string{"beta", "default"})
		sys, found, err := tx.OrgByID(ctx, store.SystemOrg)
		if err != nil || !found {
			t.Fatalf("OrgByID(system) = %v, %v", found, err)
		}
		equal(t, "system organisation", [3]any{sys.Slug, sys.Status, sys.System}, [3]any{"default", roster.OrgActive, true})
		got, found, err := tx.OrgBySlug(ctx, "beta")
		if err != nil || !found {
			t.Fatalf("OrgBySlug(beta) = %v, %v", found, err)
		}
		equal(t, "beta", [5]any{got.ID, got.Slug, got.Name, got.Status, got.System}, [5]any{b, "beta", "Org beta", roster.OrgActive, false})
		sameTime(t, "beta created_at", got.CreatedAt, t0)
		if _, found, err := tx.OrgBySlug(ctx, "gamma"); found || err != nil {
			t.Errorf("OrgBySlug(gamma) = %v, %v; want not found", found, err)
		}
		if _, found, err := tx.OrgByID(ctx, b+100); found || err != nil {
			t.Errorf("OrgByID(unknown) = %v, %v; want not found", found, err)
		}
		return nil
	})
}

func testOrgSlugUnique(t *testing.T, s store.Admin) {
	addOrg(t, s, "beta")
	for _, slug := range []string{"beta", "default"} {
		conflict(t, s, "InsertOrg("+slug+")", func(tx store.Tx) error {
			_, err := tx.InsertOrg(t.Context(), roster.Org{Slug: slug, Name: "again", Status: roster.OrgActive}, t0)
			return err
		})
	}
}

func testUpdateOrg(t *testing.T, s store.Admin) {
	ctx := t.Context()
	b := addOrg(t, s, "beta")
	var o store.OrgRow
	write(t, s, func(tx store.Tx) error {
		var err error
		if o, _, err = tx.OrgByID(ctx, b); err != nil {
			return err
		}
		o.Name, o.Status = "Beta Ltd", roster.OrgSuspended
		return tx.UpdateOrg(ctx, o)
	})
	read(t, s, func(tx store.Tx) error {
		got, found, err := tx.OrgBySlug(ctx, "beta")
		if err != nil || !found {
			t.Fatalf("OrgBySlug(beta) = %v, %v", found, err)
		}
		equal(t, "beta after UpdateOrg", [3]any{got.ID, got.Name, got.Status}, [3]any{b, "Beta Ltd", roster.OrgSuspended})
		sys, _, err := tx.OrgByID(ctx, store.SystemOrg)
		equal(t, "system organisation after UpdateOrg of beta", [2]any{sys.Name, sys.Status}, [2]any{"default", roster.OrgActive})
		return err
	})
	o.ID += 100
	err := s.Write(ctx, func(tx store.Tx) error { return tx.UpdateOrg(ctx, o) })
	isKind(t, err, roster.ErrNotFound, "UpdateOrg of an unknown organisation")
}

func testUpdateOrgSlug(t *testing.T, s store.Admin) {
	ctx := t.Context()
	b := addOrg(t, s, "beta")
	addOrg(t, s, "gamma")
	var o store.OrgRow
	read(t, s, func(tx store.Tx) error {
		var err error
		o, _, err = tx.OrgByID(ctx, b)
		return err
	})
	for _, taken := range []string{"gamma", "default"} {
		o.Slug = taken
		conflict(t, s, "UpdateOrg to the taken slug "+taken, func(tx store.Tx) error { return tx.UpdateOrg(ctx, o) })
	}
	o.Slug = "delta"
	write(t, s, func(tx store.Tx) error { return tx.UpdateOrg(ctx, o) })
	read(t, s, func(tx store.Tx) error {
		got, found, err := tx.OrgBySlug(ctx, "delta")
		equal(t, "OrgBySlug(delta)", [3]any{got.ID, got.Name, found}, [3]any{b, "Org beta", true})
		if _, found, err := tx.OrgBySlug(ctx, "beta"); found || err != nil {
			t.Errorf("OrgBySlug of the old slug = %v, %v", found, err)
		}
		return err
	})
	// The system organisation may be renamed too (roster init --org).
	write(t, s, func(tx store.Tx) error {
		sys, _, err := tx.OrgByID(ctx, store.SystemOrg)
		if err != nil {
			return err
		}
		sys.Slug = "acme"
		return tx.UpdateOrg(ctx, sys)
	})
	read(t, s, func(tx store.Tx) error {
		got, found, err := tx.OrgBySlug(ctx, "acme")
		equal(t, "the system organisation renamed", [3]any{got.ID, got.System, found}, [3]any{store.SystemOrg, true, true})
		return err
	})
}

func testOrgSameNames(t *testing.T, s store.Admin) {
	b := addOrg(t, s, "beta")
	na := populate(t, s, store.SystemOrg, "a")
	nb := populate(t, s, b, "b")
	for _, n := range []neighbour{na, nb} {
		readIn(t, s, n.org, func(tx store.Tx) error {
			ctx := inOrg(t, n.org)
			for _, ref := range []string{"ann@example.com", "ANN@example.com", "ann", "github:octo", byID(n.ann)} {
				u, err := tx.UserByRef(ctx, ref)
				if err != nil {
					return err
				}
				equal(t, "UserByRef("+ref+") in "+n.tag, [4]any{u.ID, u.Name, u.OrgID, u.PasswordHash},
					[4]any{n.ann, "Ann " + n.tag, n.org, "hash-" + n.tag})
			}
			p, found, err := tx.ProjectBySlug(ctx, "web")
			if err != nil || !found {
				t.Fatalf("ProjectBySlug(web) in %s = %v, %v", n.tag, found, err)
			}
			equal(t, "project web in "+n.tag, [2]any{p.ID, p.Name}, [2]any{n.project, "Web " + n.tag})
			cat, err := tx.LoadCatalog(ctx)
			if err != nil {
				return err
			}
			equal(t, "role auditor in "+n.tag, cat.Roles["auditor"].Description, "audits "+n.tag)
			perm, _ := cat.Permission("invoices.manage")
			equal(t, "permission invoices.manage in "+n.tag, [2]any{perm.Description, perm.Implies},
				[2]any{"manage invoices " + n.tag, []string{"invoices.view"}})
			set, err := tx.Settings(ctx)
			equal(t, "settings in "+n.tag, set, map[string]string{"org.name": "Org " + n.tag})
			return err
		})
	}
}

func testOrgWallReads(t *testing.T, s store.Admin) {
	na := populate(t, s, store.SystemOrg, "a")
	before := look(t, s, na)
	b := addOrg(t, s, "beta")
	nb := populate(t, s, b, "b")
	// The neighbour changes nothing anyone in A sees.
	sameView(t, "organisation A with a neighbour", look(t, s, na), before)
	vb := look(t, s, nb)
	equal(t, "users of B", len(vb.Users), 2)
	equal(t, "counts of B", vb.Counts, [4]int{1, 1, 2, 1})

	// From B, every reference to A's things finds nothing.
	ctx := inOrg(t, b)
	readIn(t, s, b, func(tx store.Tx) error {
		for _, ref := range []string{byID(na.ann), byID(na.bob)} {
			_, err := tx.UserByRef(ctx, ref)
			isKind(t, err, roster.ErrNotFound, "UserByRef("+ref+") of another organisation")
		}
		if _, found, err := tx.TokenByID(ctx, na.token); found || err != nil {
			t.Errorf("TokenByID of another organisation's token = %v, %v", found, err)
		}
		if _, found, err := tx.TokenByHash(ctx, na.tokenHash); found || err != nil {
			t.Errorf("TokenByHash of another organisation's token = %v, %v", found, err)
		}
		if _, found, err := tx.LatestLink(ctx, na.bob, store.LinkInvite); found || err != nil {
			t.Errorf("LatestLink of another organisation's user = %v, %v", found, err)
		}
		if n, err := tx.CountLinksSince(ctx, na.bob, store.LinkInvite, t0); n != 0 || err != nil {
			t.Errorf("CountLinksSince of another organisation's user = %d, %v", n, err)
		}
		if ok, err := tx.IsMember(ctx, na.project, na.ann); ok || err != nil {
			t.Errorf("IsMember in another organisation's project = %v, %v", ok, err)
		}
		if m, err := tx.Members(ctx, na.project); len(m) != 0 || err != nil {
			t.Errorf("Members of another organisation's project = %v, %v", m, err)
		}
		if p, err := tx.ListProjects(ctx, na.ann); len(p) != 0 || err != nil {
			t.Errorf("ListProjects of another organisation's member = %v, %v", p, err)
		}
		if l, err := tx.ListTokens(ctx, na.ann); len(l) != 0 || err != nil {
			t.Errorf("ListTokens of another organisation's user = %v, %v", l, err)
		}
		if ok, err := tx.HasActed(ctx, na.ann); ok || err != nil {
			t.Errorf("HasActed of another organisation's user = %v, %v", ok, err)
		}
		if id, err := tx.NoticesSeen(ctx, na.ann); id != 0 || err != nil {
			t.Errorf("NoticesSeen of another organisation's user = %d, %v", id, err)
		}
		if a, err := tx.ListAudit(ctx, store.AuditQuery{ActorID: na.ann, Limit: 10}); len(a) != 0 || err != nil {
			t.Errorf("ListAudit by another organisation's user = %v, %v", a, err)
		}
		return nil
	})
	// Removing B's own things leaves the names free in B, and A's still
	// holds them: a look-up by name in B does not fall through to A.
	writeIn(t, s, b, func(tx store.Tx) error {
		if err := tx.DeleteUser(ctx, nb.ann); err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, nb.bob); err != nil {
			return err
		}
		if err := tx.DeleteProject(ctx, nb.project); err != nil {
			return err
		}
		if err := tx.DeleteRole(ctx, "auditor"); err != nil {
			return err
		}
		if err := tx.DeletePermission(ctx, "invoices.manage"); err != nil {
			return err
		}
		return tx.DeletePermission(ctx, "invoices.view")
	})
	readIn(t, s, b, func(tx store.Tx) error {
		for _, ref := range []string{"ann@example.com", "ann", "github:octo"} {
			_, err := tx.UserByRef(ctx, ref)
			isKind(t, err, roster.ErrNotFound, "UserByRef("+ref+") held only by another organisation")
		}
		for name, taken := range map[string]func(context.Context, string) (int64, error){
			"EmailTaken": tx.EmailTaken, "UsernameTaken": tx.UsernameTaken,
		} {
			arg := map[string]string{"EmailTaken": "ANN@example.com", "UsernameTaken": "ann"}[name]
			if id, err := taken(ctx, arg); id != 0 || err != nil {
				t.Errorf("%s(%s) held only by another organisation = %d, %v", name, arg, id, err)
			}
		}
		if id, err := tx.LinkTaken(ctx, "github", "octo"); id != 0 || err != nil {
			t.Errorf("LinkTaken held only by another organisation = %d, %v", id, err)
		}
		if users, err := tx.UsersByKey(ctx, []string{"ann@example.com", "bob@example.com"}); len(users) != 0 || err != nil {
			t.Errorf("UsersByKey of emails held only by another organisation = %v, %v", idsOf(users), err)
		}
		if _, found, err := tx.ProjectBySlug(ctx, "web"); found || err != nil {
			t.Errorf("ProjectBySlug held only by another organisation = %v, %v", found, err)
		}
		if roles, implied, err := tx.PermissionUsers(ctx, "invoices.view"); len(roles)+len(implied) != 0 || err != nil {
			t.Errorf("PermissionUsers of another organisation's permission = %v, %v, %v", roles, implied, err)
		}
		if _, found, err := tx.FirstOwner(ctx); found || err != nil {
			t.Errorf("FirstOwner with owners only in another organisation = %v, %v", found, err)
		}
		return nil
	})
	sameView(t, "organisation A after B removed its own", look(t, s, na), before)
}

// attempt runs fn in a write transaction in org, which may fail or
// succeed; either way it must not have changed anything elsewhere, as
// the caller checks.
func attempt(t *testing.T, s store.Store, org int64, what string, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := inOrg(t, org)
	err := s.Write(ctx, func(tx store.Tx) error { return fn(ctx, tx) })
	if err != nil && !errors.Is(err, roster.ErrNotFound) && !errors.Is(err, roster.ErrConflict) && !errors.Is(err, roster.ErrInvalid) {
		t.Errorf("%s aimed at another organisation: %v", what, err)
	}
}

// zero fails unless a count of things changed in another organisation
// is 0 (or its call failed, as attempt allows).
func zero(t *testing.T, what string, n int, err error) error {
	t.Helper()
	if err == nil && n != 0 {
		t.Errorf("%s aimed at another organisation changed %d", what, n)
	}
	return err
}

func testOrgWallWrites(t *testing.T, s store.Admin) {
	na := populate(t, s, store.SystemOrg, "a")
	b := addOrg(t, s, "beta")
	nb := populate(t, s, b, "b")
	before := look(t, s, na)
	annBefore, bobBefore := getUser(t, s, byID(na.ann)), getUser(t, s, byID(na.bob))

	later := at(time.Minute)
	intruder := annBefore
	intruder.Name, intruder.Email, intruder.Status = "taken over", "eve@example.com", roster.StatusDeactivated
	steps := map[string]func(ctx context.Context, tx store.Tx) error{
		"UpdateUser": func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, intruder) },
		"DeleteUser": func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, na.bob) },
		"SetUserRoles": func(ctx context.Context, tx store.Tx) error {
			return tx.SetUserRoles(ctx, na.ann, []string{roster.RoleMember})
		},
		"SetLink":    func(ctx context.Context, tx store.Tx) error { return tx.SetLink(ctx, na.ann, "github", "eve") },
		"DeleteLink": func(ctx context.Context, tx store.Tx) error { return tx.DeleteLink(ctx, na.ann, "github") },
		"RevokeTokens of a user": func(ctx context.Context, tx store.Tx) error {
			n, err := tx.RevokeTokens(ctx, na.ann, 0, later)
			return zero(t, "RevokeTokens", n, err)
		},
		"RevokeTokens by id": func(ctx context.Context, tx store.Tx) error {
			n, err := tx.RevokeTokens(ctx, na.ann, na.token, later)
			return zero(t, "RevokeTokens", n, err)
		},
		"TouchToken": func(ctx context.Context, tx store.Tx) error { return tx.TouchToken(ctx, na.token, later, "192.0.2.9") },
		"SetTokenScope": func(ctx context.Context, tx store.Tx) error {
			return tx.SetTokenScope(ctx, na.token, []string{roster.PermUsersView})
		},
		"ReplaceTokenSecret": func(ctx context.Context, tx store.Tx) error {
			return tx.ReplaceTokenSecret(ctx, na.token, []byte("stolen"), later, nil)
		},
		"RevokeLinks": func(ctx context.Context, tx store.Tx) error {
			n, err := tx.RevokeLinks(ctx, na.bob, "", later, "why")
			return zero(t, "RevokeLinks", n, err)
		},
		"ConsumeLink": func(ctx context.Context, tx store.Tx) error {
			ok, err := tx.ConsumeLink(ctx, na.link, later)
			return zero(t, "ConsumeLink", map[bool]int{true: 1}[ok], err)
		},
		"MarkSent": func(ctx context.Context, tx store.Tx) error { return tx.MarkSent(ctx, na.link, later) },
		"EndSessions": func(ctx context.Context, tx store.Tx) error {
			n, err := tx.EndSessions(ctx, na.ann, 0)
			return zero(t, "EndSessions", n, err)
		},
		"EndSessionsExcept": func(ctx context.Context, tx store.Tx) error {
			n, err := tx.EndSessionsExcept(ctx, na.ann, 0)
			return zero(t, "EndSessionsExcept", n, err)
		},
		"TouchSession": func(ctx context.Context, tx store.Tx) error {
			return tx.TouchSession(ctx, na.session, later, later)
		},
		"SetNoticesSeen": func(ctx context.Context, tx store.Tx) error { return tx.SetNoticesSeen(ctx, na.ann, 99) },
		"UpdateProject": func(ctx context.Context, tx store.Tx) error {
			return tx.UpdateProject(ctx, store.ProjectRow{ID: na.project, Project: roster.Project{Slug: "stolen", Archived: true}}, later)
		},
		"DeleteProject": func(ctx context.Context, tx store.Tx) error { return tx.DeleteProject(ctx, na.project) },
		"RemoveMember": func(ctx context.Context, tx store.Tx) error {
			ok, err := tx.RemoveMember(ctx, na.project, na.ann)
			return zero(t, "RemoveMember", map[bool]int{true: 1}[ok], err)
		},
		"AddMember of a neighbour's user": func(ctx context.Context, tx store.Tx) error {
			_, err := tx.AddMember(ctx, nb.project, na.bob, later)
			return err
		},
		"AddMember to a neighbour's project": func(ctx context.Context, tx store.Tx) error {
			_, err := tx.AddMember(ctx, na.project, nb.bob, later)
			return err
		},
		"InsertMembers": func(ctx context.Context, tx store.Tx) error {
			return tx.InsertMembers(ctx, []store.Membership{{ProjectID: na.project, UserID: na.bob}}, later)
		},
		"DeleteRole": func(ctx context.Context, tx store.Tx) error {
			// B's own auditor is held: taking it away first leaves the
			// role free to delete in B, and A's must stay.
			if err := tx.MoveRoleHolders(ctx, "auditor", roster.RoleMember); err != nil {
				return err
			}
			return tx.DeleteRole(ctx, "auditor")
		},
		"UpdateRoleDescription": func(ctx context.Context, tx store.Tx) error {
			return tx.UpdateRoleDescription(ctx, "auditor", "changed")
		},
		"SetRolePermissions": func(ctx context.Context, tx store.Tx) error {
			return tx.SetRolePermissions(ctx, "auditor", []string{roster.PermUsersView})
		},
		"DeletePermission": func(ctx context.Context, tx store.Tx) error {
			if err := tx.SetRolePermissions(ctx, "auditor", nil); err != nil {
				return err
			}
			if err := tx.DeletePermission(ctx, "invoices.manage"); err != nil {
				return err
			}
			return tx.DeletePermission(ctx, "invoices.view")
		},
		"SetSetting": func(ctx context.Context, tx store.Tx) error { return tx.SetSetting(ctx, "org.name", "changed") },
	}
	for name, fn := range steps {
		attempt(t, s, b, name, fn)
	}
	sameView(t, "organisation A after B's writes", look(t, s, na), before)
	equal(t, "ann of A after B's writes", getUser(t, s, byID(na.ann)), annBefore)
	equal(t, "bob of A after B's writes", getUser(t, s, byID(na.bob)), bobBefore)
	read(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		tok, found, err := tx.TokenByID(ctx, na.token)
		if err != nil || !found {
			t.Fatalf("TokenByID(A's token) = %v, %v", found, err)
		}
		equal(t, "A's token after B's writes", [2]any{tok.Revoked, tok.LastUsedAt}, [2]any{false, (*time.Time)(nil)})
		if _, _, found, err := tx.TokenUser(ctx, na.tokenHash); !found || err != nil {
			t.Errorf("A's token by its secret after B's writes = %v, %v", found, err)
		}
		sess, _, found, err := tx.SessionUser(ctx, na.sessionHash)
		if !found || err != nil {
			t.Fatalf("A's session after B's writes = %v, %v", found, err)
		}
		sameTime(t, "A's session last seen", sess.LastSeenAt, t0)
		l, found, err := tx.LinkByHash(ctx, store.LinkInvite, na.linkHash)
		if !found || err != nil {
			t.Fatalf("A's invitation after B's writes = %v, %v", found, err)
		}
		equal(t, "A's invitation after B's writes", [3]any{l.UsedAt, l.RevokedAt, l.SentAt},
			[3]any{(*time.Time)(nil), (*time.Time)(nil), (*time.Time)(nil)})
		return nil
	})
}

func testOrgSecrets(t *testing.T, s store.Admin) {
	na := populate(t, s, store.SystemOrg, "a")
	b := addOrg(t, s, "beta")
	nb := populate(t, s, b, "b")
	check := func(status roster.OrgStatus) {
		t.Helper()
		// Look-ups by secret find the row whatever organisation the
		// transaction acts in, and say whose it is.
		for _, in := range []int64{store.SystemOrg, b} {
			readIn(t, s, in, func(tx store.Tx) error {
				ctx := inOrg(t, in)
				for _, n := range []neighbour{na, nb} {
					want := roster.OrgActive
					if n.org == b {
						want = status
					}
					tok, u, found, err := tx.TokenUser(ctx, n.tokenHash)
					if err != nil || !found {
						t.Fatalf("TokenUser(%s) = %v, %v", n.tag, found, err)
					}
					equal(t, "TokenUser of "+n.tag, [4]any{tok.ID, u.ID, u.OrgID, u.OrgStatus}, [4]any{n.token, n.ann, n.org, want})
					sess, u, found, err := tx.SessionUser(ctx, n.sessionHash)
					if err != nil || !found {
						t.Fatalf("SessionUser(%s) = %v, %v", n.tag, found, err)
					}
					equal(t, "SessionUser of "+n.tag, [4]any{sess.ID, u.ID, u.OrgID, u.OrgStatus}, [4]any{n.session, n.ann, n.org, want})
					l, found, err := tx.LinkByHash(ctx, store.LinkInvite, n.linkHash)
					if err != nil || !found {
						t.Fatalf("LinkByHash(%s) = %v, %v", n.tag, found, err)
					}
					equal(t, "LinkByHash of "+n.tag, [3]any{l.ID, l.UserID, l.OrgID}, [3]any{n.link, n.bob, n.org})
				}
				return nil
			})
		}
	}
	check(roster.OrgActive)
	write(t, s, func(tx store.Tx) error {
		o, _, err := tx.OrgByID(t.Context(), b)
		if err != nil {
			return err
		}
		o.Status = roster.OrgSuspended
		return tx.UpdateOrg(t.Context(), o)
	})
	check(roster.OrgSuspended)
}

func testOrgBulk(t *testing.T, s store.Admin) {
	na := populate(t, s, store.SystemOrg, "a")
	before := look(t, s, na)
	b := addOrg(t, s, "beta")
	ctx := inOrg(t, b)
	var ids []int64
	var project int64
	writeIn(t, s, b, func(tx store.Tx) error {
		ann, carol := member("ann@example.com"), member("carol@example.com")
		ann.Username, ann.Links = "ann", map[string]string{"github": "octo"}
		var err error
		if ids, err = tx.InsertUsers(ctx, []store.UserRow{ann, carol}); err != nil {
			return err
		}
		if project, err = tx.InsertProject(ctx, roster.Project{Slug: "web"}, t0); err != nil {
			return err
		}
		if err := tx.InsertMembers(ctx, []store.Membership{{ProjectID: project, UserID: ids[0]}, {ProjectID: project, UserID: ids[1]}}, t0); err != nil {
			return err
		}
		return tx.InsertAudits(ctx, []store.AuditEntry{
			{AuditEvent: roster.AuditEvent{At: t0, Actor: "local:root", Via: "cli", Action: "user.import", Target: "ann@example.com"}},
			{AuditEvent: roster.AuditEvent{At: t0, Actor: "local:root", Via: "cli", Action: "user.import", Target: "carol@example.com"}},
		})
	})
	sameView(t, "organisation A after B's import", look(t, s, na), before)
	readIn(t, s, b, func(tx store.Tx) error {
		got, err := tx.UsersByKey(ctx, []string{"ANN@example.com", "carol@example.com", "bob@example.com"})
		equal(t, "UsersByKey in B", idsOf(got), map[string]int64{"ann@example.com": ids[0], "carol@example.com": ids[1]})
		if err != nil {
			return err
		}
		u, err := tx.UserByRef(ctx, "github:octo")
		if err != nil {
			return err
		}
		equal(t, "B's ann by link", [2]any{u.ID, u.OrgID}, [2]any{ids[0], b})
		m, err := tx.Members(ctx, project)
		equal(t, "members of B's web", len(m), 2)
		if err != nil {
			return err
		}
		events, err := tx.ListAudit(ctx, store.AuditQuery{Limit: 10})
		equal(t, "B's audit events", len(events), 2)
		return err
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.UsersByKey(t.Context(), []string{"ann@example.com", "carol@example.com"})
		equal(t, "UsersByKey in A", idsOf(got), map[string]int64{"ann@example.com": na.ann})
		return err
	})
}

func testDeleteOrg(t *testing.T, s store.Admin) {
	ctx := t.Context()
	na := populate(t, s, store.SystemOrg, "a")
	b := addOrg(t, s, "beta")
	nb := populate(t, s, b, "b")
	before := look(t, s, na)
	write(t, s, func(tx store.Tx) error { return tx.DeleteOrg(ctx, b) })
	sameView(t, "organisation A after B was deleted", look(t, s, na), before)
	read(t, s, func(tx store.Tx) error {
		if _, found, err := tx.OrgByID(ctx, b); found || err != nil {
			t.Errorf("OrgByID of a deleted organisation = %v, %v", found, err)
		}
		if _, _, found, err := tx.TokenUser(ctx, nb.tokenHash); found || err != nil {
			t.Errorf("TokenUser of a deleted organisation's token = %v, %v", found, err)
		}
		if _, _, found, err := tx.SessionUser(ctx, nb.sessionHash); found || err != nil {
			t.Errorf("SessionUser of a deleted organisation's session = %v, %v", found, err)
		}
		if _, found, err := tx.LinkByHash(ctx, store.LinkInvite, nb.linkHash); found || err != nil {
			t.Errorf("LinkByHash of a deleted organisation's link = %v, %v", found, err)
		}
		return nil
	})
	// What was B's, read as B: nothing is left.
	gone := look(t, s, nb)
	equal(t, "users of a deleted organisation", len(gone.Users), 0)
	equal(t, "roles of a deleted organisation", len(gone.Catalog.Roles), 0)
	equal(t, "permissions of a deleted organisation", len(gone.Catalog.Permissions), 0)
	equal(t, "projects, audit, settings of a deleted organisation",
		[3]int{len(gone.Projects), len(gone.Audit), len(gone.Settings)}, [3]int{0, 0, 0})
	equal(t, "counts of a deleted organisation", gone.Counts, [4]int{})

	// Its slug is free again, and a new organisation under it starts empty.
	c := addOrg(t, s, "beta")
	readIn(t, s, c, func(tx store.Tx) error {
		n, err := tx.UserCount(inOrg(t, c))
		equal(t, "users of a new organisation under a freed slug", n, 0)
		return err
	})

	err := s.Write(ctx, func(tx store.Tx) error { return tx.DeleteOrg(ctx, store.SystemOrg) })
	isKind(t, err, roster.ErrInvalid, "DeleteOrg of the system organisation")
	err = s.Write(ctx, func(tx store.Tx) error { return tx.DeleteOrg(ctx, c+100) })
	isKind(t, err, roster.ErrNotFound, "DeleteOrg of an unknown organisation")
	sameView(t, "organisation A at the end", look(t, s, na), before)
}

func testOrgIn(t *testing.T, s store.Admin) {
	ctx := t.Context()
	b := addOrg(t, s, "beta")
	ids := map[int64]int64{}
	// Both organisations' writes go or neither does.
	failed := errors.New("undo")
	err := s.Write(ctx, func(tx store.Tx) error {
		for _, org := range []int64{store.SystemOrg, b} {
			if _, err := tx.In(org).InsertUser(ctx, member("ann@example.com")); err != nil {
				return err
			}
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("Write = %v, want %v", err, failed)
	}
	for _, org := range []int64{store.SystemOrg, b} {
		readIn(t, s, org, func(tx store.Tx) error {
			n, err := tx.UserCount(inOrg(t, org))
			equal(t, "users after a rolled back Write through In", n, 0)
			return err
		})
	}
	write(t, s, func(tx store.Tx) error {
		inB := tx.In(b)
		equal(t, "In(b).Org()", inB.Org(), b)
		equal(t, "Org() of the transaction In was called on", tx.Org(), store.SystemOrg)
		equal(t, "In(b).In(system).Org()", inB.In(store.SystemOrg).Org(), store.SystemOrg)
		for org, in := range map[int64]store.Tx{store.SystemOrg: tx, b: inB} {
			id, err := in.InsertUser(ctx, member("ann@example.com"))
			if err != nil {
				return err
			}
			ids[org] = id
		}
		// Each sees its own write at once, and not the other's.
		for org, in := range map[int64]store.Tx{store.SystemOrg: tx, b: inB} {
			u, err := in.UserByRef(ctx, "ann@example.com")
			if err != nil {
				return err
			}
			equal(t, "ann seen through In", [2]any{u.ID, u.OrgID}, [2]any{ids[org], org})
		}
		return nil
	})
	if ids[store.SystemOrg] == ids[b] {
		t.Errorf("two users of one email in two organisations share id %d", ids[b])
	}
	readIn(t, s, b, func(tx store.Tx) error {
		u, err := tx.UserByRef(inOrg(t, b), "ann@example.com")
		equal(t, "B's ann after commit", u.ID, ids[b])
		return err
	})
	if err := s.Lookup(inOrg(t, b), func(tx store.Tx) error {
		equal(t, "Org() of a Lookup", tx.Org(), b)
		_, err := tx.UserByRef(inOrg(t, b), byID(ids[store.SystemOrg]))
		isKind(t, err, roster.ErrNotFound, "Lookup of another organisation's user by id")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
