package contract

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
)

// Organisations (R21): a harness may run the contract inside one
// organisation beside a neighbour that holds what the cases make, by the
// same names. Were a wall missing, a case would trip on the neighbour's
// things, or change them; WatchNeighbour fails the test if it does.

// FillNeighbour gives the organisation svc acts in the users, roles,
// permission, projects, invitation and seat limit the cases make in
// theirs, by the same names, and leaves it full: a seat taken there would
// fail there.
func FillNeighbour(t *testing.T, svc roster.Service) {
	t.Helper()
	emails := []string{"ann@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "eve@example.com"}
	for _, email := range emails {
		name, _, _ := strings.Cut(email, "@")
		_, err := svc.CreateUser(ctx, roster.CreateUser{Email: email, Username: name, Roles: []string{roster.RoleAdmin},
			Password: "neighbour-password-1", Links: map[string]string{"okta": name}})
		mustDo(t, err)
	}
	_, err := svc.CreatePermission(ctx, roster.CreatePermission{Name: "billing.view"})
	mustDo(t, err)
	_, err = svc.CreateRole(ctx, roster.CreateRole{Name: "support", Permissions: []string{"billing.view", roster.PermUsersView}})
	mustDo(t, err)
	for _, slug := range []string{"apollo", "gemini"} {
		_, err := svc.CreateProject(ctx, roster.CreateProject{Slug: slug})
		mustDo(t, err)
		_, err = svc.AddMembers(ctx, slug, emails[:1])
		mustDo(t, err)
	}
	_, err = svc.CreateInvitation(ctx, roster.CreateInvitation{Email: "frank@example.com"})
	mustDo(t, err)
	_, err = svc.SetSetting(ctx, "seats", "6") // the owner and five users
	mustDo(t, err)
}

// WatchNeighbour fails t, once it has run, if anything of the
// organisation svc acts in changed meanwhile.
func WatchNeighbour(t *testing.T, svc roster.Service) {
	t.Helper()
	before := neighbourOf(t, svc)
	t.Cleanup(func() {
		if after := neighbourOf(t, svc); !reflect.DeepEqual(before, after) {
			t.Errorf("R21: the neighbouring organisation changed:\nbefore %+v\nafter  %+v", before, after)
		}
	})
}

// neighbour is what an organisation holds, as its administrator sees it.
type neighbour struct {
	Users       []roster.User
	Roles       []roster.Role
	Permissions []roster.Permission
	Projects    []roster.Project
	Invitations []roster.Invitation
	Tokens      []roster.APIToken
	Settings    roster.Settings
	Events      int
}

func neighbourOf(t *testing.T, svc roster.Service) neighbour {
	t.Helper()
	n, err := neighbourState(svc)
	mustDo(t, err)
	return n
}

func neighbourState(svc roster.Service) (neighbour, error) {
	var n neighbour
	page, err1 := svc.ListUsers(ctx, roster.UserFilter{Limit: roster.MaxPageSize})
	n.Users = page.Items
	var err2, err3, err4, err5, err6, err7, err8 error
	n.Roles, err2 = svc.ListRoles(ctx)
	n.Permissions, err3 = svc.ListPermissions(ctx)
	n.Projects, err4 = svc.ListProjects(ctx)
	n.Invitations, err5 = svc.ListInvitations(ctx, "")
	for i, inv := range n.Invitations {
		if inv.Status == roster.InvitePending || inv.Status == roster.InviteExpired {
			// Read from the clock, which cases move: not a change.
			n.Invitations[i].Status = ""
		}
	}
	n.Tokens, err6 = svc.ListTokens(ctx, roster.TokenFilter{})
	n.Settings, err7 = svc.GetSettings(ctx)
	events, err8 := svc.ListAudit(ctx, roster.AuditFilter{Limit: 10000})
	n.Events = len(events)
	return n, errors.Join(err1, err2, err3, err4, err5, err6, err7, err8)
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
