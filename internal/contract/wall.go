package contract

import (
	"encoding/json"
	"maps"
	"regexp"
	"strconv"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
)

// The R21 wall: actors of one organisation aim at things only another
// holds, and must meet exactly the answer a made-up reference of the same
// shape gets, while the other organisation stays as it was. Wall builds
// the two organisations; the api and core tests aim at them through
// their own transports.

// The organisations of a wall: the actors' own, the one behind the wall,
// and a slug no organisation has.
const (
	WallHome  = "apex"
	WallOther = "beta"
	WallNone  = "zeta"
)

// WallPassword is every wall user's password.
const WallPassword = "Wall-Pumice-Lantern-5521"

// Aim is the kind of thing an attempt names.
type Aim string

// The kinds of reference an attempt may aim at another organisation.
const (
	AimUser       Aim = "user"
	AimRole       Aim = "role"
	AimPermission Aim = "permission"
	AimProject    Aim = "project"
	AimToken      Aim = "token"
	AimInvitation Aim = "invitation"
	AimOrg        Aim = "org"
)

// WallRef is a reference to a thing only the other organisation holds,
// and a made-up one of the same shape that nothing holds.
type WallRef struct {
	Shape string // "email", "id", …: for messages
	Other string
	None  string
}

// Wall is what Build made.
type Wall struct {
	// Actors are the home organisation's users, one per built-in role and
	// one holding CustomRole, by role.
	Actors map[string]string
	// Member is a user of the home organisation, a member of Project,
	// for the parts of an attempt that name something at home.
	Member     string
	Project    string
	CustomRole string
	Refs       map[Aim][]WallRef
}

// WallRoles are the roles the actors hold: every built-in and a custom one.
var WallRoles = []string{roster.RoleOwner, roster.RoleAdmin, roster.RoleManager, roster.RoleMember, roster.RoleViewer,
	roster.RoleDeveloper, "helpdesk"}

// BuildWall makes the two organisations through sys, a system
// administrator, and in, which acts as the local administrator in the
// organisation it names.
func BuildWall(t *testing.T, sys roster.Service, in func(org string) roster.Service) Wall {
	t.Helper()
	for _, org := range []string{WallHome, WallOther} {
		_, err := sys.CreateOrg(ctx, roster.CreateOrg{Slug: org, OwnerEmail: "owner-" + org + "@example.com", Password: WallPassword})
		mustDo(t, err)
	}
	w := Wall{Actors: map[string]string{}, Member: "ana@example.com", Project: "a-proj", CustomRole: "helpdesk"}

	home := in(WallHome)
	_, err := home.CreateRole(ctx, roster.CreateRole{Name: w.CustomRole, Permissions: []string{roster.PermUsersView,
		roster.PermUsersManage, roster.PermRolesView, roster.PermProjectsMembers, roster.PermAuditView, roster.PermTokensManage}})
	mustDo(t, err)
	_, err = home.CreateProject(ctx, roster.CreateProject{Slug: w.Project})
	mustDo(t, err)
	members := []string{w.Member}
	_, err = home.CreateUser(ctx, roster.CreateUser{Email: w.Member, Username: "ana", Password: WallPassword})
	mustDo(t, err)
	for _, role := range WallRoles {
		email := role + "-a@example.com"
		if role == roster.RoleOwner {
			email = "owner-" + WallHome + "@example.com"
		} else {
			_, err := home.CreateUser(ctx, roster.CreateUser{Email: email, Roles: []string{role}, Password: WallPassword})
			mustDo(t, err)
		}
		w.Actors[role] = email
		members = append(members, email)
	}
	_, err = home.AddMembers(ctx, w.Project, members)
	mustDo(t, err)

	other := in(WallOther)
	_, err = other.CreatePermission(ctx, roster.CreatePermission{Name: "b.perm"})
	mustDo(t, err)
	_, err = other.CreateRole(ctx, roster.CreateRole{Name: "b-role", Permissions: []string{"b.perm", roster.PermUsersView}})
	mustDo(t, err)
	_, err = other.CreateProject(ctx, roster.CreateProject{Slug: "b-proj"})
	mustDo(t, err)
	bea, err := other.CreateUser(ctx, roster.CreateUser{Email: "bea@example.com", Username: "bea", Roles: []string{"b-role"},
		Projects: []string{"b-proj"}, Links: map[string]string{"okta": "bea"}, Password: WallPassword})
	mustDo(t, err)
	tok, err := other.CreateToken(ctx, roster.CreateToken{User: "bea@example.com", Name: "b-token"})
	mustDo(t, err)
	_, err = other.CreateInvitation(ctx, roster.CreateInvitation{Email: "ivy@example.com", Roles: []string{"b-role"}})
	mustDo(t, err)
	_, err = other.SetSetting(ctx, "seats", "50")
	mustDo(t, err)

	const noID = "987654321"
	w.Refs = map[Aim][]WallRef{
		AimUser: {
			{"email", "bea@example.com", "zed@example.com"},
			{"id", strconv.FormatInt(bea.User.ID, 10), noID},
			{"username", "bea", "zed"},
			{"link", "okta:bea", "okta:zed"},
		},
		AimRole:       {{"name", "b-role", "z-role"}},
		AimPermission: {{"name", "b.perm", "z.perm"}},
		AimProject:    {{"slug", "b-proj", "z-proj"}},
		AimToken:      {{"id", strconv.FormatInt(tok.ID, 10), noID}},
		AimInvitation: {{"email", "ivy@example.com", "zoe@example.com"}},
		AimOrg:        {{"slug", WallOther, WallNone}},
	}
	return w
}

// Snapshot is everything an organisation holds, as its administrator
// svc sees it, in bytes: the wall's "unchanged" is byte for byte.
func Snapshot(t *testing.T, svc roster.Service) []byte {
	t.Helper()
	b, err := State(svc)
	mustDo(t, err)
	return b
}

// State is Snapshot for callers without a *testing.T.
func State(svc roster.Service) ([]byte, error) {
	n, err := neighbourState(svc)
	if err != nil {
		return nil, err
	}
	// Host settings are the host's, one for every organisation (R16):
	// the local administrator sets them from any.
	maps.DeleteFunc(n.Settings, func(k, _ string) bool { return roster.IsHostSetting(k) })
	var records []roster.UserRecord
	if err := svc.Export(ctx, func(r roster.UserRecord) error {
		records = append(records, r)
		return nil
	}); err != nil {
		return nil, err
	}
	members := map[string][]roster.User{}
	for _, p := range n.Projects {
		page, err := svc.ListUsers(ctx, roster.UserFilter{Project: p.Slug, Limit: roster.MaxPageSize})
		if err != nil {
			return nil, err
		}
		members[p.Slug] = page.Items
	}
	events, err := svc.ListAudit(ctx, roster.AuditFilter{Limit: 100000})
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(struct {
		Neighbour neighbour
		Export    []roster.UserRecord
		Members   map[string][]roster.User
		Audit     []roster.AuditEvent
	}{n, records, members, events}, "", "  ")
}

// Masked is s with ref written REF wherever it stands alone, so that the
// answers to two references may be compared.
func Masked(s, ref string) string {
	return regexp.MustCompile(`\b`+regexp.QuoteMeta(ref)+`\b`).ReplaceAllString(s, "REF")
}
