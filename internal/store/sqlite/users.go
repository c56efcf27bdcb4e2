package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Tx is one transaction acting in one organisation; its methods are the
// store's queries, each of which reads and writes only that
// organisation's rows (R21).
type Tx struct {
	*txShared
	org int64
}

// txShared is what the copies of one transaction that In makes share.
type txShared struct {
	tx    *sql.Tx // nil for a Lookup, outside any transaction
	q     querier // tx, or for a Lookup the database
	stmts *stmts
	bound map[string]*sql.Stmt // prepared statements bound to tx
	// savepoints counts the savepoints open, to name the next one.
	savepoints int
	// search is whether the search index is paused (pauseSearch), as
	// far as this transaction knows, and whether it ever was: then it
	// must resume it before it commits.
	search struct{ paused, resume bool }
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(n int64) time.Time { return time.UnixMicro(n).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func timePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// userHandle names a user where a list shows who: a person's email, a
// service account's name.
const userHandle = `CASE users.kind WHEN 'service' THEN users.username ELSE users.email END`

// pageColumns are what a page of users shows: roster.User's fields, no
// more. A page leaves out the row's own columns (rowColumns), which no
// page shows: with them a page of 50 cost SQLite 14 % more, most of it
// the organisation's status looked up again for every row. An empty
// username or sign-in method comes as NULL, which the driver hands over
// in one call where a text takes three, each taking the connection's
// mutex.
const pageColumns = `users.id, users.email, users.username, users.name, users.status,
	COALESCE(users.password_hash, '') <> '', users.must_change_password, users.created_at, users.updated_at,
	users.last_login_at, NULLIF(users.last_login_method, ''), users.deactivated_at,
	(SELECT group_concat(role, char(31)) FROM user_roles WHERE user_id = users.id),
	(SELECT group_concat(kind || char(31) || value, char(30)) FROM user_links WHERE user_id = users.id),
	(SELECT group_concat(slug, char(31)) FROM memberships
		JOIN projects ON projects.id = memberships.project_id WHERE memberships.user_id = users.id),
	users.expires_at, users.kind`

// userColumns are a whole store.UserRow: pageColumns, then rowColumns.
const userColumns = pageColumns + `, ` + rowColumns

// rowColumns are a user's columns that only the store and the core read:
// the password hash, the reason and status before a deactivation, the
// organisation and its status.
const rowColumns = `COALESCE(users.password_hash, ''), users.deactivated_reason, users.status_before_deactivation,
	users.org_id, (SELECT status FROM orgs WHERE orgs.id = users.org_id)`

// A user's roles, links and projects come in the user's own row, so that
// finding a user or a page of them is one statement: roles and slugs are
// joined with the unit separator, which none may hold (ValidateLink and
// the other checks refuse control characters); links as kind, unit
// separator, value, joined with the record separator. Decoding them as a
// JSON object instead took 4 % of the CPU of a page of 50 users. The
// lists are sorted here: an ORDER BY inside the aggregate made SQLite
// build a sorter for every row.
const (
	unitSep   = "\x1f"
	recordSep = "\x1e"
)

func splitList(s sql.NullString) []string {
	if !s.Valid || s.String == "" {
		return []string{}
	}
	l := strings.Split(s.String, unitSep)
	slices.Sort(l)
	return l
}

type scanner interface{ Scan(...any) error }

// scanUser scans a row of userColumns.
func scanUser(s scanner) (store.UserRow, error) { return newUserScan(true).scan(s) }

// userScan is where rows of pageColumns, or of userColumns when whole,
// are scanned: one for all the rows of a query, so that a page of 50 does
// not allocate every destination 50 times.
type userScan struct {
	u                      store.UserRow
	created, updated       int64
	login, deact, expires  sql.NullInt64
	username, method       sql.NullString
	roles, links, projects sql.NullString
	dest                   []any
}

func newUserScan(whole bool) *userScan {
	d := &userScan{}
	u := &d.u
	d.dest = append(make([]any, 0, 22), &u.ID, &u.Email, &d.username, &u.Name, &u.Status, &u.HasPassword, &u.MustChangePassword,
		&d.created, &d.updated, &d.login, &d.method, &d.deact, &d.roles, &d.links, &d.projects, &d.expires, &u.Kind)
	if whole {
		d.dest = append(d.dest, &u.PasswordHash, &u.Reason, &u.StatusBefore, &u.OrgID, &u.OrgStatus)
	}
	return d
}

// scan reads the next row; what it returns holds nothing of d's.
func (d *userScan) scan(s scanner) (store.UserRow, error) {
	d.u = store.UserRow{}
	if err := s.Scan(d.dest...); err != nil {
		return store.UserRow{}, err
	}
	u := d.u
	u.Username, u.LastLoginMethod = d.username.String, d.method.String
	u.CreatedAt, u.UpdatedAt = fromMicros(d.created), fromMicros(d.updated)
	u.LastLoginAt, u.DeactivatedAt, u.ExpiresAt = timePtr(d.login), timePtr(d.deact), timePtr(d.expires)
	u.Roles, u.Projects, u.Links = splitList(d.roles), splitList(d.projects), map[string]string{}
	if d.links.Valid && d.links.String != "" {
		for link := range strings.SplitSeq(d.links.String, recordSep) {
			kind, value, ok := strings.Cut(link, unitSep)
			if !ok {
				return u, fmt.Errorf("links of user %d: %q is not kind and value", u.ID, link)
			}
			u.Links[kind] = value
		}
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
	var row *sql.Row
	switch r.By {
	case store.ByLink:
		row = t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id =
			(SELECT user_id FROM user_links WHERE org_id = ? AND kind = ? AND value = ?)`, t.org, r.LinkKind, r.Key)
	case store.ByEmail:
		row = t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = ? AND email_key = ?`, t.org, r.Key)
	case store.ByID:
		row = t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ? AND org_id = ?`, r.ID, t.org)
	default:
		row = t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = ? AND username_key = ?`, t.org, r.Key)
	}
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return u, store.UserNotFound(ref)
	}
	if err != nil {
		return u, fmt.Errorf("find user %s: %w", ref, err)
	}
	return u, nil
}

