package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Org is the id of the organisation this transaction acts in.
func (t *Tx) Org() int64 { return t.org }

// In is this same transaction acting in org.
func (t *Tx) In(org int64) store.Tx { return &Tx{txShared: t.txShared, org: org} }

// inOrg is the condition that the user whose id is in column col
// belongs to the transaction's organisation: for the tables reached
// through a user (links, tokens, sessions, memberships), which hold no
// organisation of their own. One look-up of users' primary key a row.
func inOrg(col string) string {
	return "(SELECT org_id FROM users WHERE users.id = " + col + ") = ?"
}

// orgUser is a user id, as a value to insert, that is NULL unless the
// user belongs to the transaction's organisation: the NOT NULL column
// it goes to then refuses the row, and an id of another organisation
// is refused as a conflict rather than stored.
const orgUser = "(SELECT id FROM users WHERE id = ? AND org_id = ?)"

const orgColumns = `id, slug, name, status, created_at`

func scanOrg(s scanner) (store.OrgRow, error) {
	var o store.OrgRow
	var created int64
	if err := s.Scan(&o.ID, &o.Slug, &o.Name, &o.Status, &created); err != nil {
		return o, err
	}
	o.CreatedAt, o.System = fromMicros(created), o.ID == store.SystemOrg
	return o, nil
}

// Orgs lists the organisations by slug.
func (t *Tx) Orgs(ctx context.Context) ([]store.OrgRow, error) {
	out, err := collect(ctx, t, `SELECT `+orgColumns+` FROM orgs ORDER BY slug`, nil, scanOrg)
	if err != nil {
		return nil, fmt.Errorf("list organisations: %w", err)
	}
	return out, nil
}

// ManyOrgs reports whether there is more than one organisation.
func (t *Tx) ManyOrgs(ctx context.Context) (bool, error) {
	var many bool
	if err := t.queryRow(ctx, `SELECT count(*) > 1 FROM (SELECT 1 FROM orgs LIMIT 2)`).Scan(&many); err != nil {
		return false, fmt.Errorf("count organisations: %w", err)
	}
	return many, nil
}

// OrgBySlug finds an organisation by slug.
func (t *Tx) OrgBySlug(ctx context.Context, slug string) (store.OrgRow, bool, error) {
	return t.orgWhere(ctx, `slug = ?`, slug)
}

// OrgByID finds an organisation by id.
func (t *Tx) OrgByID(ctx context.Context, id int64) (store.OrgRow, bool, error) {
	return t.orgWhere(ctx, `id = ?`, id)
}

func (t *Tx) orgWhere(ctx context.Context, cond string, arg any) (store.OrgRow, bool, error) {
	o, err := scanOrg(t.queryRow(ctx, `SELECT `+orgColumns+` FROM orgs WHERE `+cond, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return o, false, nil
	}
	return o, err == nil, err
}

// InsertOrg stores a new organisation with roster's permissions and the
// locked roles.
func (t *Tx) InsertOrg(ctx context.Context, o roster.Org, now time.Time) (int64, error) {
	status := o.Status
	if status == "" {
		status = roster.OrgActive
	}
	res, err := t.exec(ctx, `INSERT INTO orgs (slug, name, status, created_at) VALUES (?, ?, ?, ?)`,
		o.Slug, o.Name, status, micros(now))
	if err != nil {
		return 0, fmt.Errorf("insert organisation %s: %w", o.Slug, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if err := seedPermissions(ctx, t.q, id, roster.OrgPermissions(false)); err != nil {
		return 0, err
	}
	for _, r := range roster.BuiltinRoles {
		if err := seedRole(ctx, t.q, id, r); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// seedPermissions stores roster's own permissions in an organisation.
func seedPermissions(ctx context.Context, q querier, org int64, perms []roster.Permission) error {
	for _, p := range perms {
		if _, err := q.ExecContext(ctx, `INSERT INTO permissions (org_id, name, description, builtin) VALUES (?, ?, ?, 1)`,
			org, p.Name, p.Description); err != nil {
			return fmt.Errorf("permission %s: %w", p.Name, err)
		}
	}
	return nil
}

// seedRole stores a locked role in an organisation.
func seedRole(ctx context.Context, q querier, org int64, r roster.BuiltinRole) error {
	if _, err := q.ExecContext(ctx, `INSERT INTO roles (org_id, name, description, builtin, all_permissions) VALUES (?, ?, ?, 1, ?)`,
		org, r.Name, r.Description, r.AllPermissions); err != nil {
		return fmt.Errorf("role %s: %w", r.Name, err)
	}
	for _, p := range r.Permissions {
		if _, err := q.ExecContext(ctx, `INSERT INTO role_permissions (org_id, role, permission) VALUES (?, ?, ?)`,
			org, r.Name, p); err != nil {
			return fmt.Errorf("role %s: %w", r.Name, err)
		}
	}
	return nil
}

// UpdateOrg writes an organisation's slug, name and status.
func (t *Tx) UpdateOrg(ctx context.Context, o store.OrgRow) error {
	res, err := t.exec(ctx, `UPDATE orgs SET slug = ?, name = ?, status = ? WHERE id = ?`, o.Slug, o.Name, o.Status, o.ID)
	return orgChanged(res, err, o.ID)
}

// orgChanged is the error of a statement that was to change organisation
// id: not found when it changed nothing.
func orgChanged(res sql.Result, err error, id int64) error {
	if err != nil {
		return fmt.Errorf("organisation %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		return roster.Errorf(roster.ErrNotFound, "organisation %d not found", id)
	}
	return err
}

// orgTables are the tables holding an organisation's rows, in the order
// DeleteOrg empties them: each before what it refers to. Deleting the
// users takes with them, through their foreign keys, their roles, links,
// invitations, tokens, sessions, memberships and notices; deleting the
// roles, their permission grants.
var orgTables = []string{"users", "projects", "roles", "permission_implies", "role_permissions", "permissions", "settings", "audit"}

// DeleteOrg removes an organisation and everything of it.
func (t *Tx) DeleteOrg(ctx context.Context, id int64) error {
	if id == store.SystemOrg {
		return roster.Errorf(roster.ErrInvalid, "the system organisation cannot be deleted")
	}
	// Outcomes hold a user id and no foreign key (0 is no user).
	if _, err := t.exec(ctx, `DELETE FROM idempotency WHERE user_id IN (SELECT id FROM users WHERE org_id = ?)`, id); err != nil {
		return fmt.Errorf("delete organisation %d: %w", id, err)
	}
	for _, table := range orgTables {
		if _, err := t.exec(ctx, `DELETE FROM `+table+` WHERE org_id = ?`, id); err != nil {
			return fmt.Errorf("delete organisation %d: %s: %w", id, table, err)
		}
	}
	res, err := t.exec(ctx, `DELETE FROM orgs WHERE id = ?`, id)
	return orgChanged(res, err, id)
}

// CountProjects counts this organisation's projects.
func (t *Tx) CountProjects(ctx context.Context) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM projects WHERE org_id = ?`, t.org).Scan(&n)
	return n, err
}
