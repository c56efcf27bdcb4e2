package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

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
	rows, err := t.query(ctx, `SELECT name, description, builtin FROM permissions WHERE org_id = ? ORDER BY name`, t.org)
	if err != nil {
		return c, fmt.Errorf("load permissions: %w", err)
	}
	idx := map[string]int{}
	for rows.Next() {
		var p roster.Permission
		if err := rows.Scan(&p.Name, &p.Description, &p.Builtin); err != nil {
			rows.Close()
			return c, err
		}
		p.Implies = []string{}
		idx[p.Name] = len(c.Permissions)
		c.Permissions = append(c.Permissions, p)
	}
	rows.Close()
	if err := t.eachPair(ctx, `SELECT permission, implies FROM permission_implies WHERE org_id = ? ORDER BY permission, implies`, func(a, b string) {
		if i, ok := idx[a]; ok {
			c.Permissions[i].Implies = append(c.Permissions[i].Implies, b)
		}
	}, t.org); err != nil {
		return c, err
	}
	rows, err = t.query(ctx, `SELECT name, description, builtin, all_permissions FROM roles WHERE org_id = ?`, t.org)
	if err != nil {
		return c, fmt.Errorf("load roles: %w", err)
	}
	for rows.Next() {
		var r store.RoleRow
		if err := rows.Scan(&r.Name, &r.Description, &r.Builtin, &r.AllPermissions); err != nil {
			rows.Close()
			return c, err
		}
		r.Permissions = []string{}
		c.Roles[r.Name] = r
	}
	rows.Close()
	err = t.eachPair(ctx, `SELECT role, permission FROM role_permissions WHERE org_id = ? ORDER BY role, permission`, func(role, perm string) {
		r := c.Roles[role]
		r.Permissions = append(r.Permissions, perm)
		c.Roles[role] = r
	}, t.org)
	if err != nil {
		return c, err
	}
	for name, r := range c.Roles {
		if r.AllPermissions {
			r.Permissions = c.PermissionNames()
			c.Roles[name] = r
		}
	}
	return c, nil
}

func (t *Tx) eachPair(ctx context.Context, q string, fn func(a, b string), args ...any) error {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		fn(a, b)
	}
	return rows.Err()
}

// Holders counts users per role.
func (t *Tx) Holders(ctx context.Context) (map[string]int, error) {
	rows, err := t.query(ctx, `SELECT role, count(*) FROM user_roles WHERE org_id = ? GROUP BY role`, t.org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var r string
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			return nil, err
		}
		m[r] = n
	}
	return m, rows.Err()
}

// InsertRole stores a custom role with its permissions.
func (t *Tx) InsertRole(ctx context.Context, r roster.Role) error {
	if _, err := t.exec(ctx, `INSERT INTO roles (org_id, name, description) VALUES (?, ?, ?)`, t.org, r.Name, r.Description); err != nil {
		return fmt.Errorf("insert role %s: %w", r.Name, err)
	}
	return t.SetRolePermissions(ctx, r.Name, r.Permissions)
}

// UpdateRoleDescription sets a role's description.
func (t *Tx) UpdateRoleDescription(ctx context.Context, name, desc string) error {
	_, err := t.exec(ctx, `UPDATE roles SET description = ? WHERE org_id = ? AND name = ?`, desc, t.org, name)
	return err
}

// SetRolePermissions replaces a role's permissions.
func (t *Tx) SetRolePermissions(ctx context.Context, role string, perms []string) error {
	if _, err := t.exec(ctx, `DELETE FROM role_permissions WHERE org_id = ? AND role = ?`, t.org, role); err != nil {
		return err
	}
	for _, p := range perms {
		if _, err := t.exec(ctx, `INSERT INTO role_permissions (org_id, role, permission) VALUES (?, ?, ?)`, t.org, role, p); err != nil {
			return fmt.Errorf("add %s to role %s: %w", p, role, err)
		}
	}
	return nil
}

// DeleteRole removes a role and its permission grants.
func (t *Tx) DeleteRole(ctx context.Context, name string) error {
	_, err := t.exec(ctx, `DELETE FROM roles WHERE org_id = ? AND name = ?`, t.org, name)
	return err
}

// RoleHolderIDs lists the ids of users holding a role.
func (t *Tx) RoleHolderIDs(ctx context.Context, role string) ([]int64, error) {
	return collect(ctx, t, `SELECT user_id FROM user_roles WHERE org_id = ? AND role = ? ORDER BY user_id`, []any{t.org, role}, func(s scanner) (int64, error) {
		var id int64
		err := s.Scan(&id)
		return id, err
	})
}

