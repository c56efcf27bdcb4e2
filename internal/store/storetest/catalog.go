package storetest

import (
	"slices"
	"sort"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

var catalogTests = []test{
	{"a new store holds roster's own permissions and roles", []string{"LoadCatalog"}, testBuiltinCatalog},
	{"InsertRole, UpdateRoleDescription and SetRolePermissions", []string{"InsertRole", "UpdateRoleDescription", "SetRolePermissions", "LoadCatalog"}, testCustomRole},
	{"InsertPermission registers a permission with its implications", []string{"InsertPermission", "LoadCatalog"}, testInsertPermission},
	{"PermissionUsers lists what stops a permission's deletion", []string{"PermissionUsers"}, testPermissionUsers},
	{"DeletePermission removes an application permission only", []string{"DeletePermission"}, testDeletePermission},
	{"Holders counts users per role", []string{"Holders"}, testHolders},
	{"RoleHolderIDs lists a role's holders", []string{"RoleHolderIDs"}, testRoleHolderIDs},
	{"MoveRoleHolders moves holders to another role once", []string{"MoveRoleHolders"}, testMoveRoleHolders},
	{"DeleteRole removes a role and its grants", []string{"DeleteRole"}, testDeleteRole},
	{"CatalogVersion changes with every catalog change, and only then", []string{"CatalogVersion"}, testCatalogVersion},
}

func catalogVersion(t *testing.T, s store.Store) int64 {
	t.Helper()
	var v int64
	read(t, s, func(tx store.Tx) error {
		var err error
		v, err = tx.CatalogVersion(t.Context())
		return err
	})
	return v
}

// testCatalogVersion: a process caching the catalog by its version must
// see every change another makes, and need not reload for anything else.
func testCatalogVersion(t *testing.T, s store.Admin) {
	ctx := t.Context()
	changes := []struct {
		what string
		fn   func(tx store.Tx) error
	}{
		{"InsertPermission", func(tx store.Tx) error {
			return tx.InsertPermission(ctx, roster.Permission{Name: "invoices.view", Implies: []string{}})
		}},
		{"InsertPermission with an implication", func(tx store.Tx) error {
			return tx.InsertPermission(ctx, roster.Permission{Name: "invoices.manage", Implies: []string{"invoices.view"}})
		}},
		{"InsertRole", func(tx store.Tx) error {
			return tx.InsertRole(ctx, roster.Role{Name: "billing", Permissions: []string{"invoices.view"}})
		}},
		{"UpdateRoleDescription", func(tx store.Tx) error { return tx.UpdateRoleDescription(ctx, "billing", "pays") }},
		{"SetRolePermissions", func(tx store.Tx) error {
			return tx.SetRolePermissions(ctx, "billing", []string{"invoices.manage"})
		}},
		{"DeleteRole", func(tx store.Tx) error { return tx.DeleteRole(ctx, "billing") }},
		{"DeletePermission", func(tx store.Tx) error { return tx.DeletePermission(ctx, "invoices.manage") }},
	}
	for _, c := range changes {
		before := catalogVersion(t, s)
		write(t, s, c.fn)
		if after := catalogVersion(t, s); after == before {
			t.Errorf("%s left the catalog version at %d", c.what, before)
		}
	}
	before := catalogVersion(t, s)
	uid := addUser(t, s, member("ann@example.com"))
	write(t, s, func(tx store.Tx) error { return tx.SetUserRoles(ctx, uid, []string{roster.RoleViewer}) })
	write(t, s, func(tx store.Tx) error { return tx.SetSetting(ctx, "org.name", "Acme") })
	equal(t, "catalog version after changes to users and settings", catalogVersion(t, s), before)
}

// catalog loads the catalog in a read transaction.
func catalog(t *testing.T, s store.Store) store.Catalog {
	t.Helper()
	var c store.Catalog
	read(t, s, func(tx store.Tx) error {
		var err error
		c, err = tx.LoadCatalog(t.Context())
		return err
	})
	return c
}

// builtinPermissionNames are roster's own permissions where these tests
// act: in the system organisation, with those of system administrators.
func builtinPermissionNames() []string {
	var out []string
	for _, p := range roster.OrgPermissions(true) {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func testBuiltinCatalog(t *testing.T, s store.Admin) {
	c := catalog(t, s)
	want := roster.OrgPermissions(true)
	for i := range want {
		want[i].Builtin, want[i].Implies = true, []string{}
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Name < want[j].Name })
	equal(t, "permissions, sorted by name", c.Permissions, want)

	if len(c.Roles) != len(roster.BuiltinRoles) {
		t.Errorf("roles: %d, want %d", len(c.Roles), len(roster.BuiltinRoles))
	}
	for _, br := range roster.BuiltinRoles {
		r, ok := c.Roles[br.Name]
		if !ok {
			t.Errorf("role %s missing", br.Name)
			continue
		}
		perms := slices.Sorted(slices.Values(br.Permissions))
		if br.AllPermissions {
			perms = builtinPermissionNames()
		}
		equal(t, br.Name, r, store.RoleRow{
			Role:           roster.Role{Name: br.Name, Description: br.Description, Builtin: true, Permissions: perms},
			AllPermissions: br.AllPermissions,
		})
	}
}

func testCustomRole(t *testing.T, s store.Admin) {
	write(t, s, func(tx store.Tx) error {
		return tx.InsertRole(t.Context(), roster.Role{Name: "support", Description: "helps users",
			Permissions: []string{roster.PermUsersView, roster.PermAuditView}})
	})
	equal(t, "support", catalog(t, s).Roles["support"], store.RoleRow{Role: roster.Role{
		Name: "support", Description: "helps users", Permissions: []string{roster.PermAuditView, roster.PermUsersView}}})

	write(t, s, func(tx store.Tx) error {
		if err := tx.UpdateRoleDescription(t.Context(), "support", "first line"); err != nil {
			return err
		}
		return tx.SetRolePermissions(t.Context(), "support", []string{roster.PermUsersManage, roster.PermUsersView, roster.PermTokensManage})
	})
	c := catalog(t, s)
	equal(t, "support", c.Roles["support"], store.RoleRow{Role: roster.Role{
		Name: "support", Description: "first line",
		Permissions: []string{roster.PermTokensManage, roster.PermUsersManage, roster.PermUsersView}}})
	// Other roles are untouched.
	equal(t, "member permissions", c.Roles[roster.RoleMember].Permissions, []string{roster.PermUsersView})
	equal(t, "roles", len(c.Roles), len(roster.BuiltinRoles)+1)
}

func testInsertPermission(t *testing.T, s store.Admin) {
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		if err := tx.InsertPermission(ctx, roster.Permission{Name: "app.read", Description: "read the app"}); err != nil {
			return err
		}
		return tx.InsertPermission(ctx, roster.Permission{Name: "app.write", Description: "write the app",
			Implies: []string{"app.read", roster.PermUsersView}})
	})
	c := catalog(t, s)
	rp, ok := c.Permission("app.read")
	if !ok {
		t.Fatal("app.read not in the catalog")
	}
	equal(t, "app.read", rp, roster.Permission{Name: "app.read", Description: "read the app", Implies: []string{}})
	wp, _ := c.Permission("app.write")
	equal(t, "app.write", wp, roster.Permission{Name: "app.write", Description: "write the app",
		Implies: []string{"app.read", roster.PermUsersView}})
	equal(t, "closure of app.write", c.Closure([]string{"app.write"}), []string{"app.read", "app.write", roster.PermUsersView})
	if !slices.IsSorted(c.PermissionNames()) {
		t.Errorf("permissions not sorted by name: %v", c.PermissionNames())
	}
	// Owner and admin hold every permission, those registered later too;
	// other roles only what they were given.
	all := append(builtinPermissionNames(), "app.read", "app.write")
	sort.Strings(all)
	for _, r := range []string{roster.RoleOwner, roster.RoleAdmin} {
		equal(t, r+" permissions", c.Roles[r].Permissions, all)
	}
	equal(t, "viewer permissions", c.Roles[roster.RoleViewer].Permissions,
		[]string{roster.PermProjectsViewAll, roster.PermRolesView, roster.PermUsersView})
}

