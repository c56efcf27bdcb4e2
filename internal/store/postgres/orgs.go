package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

const orgColumns = `id, slug, name, status, created_at`

func scanOrg(s pgx.Row) (store.OrgRow, error) {
	var o store.OrgRow
	if err := s.Scan(&o.ID, &o.Slug, &o.Name, &o.Status, &o.CreatedAt); err != nil {
		return o, err
	}
	o.CreatedAt = o.CreatedAt.UTC()
	o.System = o.ID == store.SystemOrg
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
	if err := t.queryRow(ctx, `SELECT count(*) > 1 FROM (SELECT 1 FROM orgs LIMIT 2) AS two`).Scan(&many); err != nil {
		return false, fmt.Errorf("count organisations: %w", err)
	}
	return many, nil
}

// OrgBySlug finds an organisation by its slug.
func (t *Tx) OrgBySlug(ctx context.Context, slug string) (store.OrgRow, bool, error) {
	o, err := scanOrg(t.queryRow(ctx, `SELECT `+orgColumns+` FROM orgs WHERE slug = $1`, slug))
	ok, err := found(err)
	return o, ok, err
}

// OrgByID finds an organisation by id.
func (t *Tx) OrgByID(ctx context.Context, id int64) (store.OrgRow, bool, error) {
	o, err := scanOrg(t.queryRow(ctx, `SELECT `+orgColumns+` FROM orgs WHERE id = $1`, id))
	ok, err := found(err)
	return o, ok, err
}

// InsertOrg stores a new organisation with roster's permissions and the
// locked roles. ON CONFLICT makes a slug taken an answer, not an error
// that would abort the transaction: of two transactions making one slug,
// the second waits on the first's index entry and, once it commits, finds
// the slug taken (at SERIALIZABLE PostgreSQL aborts it instead, and
// Write's next attempt finds it taken).
func (t *Tx) InsertOrg(ctx context.Context, o roster.Org, now time.Time) (int64, error) {
	status := o.Status
	if status == "" {
		status = roster.OrgActive
	}
	var id int64
	err := t.queryRow(ctx, `INSERT INTO orgs (slug, name, status, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (slug) DO NOTHING RETURNING id`, o.Slug, o.Name, status, now).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, roster.Errorf(roster.ErrConflict, "organisation %s already exists", o.Slug)
	}
	if err != nil {
		return 0, fmt.Errorf("insert organisation %s: %w", o.Slug, err)
	}
	if err := seedOrg(ctx, t.exec, id, roster.OrgPermissions(false), roster.BuiltinRoles); err != nil {
		return 0, fmt.Errorf("insert organisation %s: %w", o.Slug, err)
	}
	return id, nil
}

// UpdateOrg writes an organisation's slug, name and status. A slug taken
// by another is not written, so that the answer is a conflict and the
// transaction goes on; an unknown id is not found, whatever its slug.
func (t *Tx) UpdateOrg(ctx context.Context, o store.OrgRow) error {
	tag, err := t.exec(ctx, `UPDATE orgs SET slug = $1, name = $2, status = $3
		WHERE id = $4 AND NOT EXISTS (SELECT 1 FROM orgs WHERE slug = $1 AND id <> $4)`, o.Slug, o.Name, o.Status, o.ID)
	if err != nil {
		return fmt.Errorf("update organisation %s: %w", o.Slug, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	_, exists, err := t.OrgByID(ctx, o.ID)
	switch {
	case err != nil:
		return err
	case !exists:
		return roster.Errorf(roster.ErrNotFound, "organisation %d not found", o.ID)
	}
	return roster.Errorf(roster.ErrConflict, "organisation %s already exists", o.Slug)
}

// orgTables are the tables of an organisation's own rows, in the order
// DeleteOrg empties them: users first, whose rows take with them those
// of the tables reached through a user (links, tokens, sessions, roles
// held, memberships, notices), then what a user's rows referred to.
var orgTables = []string{"users", "projects", "role_permissions", "user_roles", "roles", "permission_implies",
	"permissions", "settings", "audit"}

// DeleteOrg removes an organisation and everything of it.
func (t *Tx) DeleteOrg(ctx context.Context, id int64) error {
	if id == store.SystemOrg {
		return roster.Errorf(roster.ErrInvalid, "the system organisation cannot be deleted")
	}
	// Idempotency keys hang on a user's id without a foreign key.
	if _, err := t.exec(ctx, `DELETE FROM idempotency WHERE user_id IN (SELECT id FROM users WHERE org_id = $1)`, id); err != nil {
		return fmt.Errorf("delete organisation %d: %w", id, err)
	}
	for _, table := range orgTables {
		if _, err := t.exec(ctx, `DELETE FROM `+table+` WHERE org_id = $1`, id); err != nil {
			return fmt.Errorf("delete organisation %d (%s): %w", id, table, err)
		}
	}
	tag, err := t.exec(ctx, `DELETE FROM orgs WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete organisation %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return roster.Errorf(roster.ErrNotFound, "organisation %d not found", id)
	}
	return nil
}

// CountProjects counts this organisation's projects.
func (t *Tx) CountProjects(ctx context.Context) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM projects WHERE org_id = $1`, t.org).Scan(&n)
	return n, err
}

// execFunc runs one statement: a pgx.Tx's Exec in a migration, Tx.exec
// in a transaction of roster's.
type execFunc func(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error)

// seedOrg writes permissions and locked roles, from the catalog in package
// roster, into organisation org: three statements, whatever their number.
func seedOrg(ctx context.Context, exec execFunc, org int64, perms []roster.Permission, roles []roster.BuiltinRole) error {
	var names, descs []string
	for _, p := range perms {
		names, descs = append(names, p.Name), append(descs, p.Description)
	}
	if _, err := exec(ctx, `INSERT INTO permissions (org_id, name, description, builtin)
		SELECT $1, n, d, true FROM unnest($2::text[], $3::text[]) AS p (n, d)`, org, names, descs); err != nil {
		return fmt.Errorf("permissions: %w", err)
	}
	var roleNames, roleDescs, grantRoles, grantPerms []string
	var all []bool
	for _, r := range roles {
		roleNames, roleDescs, all = append(roleNames, r.Name), append(roleDescs, r.Description), append(all, r.AllPermissions)
		for _, p := range r.Permissions {
			grantRoles, grantPerms = append(grantRoles, r.Name), append(grantPerms, p)
		}
	}
	if _, err := exec(ctx, `INSERT INTO roles (org_id, name, description, builtin, all_permissions)
		SELECT $1, n, d, true, a FROM unnest($2::text[], $3::text[], $4::boolean[]) AS r (n, d, a)`,
		org, roleNames, roleDescs, all); err != nil {
		return fmt.Errorf("roles: %w", err)
	}
	if _, err := exec(ctx, `INSERT INTO role_permissions (org_id, role, permission)
		SELECT $1, r, p FROM unnest($2::text[], $3::text[]) AS g (r, p)`, org, grantRoles, grantPerms); err != nil {
		return fmt.Errorf("role permissions: %w", err)
	}
	return nil
}
