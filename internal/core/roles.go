package core

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// builtinOrder ranks the locked roles before custom ones in listings.
func builtinOrder(name string) int {
	for i, r := range roster.BuiltinRoles {
		if r.Name == name {
			return i
		}
	}
	return len(roster.BuiltinRoles)
}

func (o *op) roleView(r store.RoleRow, holders map[string]int) roster.Role {
	out := r.Role
	out.Permissions = slices.Clone(r.Permissions)
	out.Holders = holders[r.Name]
	return out
}

func (s *service) ListRoles(ctx context.Context) ([]roster.Role, error) {
	var out []roster.Role
	err := s.read(ctx, func(o *op) error {
		if err := o.require(roster.PermRolesView); err != nil {
			return err
		}
		holders, err := o.tx.Holders(ctx)
		if err != nil {
			return err
		}
		for _, r := range o.cat.Roles {
			out = append(out, o.roleView(r, holders))
		}
		slices.SortFunc(out, func(a, b roster.Role) int {
			if d := builtinOrder(a.Name) - builtinOrder(b.Name); d != 0 {
				return d
			}
			return strings.Compare(a.Name, b.Name)
		})
		return nil
	})
	return out, err
}

func (s *service) GetRole(ctx context.Context, name string) (roster.Role, error) {
	var out roster.Role
	err := s.read(ctx, func(o *op) error {
		if err := o.require(roster.PermRolesView); err != nil {
			return err
		}
		r, err := o.role(name)
		if err != nil {
			return err
		}
		holders, err := o.tx.Holders(ctx)
		out = o.roleView(r, holders)
		return err
	})
	return out, err
}

// reread returns a role as stored after a change.
func (o *op) reread(name string) (roster.Role, error) {
	cat, err := o.tx.LoadCatalog(o.ctx)
	if err != nil {
		return roster.Role{}, err
	}
	holders, err := o.tx.Holders(o.ctx)
	return o.roleView(cat.Roles[name], holders), err
}

// customRole finds a role that may be changed (R6).
func (o *op) customRole(name, verb string) (store.RoleRow, error) {
	if err := o.require(roster.PermRolesManage); err != nil {
		return store.RoleRow{}, err
	}
	r, err := o.role(name)
	if err != nil {
		return r, err
	}
	if r.Builtin {
		return r, roster.Errorf(roster.ErrForbidden, "%s is a built-in role and cannot be %s (R6)", name, verb).
			WithHint("create a custom role instead: roster role create NAME --permission P")
	}
	return r, nil
}

func (s *service) CreateRole(ctx context.Context, p roster.CreateRole) (roster.Role, error) {
	var out roster.Role
	if err := roster.ValidateRoleName(p.Name); err != nil {
		return out, err
	}
	if err := roster.ValidateName(p.Description); err != nil {
		return out, roster.Errorf(roster.ErrInvalid, "invalid description: use one line of at most 200 characters")
	}
	perms := dedupe(p.Permissions)
	if len(perms) == 0 {
		return out, roster.Errorf(roster.ErrInvalid, "a role needs at least one permission").WithHint("give --permission P, see roster permission list")
	}
	err := s.writeAs(ctx, roster.PermRolesManage, func(o *op) error { return o.createRole(p, perms, &out) })
	if err != nil {
		return out, fmt.Errorf("create role %s: %w", roster.Quote(p.Name), err)
	}
	return out, nil
}

// createRole is CreateRole inside a transaction, for apply too.
func (o *op) createRole(p roster.CreateRole, perms []string, out *roster.Role) error {
	ctx := o.ctx
	if err := o.require(roster.PermRolesManage); err != nil {
		return err
	}
	if _, ok := o.cat.Roles[p.Name]; ok {
		if !p.IfNotExists {
			return roster.Errorf(roster.ErrConflict, "role %s already exists", p.Name).
				WithHint("use --if-not-exists to accept an existing role")
		}
		var err error
		if *out, err = o.reread(p.Name); err != nil {
			return err
		}
		var d differs
		d.set("permissions", out.Permissions, perms)
		d.text("description", out.Description, p.Description)
		out.Existing = d.existing()
		return nil
	}
	if err := o.permissionsExist(perms); err != nil {
		return err
	}
	if err := o.checkHolds("role "+p.Name, perms); err != nil {
		return err
	}
	if err := o.tx.InsertRole(ctx, roster.Role{Name: p.Name, Description: p.Description, Permissions: perms}); err != nil {
		return err
	}
	if err := o.audit("role.create", p.Name, 0, map[string]any{"permissions": perms}); err != nil {
		return err
	}
	var err error
	*out, err = o.reread(p.Name)
	return err
}

func (s *service) UpdateRole(ctx context.Context, name string, p roster.UpdateRole) (roster.RoleResult, error) {
	var res roster.RoleResult
	if p.Description != nil {
		if err := roster.ValidateName(*p.Description); err != nil {
			return res, roster.Errorf(roster.ErrInvalid, "invalid description: use one line of at most 200 characters")
		}
	}
	err := s.writeAs(ctx, roster.PermRolesManage, func(o *op) error { return o.updateRole(name, p, &res) })
	if err != nil {
		return res, fmt.Errorf("update role %s: %w", roster.Quote(name), err)
	}
	return res, nil
}