func testPermissionUsers(t *testing.T, s store.Admin) {
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		for _, p := range []roster.Permission{
			{Name: "app.read"},
			{Name: "app.write", Implies: []string{"app.read"}},
			{Name: "app.admin", Implies: []string{"app.read", "app.write"}},
			{Name: "app.unused"},
		} {
			if err := tx.InsertPermission(ctx, p); err != nil {
				return err
			}
		}
		for _, r := range []roster.Role{
			{Name: "writer", Permissions: []string{"app.write"}},
			{Name: "reader", Permissions: []string{"app.read", roster.PermUsersView}},
			{Name: "auditor", Permissions: []string{"app.read"}},
		} {
			if err := tx.InsertRole(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		for _, c := range []struct {
			perm             string
			roles, impliedBy []string
		}{
			// Owner and admin hold app.read without being given it: they
			// never stop its deletion.
			{"app.read", []string{"auditor", "reader"}, []string{"app.admin", "app.write"}},
			{"app.write", []string{"writer"}, []string{"app.admin"}},
			{"app.admin", []string{}, []string{}},
			{"app.unused", []string{}, []string{}},
		} {
			roles, impliedBy, err := tx.PermissionUsers(t.Context(), c.perm)
			if err != nil {
				return err
			}
			equal(t, "roles granting "+c.perm, nonNil(roles), c.roles)
			equal(t, "permissions implying "+c.perm, nonNil(impliedBy), c.impliedBy)
		}
		return nil
	})
}

