package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// CatalogVersion reads the catalog's change counter.
func (t *Tx) CatalogVersion(ctx context.Context) (int64, error) {
	var v int64
	err := t.queryRow(ctx, `SELECT version FROM catalog_version`).Scan(&v)
	return v, err
}

// LoadCatalog reads all permissions and roles (without holder counts).
func (t *Tx) LoadCatalog(ctx context.Context) (store.Catalog, error) {
	c := store.Catalog{Roles: map[string]store.RoleRow{}}
	perms, err := collect(ctx, t, `SELECT name, description, builtin FROM permissions WHERE org_id = $1 ORDER BY name`, []any{t.org},
		func(r pgx.Row) (roster.Permission, error) {
			p := roster.Permission{Implies: []string{}}
			err := r.Scan(&p.Name, &p.Description, &p.Builtin)
			return p, err
		})
	if err != nil {
		return c, fmt.Errorf("load permissions: %w", err)
	}
	if len(perms) > 0 {
		c.Permissions = perms
	}
	idx := make(map[string]int, len(perms))
	for i, p := range perms {
		idx[p.Name] = i
	}
	if err := t.eachPair(ctx, `SELECT permission, implies FROM permission_implies WHERE org_id = $1 ORDER BY permission, implies`, func(a, b string) {
		if i, ok := idx[a]; ok {
			c.Permissions[i].Implies = append(c.Permissions[i].Implies, b)
		}
	}); err != nil {
		return c, fmt.Errorf("load implications: %w", err)
	}
	roles, err := collect(ctx, t, `SELECT name, description, builtin, all_permissions FROM roles WHERE org_id = $1`, []any{t.org},
		func(r pgx.Row) (store.RoleRow, error) {
			var role store.RoleRow
			err := r.Scan(&role.Name, &role.Description, &role.Builtin, &role.AllPermissions)
			role.Permissions = []string{}
			return role, err
		})
	if err != nil {
		return c, fmt.Errorf("load roles: %w", err)
	}
	for _, r := range roles {
		c.Roles[r.Name] = r
	}
	err = t.eachPair(ctx, `SELECT role, permission FROM role_permissions WHERE org_id = $1 ORDER BY role, permission`, func(role, perm string) {
		r := c.Roles[role]
		r.Permissions = append(r.Permissions, perm)
		c.Roles[role] = r
	})
	if err != nil {
		return c, fmt.Errorf("load role permissions: %w", err)
	}
	for name, r := range c.Roles {
		if r.AllPermissions {
			r.Permissions = c.PermissionNames()
			c.Roles[name] = r
		}
	}
	return c, nil
}

// eachPair runs a query of two text columns in this organisation, whose
// id is its one argument, $1.
func (t *Tx) eachPair(ctx context.Context, q string, fn func(a, b string)) error {
	pairs, err := collect(ctx, t, q, []any{t.org}, func(r pgx.Row) ([2]string, error) {
		var p [2]string
		err := r.Scan(&p[0], &p[1])
		return p, err
	})
	for _, p := range pairs {
		fn(p[0], p[1])
	}
	return err
}

