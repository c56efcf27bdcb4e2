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

const projectColumns = `projects.id, projects.slug, projects.name, projects.archived_at, projects.created_at,
	(SELECT count(*) FROM memberships WHERE memberships.project_id = projects.id)`

func scanProject(s scanner) (store.ProjectRow, error) {
	var p store.ProjectRow
	var archived sql.NullInt64
	var created int64
	if err := s.Scan(&p.ID, &p.Slug, &p.Name, &archived, &created, &p.Members); err != nil {
		return p, err
	}
	p.Archived, p.CreatedAt = archived.Valid, fromMicros(created)
	return p, nil
}

// orgMembership is the values of a membership, a project id and a user
// id each followed by the transaction's organisation, that are NULL
// unless both the project and the user are of that organisation: the
// NOT NULL columns then refuse it.
const orgMembership = `((SELECT id FROM projects WHERE id = ? AND org_id = ?), ` + orgUser + `, ?)`

// ProjectBySlug finds a project; found is false when there is none.
func (t *Tx) ProjectBySlug(ctx context.Context, slug string) (store.ProjectRow, bool, error) {
	p, err := scanProject(t.queryRow(ctx, `SELECT `+projectColumns+` FROM projects WHERE org_id = ? AND slug = ?`, t.org, slug))
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	return p, err == nil, err
}

// ListProjects lists projects by slug: all of them, or with memberOf set
// only those that user belongs to.
func (t *Tx) ListProjects(ctx context.Context, memberOf int64) ([]roster.Project, error) {
	q := `SELECT ` + projectColumns + ` FROM projects WHERE org_id = ?`
	args := []any{t.org}
	if memberOf != 0 {
		q += ` AND projects.id IN (SELECT project_id FROM memberships WHERE user_id = ?)`
		args = append(args, memberOf)
	}
	out, err := collect(ctx, t, q+` ORDER BY projects.slug`, args, func(s scanner) (roster.Project, error) {
		p, err := scanProject(s)
		return p.Project, err
	})
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

// InsertProject stores a new project.
func (t *Tx) InsertProject(ctx context.Context, p roster.Project, now time.Time) (int64, error) {
	res, err := t.exec(ctx, `INSERT INTO projects (org_id, slug, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		t.org, p.Slug, p.Name, micros(now), micros(now))
	if err != nil {
		return 0, fmt.Errorf("insert project %s: %w", p.Slug, err)
	}
	return res.LastInsertId()
}

// UpdateProject writes a project's slug, name and archived state.
func (t *Tx) UpdateProject(ctx context.Context, p store.ProjectRow, now time.Time) error {
	var archived any
	if p.Archived {
		archived = micros(now)
	}
	_, err := t.exec(ctx, `UPDATE projects SET slug = ?, name = ?, updated_at = ?,
		archived_at = CASE WHEN ? IS NULL THEN NULL ELSE COALESCE(archived_at, ?) END WHERE id = ? AND org_id = ?`,
		p.Slug, p.Name, micros(now), archived, archived, p.ID, t.org)
	return err
}

// DeleteProject removes a project and its memberships.
func (t *Tx) DeleteProject(ctx context.Context, id int64) error {
	_, err := t.exec(ctx, `DELETE FROM projects WHERE id = ? AND org_id = ?`, id, t.org)
	return err
}

// IsMember reports whether a user belongs to a project.
func (t *Tx) IsMember(ctx context.Context, projectID, userID int64) (bool, error) {
	var one int
	err := t.queryRow(ctx, `SELECT 1 FROM memberships WHERE project_id = ? AND user_id = ? AND `+inOrg("memberships.user_id"),
		projectID, userID, t.org).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// AddMember adds a membership; added is false when it already existed.
func (t *Tx) AddMember(ctx context.Context, projectID, userID int64, now time.Time) (bool, error) {
	res, err := t.exec(ctx, `INSERT INTO memberships (project_id, user_id, created_at) VALUES `+orgMembership+`
		ON CONFLICT (project_id, user_id) DO NOTHING`, projectID, t.org, userID, t.org, micros(now))
	if err != nil {
		return false, fmt.Errorf("add member: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RemoveMember removes a membership; removed is false when there was none.
func (t *Tx) RemoveMember(ctx context.Context, projectID, userID int64) (bool, error) {
	res, err := t.exec(ctx, `DELETE FROM memberships WHERE project_id = ? AND user_id = ? AND `+inOrg("memberships.user_id"),
		projectID, userID, t.org)
	if err != nil {
		return false, fmt.Errorf("remove member: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Members lists a project's members by email.
func (t *Tx) Members(ctx context.Context, projectID int64) ([]store.Member, error) {
	return collect(ctx, t, `SELECT users.id, `+userHandle+` FROM memberships JOIN users ON users.id = memberships.user_id
		WHERE memberships.project_id = ? AND users.org_id = ? ORDER BY users.email_key`, []any{projectID, t.org}, func(s scanner) (store.Member, error) {
		var m store.Member
		err := s.Scan(&m.ID, &m.Email)
		return m, err
	})
}