// nonNil makes a nil slice empty, where either is fine.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func testDeletePermission(t *testing.T, s store.Admin) {
	write(t, s, func(tx store.Tx) error {
		if err := tx.InsertPermission(t.Context(), roster.Permission{Name: "app.read"}); err != nil {
			return err
		}
		return tx.InsertPermission(t.Context(), roster.Permission{Name: "app.write", Implies: []string{"app.read"}})
	})
	write(t, s, func(tx store.Tx) error { return tx.DeletePermission(t.Context(), "app.write") })
	c := catalog(t, s)
	if _, ok := c.Permission("app.write"); ok {
		t.Error("app.write still in the catalog")
	}
	if !slices.Contains(c.Roles[roster.RoleOwner].Permissions, "app.read") || slices.Contains(c.Roles[roster.RoleOwner].Permissions, "app.write") {
		t.Errorf("owner permissions after deleting app.write: %v", c.Roles[roster.RoleOwner].Permissions)
	}
	// Its implications went with it.
	read(t, s, func(tx store.Tx) error {
		_, impliedBy, err := tx.PermissionUsers(t.Context(), "app.read")
		equal(t, "permissions implying app.read", nonNil(impliedBy), []string{})
		return err
	})
	// Now nothing implies app.read, and it can go too.
	write(t, s, func(tx store.Tx) error { return tx.DeletePermission(t.Context(), "app.read") })
	equal(t, "permissions", catalog(t, s).PermissionNames(), builtinPermissionNames())

	// roster's own permissions stay, whatever DeletePermission answers.
	_ = s.Write(t.Context(), func(tx store.Tx) error { return tx.DeletePermission(t.Context(), roster.PermAuditView) })
	if _, ok := catalog(t, s).Permission(roster.PermAuditView); !ok {
		t.Errorf("DeletePermission removed roster's own %s", roster.PermAuditView)
	}
}

func testHolders(t *testing.T, s store.Admin) {
	read(t, s, func(tx store.Tx) error {
		h, err := tx.Holders(t.Context())
		for r, n := range h {
			if n != 0 {
				t.Errorf("a new store has %d holders of %s", n, r)
			}
		}
		return err
	})
	mk := func(email string, status roster.Status, roles ...string) {
		u := member(email)
		u.Status, u.Roles = status, roles
		addUser(t, s, u)
	}
	mk("a@example.com", roster.StatusActive, roster.RoleOwner, roster.RoleAdmin)
	mk("b@example.com", roster.StatusActive, roster.RoleMember)
	// Holders count whatever their status.
	mk("c@example.com", roster.StatusInvited, roster.RoleMember)
	mk("d@example.com", roster.StatusDeactivated, roster.RoleMember, roster.RoleAdmin)
	read(t, s, func(tx store.Tx) error {
		h, err := tx.Holders(t.Context())
		if err != nil {
			return err
		}
		want := map[string]int{roster.RoleOwner: 1, roster.RoleAdmin: 2, roster.RoleMember: 3, roster.RoleViewer: 0, roster.RoleManager: 0}
		for r, n := range want {
			if h[r] != n {
				t.Errorf("holders of %s = %d, want %d", r, h[r], n)
			}
		}
		return nil
	})
}

