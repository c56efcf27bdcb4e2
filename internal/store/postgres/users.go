package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// userHandle names a user where a list shows who: a person's email, a
// service account's name.
const userHandle = `CASE users.kind WHEN 'service' THEN users.username ELSE users.email END`

// pageColumns are what a page of users shows: roster.User's fields, no
// more. A page reads no password hash (whether there is one is enough),
// no deactivation's reason, and not the organisation's status, a look-up
// a row.
const pageColumns = `users.id, users.email, COALESCE(users.username, ''), users.name, users.status,
	COALESCE(users.password_hash, '') <> '', users.must_change_password, users.created_at, users.updated_at,
	users.last_login_at, users.last_login_method, users.deactivated_at,
	ARRAY(SELECT role FROM user_roles WHERE user_id = users.id ORDER BY role),
	COALESCE((SELECT jsonb_object_agg(kind, value) FROM user_links WHERE user_id = users.id), '{}'::jsonb),
	ARRAY(SELECT projects.slug FROM memberships JOIN projects ON projects.id = memberships.project_id
		WHERE memberships.user_id = users.id ORDER BY projects.slug), users.expires_at, users.kind`

// userColumns are a whole store.UserRow: pageColumns, then the columns
// only the store and the core read.
const userColumns = pageColumns + `, COALESCE(users.password_hash, ''), users.deactivated_reason,
	users.status_before_deactivation, users.org_id, (SELECT status FROM orgs WHERE orgs.id = users.org_id)`

// A user's roles, links and projects come in the user's own row, so that
// finding a user or a page of them is one statement.
func scanUser(s pgx.Row) (store.UserRow, error) { return scanUserOf(s, true) }

// scanUserOf scans a row of userColumns, or of pageColumns when not whole.
func scanUserOf(s pgx.Row, whole bool) (store.UserRow, error) {
	var u store.UserRow
	dest := append(make([]any, 0, 22), &u.ID, &u.Email, &u.Username, &u.Name, &u.Status, &u.HasPassword, &u.MustChangePassword,
		&u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt, &u.LastLoginMethod, &u.DeactivatedAt,
		&u.Roles, &u.Links, &u.Projects, &u.ExpiresAt, &u.Kind)
	if whole {
		dest = append(dest, &u.PasswordHash, &u.Reason, &u.StatusBefore, &u.OrgID, &u.OrgStatus)
	}
	if err := s.Scan(dest...); err != nil {
		return u, err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	u.LastLoginAt, u.DeactivatedAt, u.ExpiresAt = utcPtr(u.LastLoginAt), utcPtr(u.DeactivatedAt), utcPtr(u.ExpiresAt)
	if u.Roles == nil {
		u.Roles = []string{}
	}
	if u.Projects == nil {
		u.Projects = []string{}
	}
	if u.Links == nil {
		u.Links = map[string]string{}
	}
	return u, nil
}

// UserByRef finds a user by email, username, numeric id or kind:value link,
// with roles and links loaded.
func (t *Tx) UserByRef(ctx context.Context, ref string) (store.UserRow, error) {
	r, err := store.ParseRef(ref)
	if err != nil {
		return store.UserRow{}, err
	}
	var row pgx.Row
	switch r.By {
	case store.ByLink:
		row = t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = $1 AND id =
			(SELECT user_id FROM user_links WHERE org_id = $1 AND kind = $2 AND value = $3)`, t.org, r.LinkKind, r.Key)
	case store.ByEmail:
		row = t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = $1 AND email_key = $2`, t.org, r.Key)
	case store.ByID:
		// Another organisation's user is not found, as no user would be.
		row = t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = $1 AND id = $2`, t.org, r.ID)
	default:
		row = t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = $1 AND username_key = $2`, t.org, r.Key)
	}
	u, err := scanUser(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, store.UserNotFound(ref)
	}
	if err != nil {
		return u, fmt.Errorf("find user %s: %w", ref, err)
	}
	return u, nil
}

// EmailTaken reports the id of the user holding email in any letter case.
func (t *Tx) EmailTaken(ctx context.Context, email string) (int64, error) {
	return t.idWhere(ctx, `SELECT id FROM users WHERE org_id = $1 AND email_key = $2`, t.org, roster.EmailKey(email))
}

// UsernameTaken reports the id of the user holding username, or 0.
func (t *Tx) UsernameTaken(ctx context.Context, username string) (int64, error) {
	return t.idWhere(ctx, `SELECT id FROM users WHERE org_id = $1 AND username_key = $2`, t.org, store.FoldKey(username))
}

// LinkTaken reports the id of the user linked to kind=value, or 0.
func (t *Tx) LinkTaken(ctx context.Context, kind, value string) (int64, error) {
	return t.idWhere(ctx, `SELECT user_id FROM user_links WHERE org_id = $1 AND kind = $2 AND value = $3`, t.org, kind, value)
}

