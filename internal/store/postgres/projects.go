package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

const projectColumns = `projects.id, projects.slug, projects.name, projects.archived_at IS NOT NULL, projects.created_at,
	(SELECT count(*) FROM memberships WHERE memberships.project_id = projects.id)`

func scanProject(s pgx.Row) (store.ProjectRow, error) {
	var p store.ProjectRow
	if err := s.Scan(&p.ID, &p.Slug, &p.Name, &p.Archived, &p.CreatedAt, &p.Members); err != nil {
		return p, err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return p, nil
}

// ProjectBySlug finds a project; found is false when there is none.
func (t *Tx) ProjectBySlug(ctx context.Context, slug string) (store.ProjectRow, bool, error) {
	p, err := scanProject(t.queryRow(ctx, `SELECT `+projectColumns+` FROM projects WHERE org_id = $1 AND slug = $2`, t.org, slug))
	ok, err := found(err)
	return p, ok, err
}

// ListProjects lists projects by slug: all of them, or with memberOf set
// only those that user belongs to.
func (t *Tx) ListProjects(ctx context.Context, memberOf int64) ([]roster.Project, error) {
	q := `SELECT ` + projectColumns + ` FROM projects WHERE projects.org_id = $1`
	args := []any{t.org}
	if memberOf != 0 {
		q += ` AND projects.id IN (SELECT project_id FROM memberships WHERE user_id = $2)`
		args = append(args, memberOf)
	}
	out, err := collect(ctx, t, q+` ORDER BY projects.slug`, args, func(r pgx.Row) (roster.Project, error) {
		p, err := scanProject(r)
		return p.Project, err
	})
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

// InsertProject stores a new project.
func (t *Tx) InsertProject(ctx context.Context, p roster.Project, now time.Time) (int64, error) {
	var id int64
	err := t.queryRow(ctx, `INSERT INTO projects (org_id, slug, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id`,
		t.org, p.Slug, p.Name, now).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert project %s: %w", p.Slug, err)
	}
	return id, nil
}

// UpdateProject writes a project's slug, name and archived state; an
// archived project keeps the time it was first archived.
func (t *Tx) UpdateProject(ctx context.Context, p store.ProjectRow, now time.Time) error {
	_, err := t.exec(ctx, `UPDATE projects SET slug = $1, name = $2, updated_at = $3,
		archived_at = CASE WHEN $4::boolean THEN COALESCE(archived_at, $3) END WHERE id = $5 AND org_id = $6`,
		p.Slug, p.Name, now, p.Archived, p.ID, t.org)
	return err
}

// DeleteProject removes a project and its memberships.
func (t *Tx) DeleteProject(ctx context.Context, id int64) error {
	_, err := t.exec(ctx, `DELETE FROM projects WHERE id = $1 AND org_id = $2`, id, t.org)
	return err
}

// IsMember reports whether a user belongs to a project.
func (t *Tx) IsMember(ctx context.Context, projectID, userID int64) (bool, error) {
	var one int
	return found(t.queryRow(ctx, `SELECT 1 FROM memberships WHERE project_id = $1 AND user_id = $2
		AND project_id IN (SELECT id FROM projects WHERE org_id = $3)`, projectID, userID, t.org).Scan(&one))
}

// AddMember adds a membership; added is false when it already existed.
func (t *Tx) AddMember(ctx context.Context, projectID, userID int64, now time.Time) (bool, error) {
	tag, err := t.exec(ctx, `INSERT INTO memberships (project_id, user_id, created_at)
		SELECT projects.id, users.id, $3 FROM projects, users
		WHERE projects.id = $1 AND projects.org_id = $4 AND users.id = $2 AND users.org_id = $4
		ON CONFLICT DO NOTHING`, projectID, userID, now, t.org)
	if err != nil {
		return false, fmt.Errorf("add member: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// RemoveMember removes a membership; removed is false when there was none.
func (t *Tx) RemoveMember(ctx context.Context, projectID, userID int64) (bool, error) {
	tag, err := t.exec(ctx, `DELETE FROM memberships WHERE project_id = $1 AND user_id = $2
		AND project_id IN (SELECT id FROM projects WHERE org_id = $3)`, projectID, userID, t.org)
	if err != nil {
		return false, fmt.Errorf("remove member: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Members lists a project's members by email.
func (t *Tx) Members(ctx context.Context, projectID int64) ([]store.Member, error) {
	return collect(ctx, t, `SELECT users.id, `+userHandle+` FROM memberships JOIN users ON users.id = memberships.user_id
		WHERE memberships.project_id = $1 AND users.org_id = $2 ORDER BY users.email_key`, []any{projectID, t.org}, func(r pgx.Row) (store.Member, error) {
		var m store.Member
		err := r.Scan(&m.ID, &m.Email)
		return m, err
	})
}