func testRoleHolderIDs(t *testing.T, s store.Admin) {
	write(t, s, func(tx store.Tx) error {
		return tx.InsertRole(t.Context(), roster.Role{Name: "support", Permissions: []string{roster.PermUsersView}})
	})
	holders := func(role string) []int64 {
		var ids []int64
		read(t, s, func(tx store.Tx) error {
			var err error
			ids, err = tx.RoleHolderIDs(t.Context(), role)
			return err
		})
		slices.Sort(ids)
		return ids
	}
	equal(t, "holders of a role nobody holds", len(holders("support")), 0)
	a := member("a@example.com")
	a.Roles = []string{"support", roster.RoleMember}
	b := member("b@example.com")
	b.Roles = []string{"support"}
	b.Status = roster.StatusDeactivated
	ids := []int64{addUser(t, s, a), addUser(t, s, b)}
	addUsers(t, s, "c@example.com")
	slices.Sort(ids)
	equal(t, "holders of support", holders("support"), ids)
	equal(t, "holders of member", len(holders(roster.RoleMember)), 2)
}

func testMoveRoleHolders(t *testing.T, s store.Admin) {
	write(t, s, func(tx store.Tx) error {
		return tx.InsertRole(t.Context(), roster.Role{Name: "support", Permissions: []string{roster.PermUsersView}})
	})
	mk := func(email string, roles ...string) int64 {
		u := member(email)
		u.Roles = roles
		return addUser(t, s, u)
	}
	both := mk("both@example.com", "support", roster.RoleViewer)
	only := mk("only@example.com", "support")
	other := mk("other@example.com", roster.RoleManager)
	write(t, s, func(tx store.Tx) error { return tx.MoveRoleHolders(t.Context(), "support", roster.RoleViewer) })
	equal(t, "roles of a holder of both", getUser(t, s, byID(both)).Roles, []string{roster.RoleViewer})
	equal(t, "roles of a holder of support", getUser(t, s, byID(only)).Roles, []string{roster.RoleViewer})
	equal(t, "roles of someone else", getUser(t, s, byID(other)).Roles, []string{roster.RoleManager})
	read(t, s, func(tx store.Tx) error {
		ids, err := tx.RoleHolderIDs(t.Context(), "support")
		equal(t, "holders of support after the move", len(ids), 0)
		return err
	})
}

func testDeleteRole(t *testing.T, s store.Admin) {
	write(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		if err := tx.InsertPermission(ctx, roster.Permission{Name: "app.read"}); err != nil {
			return err
		}
		if err := tx.InsertRole(ctx, roster.Role{Name: "support", Permissions: []string{"app.read", roster.PermUsersView}}); err != nil {
			return err
		}
		return tx.InsertRole(ctx, roster.Role{Name: "reader", Permissions: []string{"app.read"}})
	})
	write(t, s, func(tx store.Tx) error { return tx.DeleteRole(t.Context(), "support") })
	c := catalog(t, s)
	if _, ok := c.Roles["support"]; ok {
		t.Error("support still in the catalog")
	}
	equal(t, "reader", c.Roles["reader"].Permissions, []string{"app.read"})
	read(t, s, func(tx store.Tx) error {
		roles, _, err := tx.PermissionUsers(t.Context(), "app.read")
		equal(t, "roles granting app.read", roles, []string{"reader"})
		return err
	})
	// The name is free again.
	write(t, s, func(tx store.Tx) error {
		return tx.InsertRole(t.Context(), roster.Role{Name: "support", Permissions: []string{roster.PermAuditView}})
	})
	equal(t, "support", catalog(t, s).Roles["support"].Permissions, []string{roster.PermAuditView})
}