func (t *Tx) idWhere(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := t.queryRow(ctx, q, args...).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// InsertUser stores a new user with its roles and links and returns its id.
func (t *Tx) InsertUser(ctx context.Context, u store.UserRow) (int64, error) {
	// The id comes from the sequence, which never gives one twice: the
	// audit log keeps a deleted user's id, and a new user taking it would
	// inherit that history.
	var id int64
	err := t.queryRow(ctx, `INSERT INTO users (email, email_key, username, username_key, name, name_key, status,
		password_hash, must_change_password, created_at, updated_at, org_id, expires_at, kind)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
		u.Email, store.UserKey(u.User), nullString(u.Username), nullString(store.FoldKey(u.Username)), u.Name,
		store.FoldKey(u.Name), u.Status,
		nullString(u.PasswordHash), u.MustChangePassword, u.CreatedAt, u.UpdatedAt, t.org, u.ExpiresAt, string(store.KindOf(u.User))).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert user: %w", err)
	}
	if err := t.SetUserRoles(ctx, id, u.Roles); err != nil {
		return 0, err
	}
	for k, v := range u.Links {
		if err := t.SetLink(ctx, id, k, v); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// UpdateUser writes a user's own columns (not roles or links).
func (t *Tx) UpdateUser(ctx context.Context, u store.UserRow) error {
	_, err := t.exec(ctx, `UPDATE users SET email = $1, email_key = $2, username = $3, username_key = $4, name = $5,
		name_key = $6, status = $7, password_hash = $8, must_change_password = $9, updated_at = $10, last_login_at = $11,
		last_login_method = $12, deactivated_at = $13, deactivated_reason = $14, status_before_deactivation = $15,
		expires_at = $18 WHERE id = $16 AND org_id = $17`,
		u.Email, store.UserKey(u.User), nullString(u.Username), nullString(store.FoldKey(u.Username)), u.Name,
		store.FoldKey(u.Name), u.Status, nullString(u.PasswordHash), u.MustChangePassword, u.UpdatedAt, u.LastLoginAt,
		u.LastLoginMethod, u.DeactivatedAt, u.Reason, store.StatusBefore(u), u.ID, t.org, u.ExpiresAt)
	if err != nil {
		return fmt.Errorf("update user %s: %w", u.Email, err)
	}
	return nil
}

// DeleteUser removes a user; roles and links go with it.
func (t *Tx) DeleteUser(ctx context.Context, id int64) error {
	_, err := t.exec(ctx, `DELETE FROM users WHERE id = $1 AND org_id = $2`, id, t.org)
	return err
}

// SetUserRoles replaces a user's roles.
func (t *Tx) SetUserRoles(ctx context.Context, id int64, roles []string) error {
	if _, err := t.exec(ctx, `DELETE FROM user_roles WHERE user_id = $1 AND org_id = $2`, id, t.org); err != nil {
		return err
	}
	// The foreign keys hold the user and the role to this organisation.
	for _, r := range roles {
		if _, err := t.exec(ctx, `INSERT INTO user_roles (user_id, role, org_id) VALUES ($1, $2, $3)`, id, r, t.org); err != nil {
			return fmt.Errorf("give role %s: %w", r, err)
		}
	}
	return nil
}

// SetLink links a user to kind=value, replacing the user's link of that
// kind. Another organisation's user is left alone: the foreign key refuses
// a new link, and the WHERE an update.
func (t *Tx) SetLink(ctx context.Context, id int64, kind, value string) error {
	_, err := t.exec(ctx, `INSERT INTO user_links (user_id, kind, value, org_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, kind) DO UPDATE SET value = excluded.value WHERE user_links.org_id = excluded.org_id`,
		id, kind, value, t.org)
	return err
}

// DeleteLink removes a user's link of a kind.
func (t *Tx) DeleteLink(ctx context.Context, id int64, kind string) error {
	_, err := t.exec(ctx, `DELETE FROM user_links WHERE user_id = $1 AND kind = $2 AND org_id = $3`, id, kind, t.org)
	return err
}

// ListUsers returns one page of users ordered by email, paged by key.
// --search matches keys lower-cased by Go, as on SQLite, so that "émile"
// finds "Émile" whatever the database's locale.
func (t *Tx) ListUsers(ctx context.Context, f roster.UserFilter) (roster.Page[roster.User], error) {
	if f.Limit < 1 {
		return roster.Page[roster.User]{}, roster.Errorf(roster.ErrInvalid, "invalid page size %d", f.Limit)
	}
	var page roster.Page[roster.User]
	var args params
	org := args.add(t.org)
	where := []string{"users.org_id = " + org}
	from := "users"
	if f.Role != "" {
		from += " JOIN user_roles ON user_roles.user_id = users.id AND user_roles.org_id = " + org +
			" AND user_roles.role = " + args.add(f.Role)
	}
	if f.Project != "" {
		from += ` JOIN memberships ON memberships.user_id = users.id
			AND memberships.project_id = (SELECT id FROM projects WHERE org_id = ` + org + ` AND slug = ` + args.add(f.Project) + `)`
	}
	if f.Kind != "" {
		where = append(where, "users.kind = "+args.add(string(f.Kind)))
	}
	switch f.Status {
	case "":
	case roster.StatusExpired:
		where = append(where, "users.status <> 'deactivated' AND users.expires_at <= "+args.add(f.Now))
	case roster.StatusDeactivated:
		where = append(where, "users.status = "+args.add(f.Status))
	default:
		where = append(where, "users.status = "+args.add(f.Status)+
			" AND (users.expires_at IS NULL OR users.expires_at > "+args.add(f.Now)+")")
	}
	if f.Expiring > 0 {
		where = append(where, "users.status <> 'deactivated' AND users.expires_at > "+args.add(f.Now)+
			" AND users.expires_at <= "+args.add(f.Now.Add(f.Expiring)))
	}
	if f.Search != "" {
		// Backslash is LIKE's escape character by default.
		like := args.add(store.SearchPattern(f.Search))
		where = append(where, `(users.email_key LIKE `+like+` OR users.username_key LIKE `+like+` OR users.name_key LIKE `+like+`)`)
	}
	if f.After != "" {
		key, err := store.DecodeCursor(f.After)
		if err != nil {
			return page, err
		}
		where = append(where, "users.email_key > "+args.add(key))
	}
	cond := " WHERE " + strings.Join(where, " AND ")
	q := `SELECT ` + pageColumns + ` FROM ` + from + cond
	// One row more than asked tells whether another page follows.
	limit := args.add(f.Limit + 1)
	q += " ORDER BY users.email_key LIMIT " + limit
	if f.Search != "" {
		// The page's ids first, then their users, so that a scan in email
		// order reads only users_search_keys (an index-only scan) and
		// only the page's users have their roles, links and projects read.
		q = `SELECT ` + pageColumns + ` FROM users WHERE users.id IN (SELECT users.id FROM ` + from + cond +
			` ORDER BY users.email_key LIMIT ` + limit + `) ORDER BY users.email_key`
	}
	items, err := collect(ctx, t, q, args, func(r pgx.Row) (roster.User, error) {
		u, err := scanUserOf(r, false)
		return u.User, err
	})
	if err != nil {
		return page, fmt.Errorf("list users: %w", err)
	}
	if len(items) > 0 {
		page.Items = items
	}
	if len(page.Items) > f.Limit {
		page.Items = page.Items[:f.Limit]
		page.Next = store.EncodeCursor(store.UserKey(page.Items[f.Limit-1]))
	}
	return page, nil
}

// CountActive counts the users active at now, for the seat limit.
func (t *Tx) CountActive(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM users WHERE org_id = $1 AND status = 'active' AND kind = 'person'
		AND (expires_at IS NULL OR expires_at > $2)`, t.org, now).Scan(&n)
	return n, err
}

// CountActiveOwners counts the owners active at now.
func (t *Tx) CountActiveOwners(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM user_roles JOIN users ON users.id = user_roles.user_id
		WHERE user_roles.org_id = $1 AND user_roles.role = 'owner' AND users.status = 'active' AND users.kind = 'person'
		AND (users.expires_at IS NULL OR users.expires_at > $2)`, t.org, now).Scan(&n)
	return n, err
}

// HasActed reports whether the user appears as an actor in the audit log.
func (t *Tx) HasActed(ctx context.Context, id int64) (bool, error) {
	var one int
	return found(t.queryRow(ctx, `SELECT 1 FROM audit WHERE actor_id = $1 AND org_id = $2 LIMIT 1`, id, t.org).Scan(&one))
}

// UserCount returns the number of users, for init.
func (t *Tx) UserCount(ctx context.Context) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM users WHERE org_id = $1`, t.org).Scan(&n)
	return n, err
}

// FirstOwner returns the oldest user holding owner, if any.
func (t *Tx) FirstOwner(ctx context.Context) (store.UserRow, bool, error) {
	id, err := t.idWhere(ctx, `SELECT user_id FROM user_roles WHERE org_id = $1 AND role = 'owner' ORDER BY user_id LIMIT 1`, t.org)
	if err != nil || id == 0 {
		return store.UserRow{}, false, err
	}
	u, err := t.UserByRef(ctx, strconv.FormatInt(id, 10))
	return u, err == nil, err
}