// updateRole is UpdateRole inside a transaction, for apply too.
func (o *op) updateRole(name string, p roster.UpdateRole, res *roster.RoleResult) error {
	ctx := o.ctx
	r, err := o.customRole(name, "edited")
	if err != nil {
		return err
	}
	if err := o.permissionsExist(p.Add); err != nil {
		return err
	}
	want := dedupe(append(slices.Clone(r.Permissions), p.Add...))
	want = slices.DeleteFunc(want, func(x string) bool { return slices.Contains(p.Remove, x) })
	// R4: editing a role in any way needs every permission it carries,
	// before and after the edit.
	if err := o.checkHolds("role "+name, append(slices.Clone(r.Permissions), want...)); err != nil {
		return err
	}
	added, removed := diff(r.Permissions, want)
	changes := map[string]any{}
	if len(added) > 0 || len(removed) > 0 {
		if len(want) == 0 {
			return roster.Errorf(roster.ErrInvalid, "a role needs at least one permission").WithHint("delete the role instead")
		}
		if err := o.checkActOnHolders(name); err != nil {
			return err
		}
		if err := o.tx.SetRolePermissions(ctx, name, want); err != nil {
			return err
		}
		changes["added"], changes["removed"] = added, removed
	}
	if p.Description != nil && *p.Description != r.Description {
		if err := o.tx.UpdateRoleDescription(ctx, name, *p.Description); err != nil {
			return err
		}
		changes["description"] = map[string]any{"from": r.Description, "to": *p.Description}
	}
	if len(changes) > 0 {
		if err := o.audit("role.update", name, 0, changes); err != nil {
			return err
		}
	}
	res.Changed = len(changes) > 0
	res.Role, err = o.reread(name)
	return err
}

// checkActOnHolders applies R19: changing a role's permissions changes
// the rights of every holder, so the actor must hold every permission
// each holder holds (R14). Holders are read a page at a time, and each
// distinct set of roles is checked once.
func (o *op) checkActOnHolders(role string) error {
	if o.act.super {
		return nil
	}
	checked := map[string]bool{}
	f := roster.UserFilter{Role: role, Limit: 1000}
	for {
		page, err := o.tx.ListUsers(o.ctx, f)
		if err != nil {
			return err
		}
		for _, u := range page.Items {
			key := strings.Join(u.Roles, ",")
			if checked[key] {
				continue
			}
			for _, p := range o.effective(u.Roles) {
				if !o.act.has(p) {
					return roster.Errorf(roster.ErrForbidden, "cannot change the permissions of %s: its holder %s holds %s, which %s lacks (R19)", role, u.Handle(), p, o.act.name).
						WithHint("ask someone who holds every permission the role's holders hold")
				}
			}
			checked[key] = true
		}
		if page.Next == "" {
			return nil
		}
		f.After = page.Next
	}
}

func (s *service) DeleteRole(ctx context.Context, name, reassign string) (roster.Role, error) {
	var out roster.Role
	err := s.writeAs(ctx, roster.PermRolesManage, func(o *op) error { return o.deleteRole(name, reassign, &out) })
	if err != nil {
		return out, fmt.Errorf("delete role %s: %w", roster.Quote(name), err)
	}
	return out, nil
}

// deleteRole is DeleteRole inside a transaction, for apply --prune too.
func (o *op) deleteRole(name, reassign string, out *roster.Role) error {
	ctx := o.ctx
	r, err := o.customRole(name, "deleted")
	if err != nil {
		return err
	}
	holders, err := o.tx.RoleHolderIDs(ctx, name)
	if err != nil {
		return err
	}
	details := map[string]any{"holders": len(holders)}
	if len(holders) > 0 {
		if reassign == "" {
			return roster.Errorf(roster.ErrConflict, "role %s is held by %d users (R6)", name, len(holders)).
				WithHint("move them to another role with --reassign ROLE")
		}
		if reassign == name {
			return roster.Errorf(roster.ErrInvalid, "cannot reassign holders of %s to itself", name)
		}
		if _, err := o.role(reassign); err != nil {
			return err
		}
		if slices.Contains(holders, o.act.id()) {
			return roster.Errorf(roster.ErrForbidden, "deleting %s would change your own roles (R3)", name).
				WithHint("ask another administrator")
		}
		// Moving holders changes users' roles: it needs what set-role
		// needs, for every holder (R4, R5).
		if err := o.require(roster.PermUsersManage); err != nil {
			return err
		}
		if err := o.checkGrant([]string{reassign}); err != nil {
			return err
		}
		var moved []store.UserRow
		for _, id := range holders {
			u, err := o.tx.UserByRef(ctx, strconv.FormatInt(id, 10))
			if err != nil {
				return err
			}
			if err := o.checkActOn(u, "change the roles of"); err != nil {
				return err
			}
			moved = append(moved, u)
		}
		if err := o.tx.MoveRoleHolders(ctx, name, reassign); err != nil {
			return err
		}
		for _, u := range moved {
			if err := o.audit("role.reassign", u.Handle(), u.ID, map[string]any{"from": name, "to": reassign}); err != nil {
				return err
			}
		}
		details["reassign"] = reassign
	}
	if err := o.tx.DeleteRole(ctx, name); err != nil {
		return err
	}
	*out = o.roleView(r, map[string]int{name: len(holders)})
	return o.audit("role.delete", name, 0, details)
}