// Holders counts users per role.
func (t *Tx) Holders(ctx context.Context) (map[string]int, error) {
	m := map[string]int{}
	_, err := collect(ctx, t, `SELECT role, count(*) FROM user_roles WHERE org_id = $1 GROUP BY role`, []any{t.org}, func(r pgx.Row) (struct{}, error) {
		var role string
		var n int
		err := r.Scan(&role, &n)
		m[role] = n
		return struct{}{}, err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// InsertRole stores a custom role with its permissions.
func (t *Tx) InsertRole(ctx context.Context, r roster.Role) error {
	if _, err := t.exec(ctx, `INSERT INTO roles (org_id, name, description) VALUES ($1, $2, $3)`, t.org, r.Name, r.Description); err != nil {
		return fmt.Errorf("insert role %s: %w", r.Name, err)
	}
	return t.SetRolePermissions(ctx, r.Name, r.Permissions)
}

// UpdateRoleDescription sets a role's description.
func (t *Tx) UpdateRoleDescription(ctx context.Context, name, desc string) error {
	_, err := t.exec(ctx, `UPDATE roles SET description = $1 WHERE org_id = $2 AND name = $3`, desc, t.org, name)
	return err
}

// SetRolePermissions replaces a role's permissions.
func (t *Tx) SetRolePermissions(ctx context.Context, role string, perms []string) error {
	if _, err := t.exec(ctx, `DELETE FROM role_permissions WHERE org_id = $1 AND role = $2`, t.org, role); err != nil {
		return err
	}
	for _, p := range perms {
		if _, err := t.exec(ctx, `INSERT INTO role_permissions (org_id, role, permission) VALUES ($1, $2, $3)`, t.org, role, p); err != nil {
			return fmt.Errorf("add %s to role %s: %w", p, role, err)
		}
	}
	return nil
}

// DeleteRole removes a role and its permission grants.
func (t *Tx) DeleteRole(ctx context.Context, name string) error {
	_, err := t.exec(ctx, `DELETE FROM roles WHERE org_id = $1 AND name = $2`, t.org, name)
	return err
}

// RoleHolderIDs lists the ids of users holding a role.
func (t *Tx) RoleHolderIDs(ctx context.Context, role string) ([]int64, error) {
	return collect(ctx, t, `SELECT user_id FROM user_roles WHERE org_id = $1 AND role = $2 ORDER BY user_id`, []any{t.org, role}, func(r pgx.Row) (int64, error) {
		var id int64
		err := r.Scan(&id)
		return id, err
	})
}

// MoveRoleHolders gives every holder of from the role to (once) and takes
// from away.
func (t *Tx) MoveRoleHolders(ctx context.Context, from, to string) error {
	if _, err := t.exec(ctx, `INSERT INTO user_roles (org_id, user_id, role)
		SELECT org_id, user_id, $1 FROM user_roles WHERE org_id = $2 AND role = $3 ON CONFLICT DO NOTHING`, to, t.org, from); err != nil {
		return err
	}
	_, err := t.exec(ctx, `DELETE FROM user_roles WHERE org_id = $1 AND role = $2`, t.org, from)
	return err
}

// InsertPermission registers an application permission.
func (t *Tx) InsertPermission(ctx context.Context, p roster.Permission) error {
	if _, err := t.exec(ctx, `INSERT INTO permissions (org_id, name, description) VALUES ($1, $2, $3)`, t.org, p.Name, p.Description); err != nil {
		return fmt.Errorf("insert permission %s: %w", p.Name, err)
	}
	for _, imp := range p.Implies {
		if _, err := t.exec(ctx, `INSERT INTO permission_implies (org_id, permission, implies) VALUES ($1, $2, $3)`, t.org, p.Name, imp); err != nil {
			return fmt.Errorf("%s implies %s: %w", p.Name, imp, err)
		}
	}
	return nil
}

// PermissionUsers lists the roles granting a permission and the
// permissions implying it: what stops its deletion.
func (t *Tx) PermissionUsers(ctx context.Context, name string) (roles, impliedBy []string, err error) {
	roles, err = t.strings(ctx, `SELECT role FROM role_permissions WHERE org_id = $1 AND permission = $2 ORDER BY role`, t.org, name)
	if err != nil {
		return nil, nil, err
	}
	impliedBy, err = t.strings(ctx, `SELECT permission FROM permission_implies WHERE org_id = $1 AND implies = $2 ORDER BY permission`, t.org, name)
	return roles, impliedBy, err
}

func (t *Tx) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	return collect(ctx, t, q, args, func(r pgx.Row) (string, error) {
		var v string
		err := r.Scan(&v)
		return v, err
	})
}

// DeletePermission removes an application permission.
func (t *Tx) DeletePermission(ctx context.Context, name string) error {
	_, err := t.exec(ctx, `DELETE FROM permissions WHERE org_id = $1 AND name = $2 AND NOT builtin`, t.org, name)
	return err
}

// ListAudit returns events newest first.
func (t *Tx) ListAudit(ctx context.Context, q store.AuditQuery) ([]roster.AuditEvent, error) {
	var where []string
	var args params
	// add adds a condition; %s in it is the value's placeholder.
	add := func(cond string, v any) { where = append(where, fmt.Sprintf(cond, args.add(v))) }
	add("org_id = %s", t.org)
	if !q.Since.IsZero() {
		add("at >= %s", q.Since)
	}
	if !q.Until.IsZero() {
		add("at <= %s", q.Until)
	}
	if q.ActorID != 0 {
		add("actor_id = %s", q.ActorID)
	} else if q.Actor != "" {
		add("actor = %s", q.Actor)
	}
	if q.TargetID != 0 {
		add("target_id = %s", q.TargetID)
	} else if q.Target != "" {
		add("target = %s", q.Target)
	}
	if q.AfterID != 0 {
		add("id > %s", q.AfterID)
	}
	if q.Action != "" {
		if strings.HasSuffix(q.Action, ".*") {
			// A literal prefix: no letter case folded, no wildcard read.
			add("starts_with(action, %s)", strings.TrimSuffix(q.Action, "*"))
		} else {
			add("action = %s", q.Action)
		}
	}
	sqlq := `SELECT id, at, actor, via, action, target, details FROM audit WHERE ` + strings.Join(where, " AND ") +
		" ORDER BY id DESC LIMIT " + args.add(q.Limit)
	out, err := collect(ctx, t, sqlq, args, func(r pgx.Row) (roster.AuditEvent, error) {
		var e roster.AuditEvent
		if err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Via, &e.Action, &e.Target, &e.Details); err != nil {
			return e, err
		}
		e.At = e.At.UTC()
		if e.Details == nil {
			e.Details = map[string]any{}
		}
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

// Settings reads the stored settings (without defaults).
func (t *Tx) Settings(ctx context.Context) (map[string]string, error) {
	m := map[string]string{}
	err := t.eachPair(ctx, `SELECT key, value FROM settings WHERE org_id = $1`, func(k, v string) { m[k] = v })
	if err != nil {
		return nil, err
	}
	return m, nil
}

// SetSetting stores one setting.
func (t *Tx) SetSetting(ctx context.Context, key, value string) error {
	_, err := t.exec(ctx, `INSERT INTO settings (org_id, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (org_id, key) DO UPDATE SET value = excluded.value`, t.org, key, value)
	return err
}
