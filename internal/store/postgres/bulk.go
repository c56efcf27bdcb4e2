package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// UsersByKey returns the users holding handles, by their key, in one
// statement.
func (t *Tx) UsersByKey(ctx context.Context, handles []string) (map[string]store.UserRow, error) {
	keys := make([]string, len(handles))
	for i, h := range handles {
		keys[i] = roster.EmailKey(h)
	}
	out := make(map[string]store.UserRow, len(handles))
	// One probe of the (org_id, email_key) index per key, each at most
	// one row (the LIMIT keeps the planner from flattening it into a
	// join). "email_key = ANY($2)" let the planner, on a table that an
	// import is filling in its own transaction and whose statistics
	// still say it is nearly empty, scan every user of the organisation
	// for each chunk: a remote import of 100,000 users into a new
	// PostgreSQL store spent seconds a chunk there and ran past the
	// server's 50 s limit.
	rows, err := t.tx.Query(ctx, usersByKeySQL, t.org, keys)
	if err = t.note(err); err != nil {
		return nil, fmt.Errorf("find users by email: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("find users by email: %w", err)
		}
		out[store.UserKey(u.User)] = u
	}
	if err := t.note(rows.Err()); err != nil {
		return nil, fmt.Errorf("find users by email: %w", err)
	}
	return out, nil
}

// usersByKeySQL finds users by email key ($2) in organisation $1.
const usersByKeySQL = `SELECT ` + userColumns + ` FROM unnest($2::text[]) AS k (key)
	CROSS JOIN LATERAL (SELECT * FROM users WHERE org_id = $1 AND email_key = k.key LIMIT 1) AS users`

// InsertUsers stores new users with COPY: their ids are taken from the
// users' sequence first, which never gives one twice, as InsertUser's.
func (t *Tx) InsertUsers(ctx context.Context, users []store.UserRow) ([]int64, error) {
	if len(users) == 0 {
		return nil, nil
	}
	ids := make([]int64, 0, len(users))
	rows, err := t.tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('users', 'id')) FROM generate_series(1, $1)`, len(users))
	if err = t.note(err); err != nil {
		return nil, fmt.Errorf("insert users: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("insert users: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := t.note(rows.Err()); err != nil {
		return nil, fmt.Errorf("insert users: %w", err)
	}
	userRows := make([][]any, len(users))
	var roles, links [][]any
	for i, u := range users {
		userRows[i] = []any{t.org, ids[i], u.Email, store.UserKey(u.User), nullString(u.Username), nullString(store.FoldKey(u.Username)),
			u.Name, store.FoldKey(u.Name), string(u.Status), nullString(u.PasswordHash), u.MustChangePassword,
			u.CreatedAt, u.UpdatedAt, u.DeactivatedAt, u.Reason, string(store.StatusBefore(u)), u.LastLoginMethod,
			u.ExpiresAt, string(store.KindOf(u.User))}
		for _, r := range u.Roles {
			roles = append(roles, []any{t.org, ids[i], r})
		}
		for k, v := range u.Links {
			links = append(links, []any{t.org, ids[i], k, v})
		}
	}
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"users", []string{"org_id", "id", "email", "email_key", "username", "username_key", "name", "name_key", "status",
			"password_hash", "must_change_password", "created_at", "updated_at", "deactivated_at", "deactivated_reason",
			"status_before_deactivation", "last_login_method", "expires_at", "kind"}, userRows},
		{"user_roles", []string{"org_id", "user_id", "role"}, roles},
		{"user_links", []string{"org_id", "user_id", "kind", "value"}, links},
	}
	for _, c := range copies {
		if len(c.rows) == 0 {
			continue
		}
		_, err := t.tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows))
		if err = t.note(err); err != nil {
			return nil, fmt.Errorf("insert users (%s): %w", c.table, err)
		}
	}
	return ids, nil
}

// InsertMembers adds memberships in one statement.
func (t *Tx) InsertMembers(ctx context.Context, members []store.Membership, now time.Time) error {
	if len(members) == 0 {
		return nil
	}
	projects, users := make([]int64, len(members)), make([]int64, len(members))
	for i, m := range members {
		projects[i], users[i] = m.ProjectID, m.UserID
	}
	// Only a project and a user of this organisation make a membership.
	_, err := t.exec(ctx, `INSERT INTO memberships (project_id, user_id, created_at)
		SELECT m.p, m.u, $3 FROM unnest($1::bigint[], $2::bigint[]) AS m (p, u)
		JOIN projects ON projects.id = m.p AND projects.org_id = $4
		JOIN users ON users.id = m.u AND users.org_id = $4
		ON CONFLICT DO NOTHING`, projects, users, now, t.org)
	if err != nil {
		return fmt.Errorf("add members: %w", err)
	}
	return nil
}