func (s *service) ListPermissions(ctx context.Context) ([]roster.Permission, error) {
	var out []roster.Permission
	err := s.read(ctx, func(o *op) error {
		if err := o.require(roster.PermRolesView); err != nil {
			return err
		}
		// A copy: the catalog is shared by every operation (catalogCache).
		out = slices.Clone(o.cat.Permissions)
		return nil
	})
	return out, err
}

func (s *service) CreatePermission(ctx context.Context, p roster.CreatePermission) (roster.Permission, error) {
	var out roster.Permission
	if err := roster.ValidatePermissionName(p.Name); err != nil {
		return out, err
	}
	if err := roster.ValidateName(p.Description); err != nil {
		return out, roster.Errorf(roster.ErrInvalid, "invalid description: use one line of at most 200 characters")
	}
	implies := dedupe(p.Implies)
	if slices.Contains(implies, p.Name) {
		return out, roster.Errorf(roster.ErrInvalid, "permission %s cannot imply itself", p.Name)
	}
	err := s.writeAs(ctx, roster.PermRolesManage, func(o *op) error { return o.createPermission(p, implies, &out) })
	if err != nil {
		return roster.Permission{}, fmt.Errorf("create permission %s: %w", roster.Quote(p.Name), err)
	}
	return out, nil
}

// createPermission is CreatePermission inside a transaction, for apply too.
func (o *op) createPermission(p roster.CreatePermission, implies []string, out *roster.Permission) error {
	ctx := o.ctx
	if err := o.require(roster.PermRolesManage); err != nil {
		return err
	}
	if cur, ok := o.cat.Permission(p.Name); ok {
		if !p.IfNotExists {
			return roster.Errorf(roster.ErrConflict, "permission %s already exists", p.Name).
				WithHint("use --if-not-exists to accept an existing permission")
		}
		// A copy: the catalog is shared by every operation.
		*out = cur
		out.Implies = slices.Clone(cur.Implies)
		var d differs
		d.text("description", cur.Description, p.Description)
		d.set("implies", cur.Implies, implies)
		out.Existing = d.existing()
		return nil
	}
	if err := o.permissionsExist(implies); err != nil {
		return err
	}
	// Whoever later holds the new permission gains what it implies.
	if err := o.checkHolds("permission "+p.Name, implies); err != nil {
		return err
	}
	*out = roster.Permission{Name: p.Name, Description: p.Description, Implies: implies}
	if err := o.tx.InsertPermission(ctx, *out); err != nil {
		return err
	}
	return o.audit("permission.create", p.Name, 0, map[string]any{"implies": implies})
}

func (s *service) DeletePermission(ctx context.Context, name string) (roster.Permission, error) {
	var out roster.Permission
	err := s.writeAs(ctx, roster.PermRolesManage, func(o *op) error { return o.deletePermission(name, &out) })
	if err != nil {
		return roster.Permission{}, fmt.Errorf("delete permission %s: %w", roster.Quote(name), err)
	}
	return out, nil
}

// deletePermission is DeletePermission inside a transaction, for apply --prune too.
func (o *op) deletePermission(name string, out *roster.Permission) error {
	ctx := o.ctx
	if err := o.require(roster.PermRolesManage); err != nil {
		return err
	}
	p, ok := o.cat.Permission(name)
	if !ok {
		return roster.Errorf(roster.ErrNotFound, "permission %s not found", name).WithHint("see roster permission list")
	}
	if p.Builtin {
		return roster.Errorf(roster.ErrForbidden, "%s is one of roster's own permissions and cannot be deleted", name)
	}
	roles, impliedBy, err := o.tx.PermissionUsers(ctx, name)
	if err != nil {
		return err
	}
	if len(roles) > 0 {
		return roster.Errorf(roster.ErrConflict, "permission %s is granted by roles %s", name, strings.Join(roles, ", ")).
			WithHint("remove it first: roster role update ROLE --remove-permission %s", name)
	}
	if len(impliedBy) > 0 {
		return roster.Errorf(roster.ErrConflict, "permission %s is implied by %s", name, strings.Join(impliedBy, ", ")).
			WithHint("delete those permissions first")
	}
	if err := o.tx.DeletePermission(ctx, name); err != nil {
		return err
	}
	*out = p
	return o.audit("permission.delete", name, 0, nil)
}