// EmailTaken reports the id of the user holding email in any letter case.
func (t *Tx) EmailTaken(ctx context.Context, email string) (int64, error) {
	return t.idWhere(ctx, `SELECT id FROM users WHERE org_id = ? AND email_key = ?`, t.org, roster.EmailKey(email))
}

// UsernameTaken reports the id of the user holding username, or 0.
func (t *Tx) UsernameTaken(ctx context.Context, username string) (int64, error) {
	return t.idWhere(ctx, `SELECT id FROM users WHERE org_id = ? AND username_key = ?`, t.org, store.FoldKey(username))
}

// LinkTaken reports the id of the user linked to kind=value, or 0.
func (t *Tx) LinkTaken(ctx context.Context, kind, value string) (int64, error) {
	return t.idWhere(ctx, `SELECT user_id FROM user_links WHERE org_id = ? AND kind = ? AND value = ?`, t.org, kind, value)
}

func (t *Tx) idWhere(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := t.queryRow(ctx, q, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// InsertUser stores a new user with its roles and links and returns its id.
func (t *Tx) InsertUser(ctx context.Context, u store.UserRow) (int64, error) {
	// Ids are never reused: the audit log keeps a deleted user's id, and a
	// new user taking it would inherit that history.
	res, err := t.exec(ctx, `INSERT INTO users (id, org_id, email, email_key, username, username_key, name, name_key, status,
		password_hash, must_change_password, created_at, updated_at, expires_at, kind)
		VALUES (max(COALESCE((SELECT max(id) FROM users), 0), COALESCE((SELECT max(target_id) FROM audit WHERE target_id IS NOT NULL), 0)) + 1,
		?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.org, u.Email, store.UserKey(u.User), nullString(u.Username), nullString(store.FoldKey(u.Username)), u.Name,
		store.FoldKey(u.Name), u.Status,
		nullString(u.PasswordHash), u.MustChangePassword, micros(u.CreatedAt), micros(u.UpdatedAt), nullMicros(u.ExpiresAt), store.KindOf(u.User))
	if err != nil {
		return 0, fmt.Errorf("insert user: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	// A new user holds nothing yet: their roles are added, with no
	// DELETE first as SetUserRoles needs.
	if err := t.addRoles(ctx, id, u.Roles); err != nil {
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
	_, err := t.exec(ctx, `UPDATE users SET email = ?, email_key = ?, username = ?, username_key = ?, name = ?,
		name_key = ?, status = ?, password_hash = ?, must_change_password = ?, updated_at = ?, last_login_at = ?, last_login_method = ?,
		deactivated_at = ?, deactivated_reason = ?, status_before_deactivation = ?, expires_at = ? WHERE id = ? AND org_id = ?`,
		u.Email, store.UserKey(u.User), nullString(u.Username), nullString(store.FoldKey(u.Username)), u.Name,
		store.FoldKey(u.Name), u.Status, nullString(u.PasswordHash), u.MustChangePassword, micros(u.UpdatedAt), nullMicros(u.LastLoginAt),
		u.LastLoginMethod, nullMicros(u.DeactivatedAt), u.Reason, store.StatusBefore(u), nullMicros(u.ExpiresAt), u.ID, t.org)
	if err != nil {
		return fmt.Errorf("update user %s: %w", u.Email, err)
	}
	return nil
}

// DeleteUser removes a user; roles and links go with it.
func (t *Tx) DeleteUser(ctx context.Context, id int64) error {
	_, err := t.exec(ctx, `DELETE FROM users WHERE id = ? AND org_id = ?`, id, t.org)
	return err
}

// SetUserRoles replaces a user's roles.
func (t *Tx) SetUserRoles(ctx context.Context, id int64, roles []string) error {
	if _, err := t.exec(ctx, `DELETE FROM user_roles WHERE user_id = ? AND org_id = ?`, id, t.org); err != nil {
		return err
	}
	return t.addRoles(ctx, id, roles)
}

func (t *Tx) addRoles(ctx context.Context, id int64, roles []string) error {
	for _, r := range roles {
		if _, err := t.exec(ctx, `INSERT INTO user_roles (user_id, org_id, role) VALUES (?, ?, ?)`, id, t.org, r); err != nil {
			return fmt.Errorf("give role %s: %w", r, err)
		}
	}
	return nil
}

// SetLink links a user to kind=value, replacing the user's link of that
// kind. The foreign key refuses a new link to another organisation's
// user; the WHERE keeps an update from reaching one.
func (t *Tx) SetLink(ctx context.Context, id int64, kind, value string) error {
	_, err := t.exec(ctx, `INSERT INTO user_links (user_id, org_id, kind, value) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, kind) DO UPDATE SET value = excluded.value WHERE user_links.org_id = excluded.org_id`,
		id, t.org, kind, value)
	return err
}

// DeleteLink removes a user's link of a kind.
func (t *Tx) DeleteLink(ctx context.Context, id int64, kind string) error {
	_, err := t.exec(ctx, `DELETE FROM user_links WHERE user_id = ? AND org_id = ? AND kind = ?`, id, t.org, kind)
	return err
}

// ListUsers returns one page of users ordered by email, paged by key.
func (t *Tx) ListUsers(ctx context.Context, f roster.UserFilter) (roster.Page[roster.User], error) {
	if f.Limit < 1 {
		return roster.Page[roster.User]{}, roster.Errorf(roster.ErrInvalid, "invalid page size %d", f.Limit)
	}
	var joins string
	var joinArgs []any
	if f.Role != "" {
		joins += " JOIN user_roles ON user_roles.user_id = users.id AND user_roles.role = ?"
		joinArgs = append(joinArgs, f.Role)
	}
	if f.Project != "" {
		joins += ` JOIN memberships ON memberships.user_id = users.id
			AND memberships.project_id = (SELECT id FROM projects WHERE org_id = ? AND slug = ?)`
		joinArgs = append(joinArgs, t.org, f.Project)
	}
	// Every path below, search or not, reads the organisation's users
	// only: this condition is the first of each.
	where := []string{"users.org_id = ?"}
	args := []any{t.org}
	if f.Kind != "" {
		where = append(where, "users.kind = ?")
		args = append(args, f.Kind)
	}
	switch now := micros(f.Now); f.Status {
	case "":
	case roster.StatusExpired:
		where = append(where, "users.status <> 'deactivated' AND users.expires_at <= ?")
		args = append(args, now)
	case roster.StatusDeactivated:
		where = append(where, "users.status = ?")
		args = append(args, f.Status)
	default:
		where = append(where, "users.status = ? AND (users.expires_at IS NULL OR users.expires_at > ?)")
		args = append(args, f.Status, now)
	}
	if f.Expiring > 0 {
		where = append(where, "users.status <> 'deactivated' AND users.expires_at > ? AND users.expires_at <= ?")
		args = append(args, micros(f.Now), micros(f.Now.Add(f.Expiring)))
	}
	if f.Search != "" {
		like := store.SearchPattern(f.Search)
		where = append(where, `(users.email_key LIKE ? ESCAPE '\' OR users.username_key LIKE ? ESCAPE '\' OR users.name_key LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like)
	}
	after := ""
	if f.After != "" {
		key, err := store.DecodeCursor(f.After)
		if err != nil {
			return roster.Page[roster.User]{}, err
		}
		after = key
		where = append(where, "users.email_key > ?")
		args = append(args, key)
	}
	if f.Search == "" {
		return t.listPage(ctx, f.Limit, "users"+joins, joinArgs, where, args, false)
	}
	// A search many users match fills its page from the first users in
	// email order: look there first (searchWindow), before asking the
	// index. The page is right if it is full, as the window is the start
	// of the organisation's users in email order.
	window := `(SELECT id, org_id, email_key, username_key, name_key, status, expires_at, kind FROM users
		WHERE org_id = ? AND email_key > ? ORDER BY email_key LIMIT ?) AS users`
	page, err := t.listPage(ctx, f.Limit, window+joins, append([]any{t.org, after, searchWindow}, joinArgs...), where, args, true)
	if err != nil || page.Next != "" {
		return page, err
	}
	// The index holds every organisation's users: its candidates are
	// of all of them, and the organisation's condition, in where, keeps
	// the others off the page.
	source, sourceArgs, ok, err := t.searchCandidates(ctx, f.Search)
	if err != nil {
		return page, err
	}
	if !ok {
		return t.listPage(ctx, f.Limit, "users"+joins, joinArgs, where, args, true)
	}
	// The index's candidates first: SQLite then reads each by id, rather
	// than scanning users to probe the index.
	return t.listPage(ctx, f.Limit, "("+source+") AS candidates CROSS JOIN users ON users.id = candidates.id"+joins,
		append(sourceArgs, joinArgs...), where, args, true)
}

// listPage reads a page of users: from is the FROM clause, users
// (possibly joined), and where its conditions; the arguments of each
// follow it. search says the page is a search's.
func (t *Tx) listPage(ctx context.Context, limit int, from string, fromArgs []any, where []string, whereArgs []any, search bool) (roster.Page[roster.User], error) {
	var page roster.Page[roster.User]
	cond := " WHERE " + strings.Join(where, " AND ")
	// The page's ids first, then their users: only the page's users have
	// their roles, links and projects read (a search's candidates are
	// many more than its page), and a scan walks users_search_keys in
	// email order, which holds every column it looks at.
	// One row more than asked tells whether another page follows.
	q := `SELECT ` + pageColumns + ` FROM users WHERE users.id IN (SELECT users.id FROM ` + from + cond +
		` ORDER BY users.email_key LIMIT ?) ORDER BY users.email_key`
	if !search {
		q = `SELECT ` + pageColumns + ` FROM ` + from + cond + ` ORDER BY users.email_key LIMIT ?`
	}
	args := append(append(slices.Clip(fromArgs), whereArgs...), limit+1)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return page, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	d := newUserScan(false)
	for rows.Next() {
		if page.Items == nil {
			// Room for the usual page at once, rather than seven
			// doublings on the way to 51.
			page.Items = make([]roster.User, 0, min(limit+1, 101))
		}
		u, err := d.scan(rows)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, u.User)
	}
	if err := rows.Err(); err != nil {
		return page, err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.Next = store.EncodeCursor(store.UserKey(page.Items[limit-1]))
	}
	return page, nil
}

// CountActive counts the users active at now, for the seat limit.
func (t *Tx) CountActive(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM users WHERE org_id = ? AND status = 'active' AND kind = 'person'
		AND (expires_at IS NULL OR expires_at > ?)`, t.org, micros(now)).Scan(&n)
	return n, err
}

// CountActiveOwners counts the owners active at now.
func (t *Tx) CountActiveOwners(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM user_roles JOIN users ON users.id = user_roles.user_id
		WHERE user_roles.org_id = ? AND user_roles.role = 'owner' AND users.status = 'active' AND users.kind = 'person'
		AND (users.expires_at IS NULL OR users.expires_at > ?)`, t.org, micros(now)).Scan(&n)
	return n, err
}

// HasActed reports whether the user appears as an actor in the audit log.
func (t *Tx) HasActed(ctx context.Context, id int64) (bool, error) {
	var one int
	err := t.queryRow(ctx, `SELECT 1 FROM audit WHERE actor_id = ? AND org_id = ? LIMIT 1`, id, t.org).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// UserCount returns the number of users, for init.
func (t *Tx) UserCount(ctx context.Context) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM users WHERE org_id = ?`, t.org).Scan(&n)
	return n, err
}

// FirstOwner returns the oldest user holding owner, if any.
func (t *Tx) FirstOwner(ctx context.Context) (store.UserRow, bool, error) {
	id, err := t.idWhere(ctx, `SELECT user_id FROM user_roles WHERE org_id = ? AND role = 'owner' ORDER BY user_id LIMIT 1`, t.org)
	if err != nil || id == 0 {
		return store.UserRow{}, false, err
	}
	u, err := t.UserByRef(ctx, strconv.FormatInt(id, 10))
	return u, err == nil, err
}