// MoveRoleHolders gives every holder of from the role to (once) and takes
// from away.
func (t *Tx) MoveRoleHolders(ctx context.Context, from, to string) error {
	if _, err := t.exec(ctx, `INSERT INTO user_roles (user_id, org_id, role)
		SELECT user_id, org_id, ? FROM user_roles WHERE org_id = ? AND role = ? ON CONFLICT DO NOTHING`, to, t.org, from); err != nil {
		return err
	}
	_, err := t.exec(ctx, `DELETE FROM user_roles WHERE org_id = ? AND role = ?`, t.org, from)
	return err
}

// InsertPermission registers an application permission.
func (t *Tx) InsertPermission(ctx context.Context, p roster.Permission) error {
	if _, err := t.exec(ctx, `INSERT INTO permissions (org_id, name, description) VALUES (?, ?, ?)`, t.org, p.Name, p.Description); err != nil {
		return fmt.Errorf("insert permission %s: %w", p.Name, err)
	}
	for _, imp := range p.Implies {
		if _, err := t.exec(ctx, `INSERT INTO permission_implies (org_id, permission, implies) VALUES (?, ?, ?)`, t.org, p.Name, imp); err != nil {
			return fmt.Errorf("%s implies %s: %w", p.Name, imp, err)
		}
	}
	return nil
}

// PermissionUsers lists the roles granting a permission and the
// permissions implying it: what stops its deletion.
func (t *Tx) PermissionUsers(ctx context.Context, name string) (roles, impliedBy []string, err error) {
	roles, err = t.strings(ctx, `SELECT role FROM role_permissions WHERE org_id = ? AND permission = ? ORDER BY role`, t.org, name)
	if err != nil {
		return nil, nil, err
	}
	impliedBy, err = t.strings(ctx, `SELECT permission FROM permission_implies WHERE org_id = ? AND implies = ? ORDER BY permission`, t.org, name)
	return roles, impliedBy, err
}

func (t *Tx) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	return collect(ctx, t, q, args, func(s scanner) (string, error) {
		var v string
		err := s.Scan(&v)
		return v, err
	})
}

// DeletePermission removes an application permission.
func (t *Tx) DeletePermission(ctx context.Context, name string) error {
	_, err := t.exec(ctx, `DELETE FROM permissions WHERE org_id = ? AND name = ? AND builtin = 0`, t.org, name)
	return err
}

// InsertAudit records an event.
func (t *Tx) InsertAudit(ctx context.Context, e store.AuditEntry) error {
	return t.InsertAudits(ctx, []store.AuditEntry{e})
}

// ListAudit returns events newest first.
func (t *Tx) ListAudit(ctx context.Context, q store.AuditQuery) ([]roster.AuditEvent, error) {
	where, args := []string{"org_id = ?"}, []any{t.org}
	add := func(cond string, v ...any) { where = append(where, cond); args = append(args, v...) }
	if !q.Since.IsZero() {
		add("at >= ?", micros(q.Since))
	}
	if !q.Until.IsZero() {
		add("at <= ?", micros(q.Until))
	}
	if q.ActorID != 0 {
		add("actor_id = ?", q.ActorID)
	} else if q.Actor != "" {
		add("actor = ?", q.Actor)
	}
	if q.TargetID != 0 {
		add("target_id = ?", q.TargetID)
	} else if q.Target != "" {
		add("target = ?", q.Target)
	}
	if q.AfterID != 0 {
		add("id > ?", q.AfterID)
	}
	if q.Action != "" {
		if strings.HasSuffix(q.Action, ".*") {
			// A literal prefix, not LIKE: LIKE ignores ASCII case and reads
			// '_' as a wildcard, and PostgreSQL's does neither.
			prefix := strings.TrimSuffix(q.Action, "*")
			add("substr(action, 1, length(?)) = ?", prefix, prefix)
		} else {
			add("action = ?", q.Action)
		}
	}
	sqlq := `SELECT id, at, actor, via, action, target, details FROM audit WHERE ` + strings.Join(where, " AND ")
	sqlq += " ORDER BY id DESC LIMIT ?"
	args = append(args, q.Limit)
	rows, err := t.query(ctx, sqlq, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	out := []roster.AuditEvent{}
	for rows.Next() {
		var e roster.AuditEvent
		var at int64
		var details string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Via, &e.Action, &e.Target, &details); err != nil {
			return nil, err
		}
		e.At = fromMicros(at)
		e.Details = map[string]any{}
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return nil, fmt.Errorf("audit event %d: %w", e.ID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Settings reads the stored settings (without defaults).
func (t *Tx) Settings(ctx context.Context) (map[string]string, error) {
	rows, err := t.query(ctx, `SELECT key, value FROM settings WHERE org_id = ?`, t.org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, rows.Err()
}

// SetSetting stores one setting.
func (t *Tx) SetSetting(ctx context.Context, key, value string) error {
	_, err := t.exec(ctx, `INSERT INTO settings (org_id, key, value) VALUES (?, ?, ?)
		ON CONFLICT (org_id, key) DO UPDATE SET value = excluded.value`, t.org, key, value)
	return err
}
