package sqlite

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// bulkChunk is the most rows one bulk statement carries: users take 19
// values a row, 19,456 in all, under SQLite's 32,766 variables per
// statement. Chunks are powers of two, as in InsertAudits, so that the
// statement cache holds a few texts of each. Fewer statements are
// cheaper than more for the same rows: each flushes the search index's
// pending terms (see search.go) and journals the pages it changes.
const bulkChunk = 1024

// chunks calls fn with each power-of-two chunk of n rows: [i, i+size).
func chunks(n int, fn func(i, size int) error) error {
	for i := 0; i < n; {
		size := bulkChunk
		for size > n-i {
			size /= 2
		}
		if err := fn(i, size); err != nil {
			return err
		}
		i += size
	}
	return nil
}

// values is "(?, ?), (?, ?)": rows groups of width placeholders.
func values(rows, width int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// sharedValues is what follows "INSERT INTO t (columns) " to insert the
// rows in vals (width values each, row after row), and the arguments to
// bind: a column whose rows all hold the same value is bound once, in a
// one-row VALUES joined to the rows', not once a row. The driver copies
// every bound text into C memory and frees it after the statement: with
// each value bound, binding took a tenth of an import's CPU, though most
// columns of an import (its organisation, time, status, actor, ...) hold
// one value. The text depends only on which columns are shared, so the
// statement cache holds a few shapes of it. (Numbered parameters, ?NNN,
// would say the same in plain VALUES, but SQLite looks each number up in
// a list of them all: 19,456 of them took seconds a statement.)
func sharedValues(vals []any, width int) (string, []any) {
	rows := len(vals) / width
	shared := make([]bool, width)
	some := false
	for c := 1; c < width && rows > 1; c++ { // the first column always varies
		shared[c] = true
		for r := 1; r < rows && shared[c]; r++ {
			shared[c] = sameValue(vals[c], vals[r*width+c])
		}
		some = some || shared[c]
	}
	if !some {
		return "VALUES " + values(rows, width), vals
	}
	n := 0 // columns shared
	for _, ok := range shared {
		if ok {
			n++
		}
	}
	args := make([]any, 0, n+rows*(width-n))
	var sel, one []string
	for c := range width {
		if shared[c] {
			args = append(args, vals[c])
			sel = append(sel, "s.column"+strconv.Itoa(len(args)))
		} else {
			one = append(one, "?")
			sel = append(sel, "v.column"+strconv.Itoa(len(one)))
		}
	}
	for r := range rows {
		for c := range width {
			if !shared[c] {
				args = append(args, vals[r*width+c])
			}
		}
	}
	row := "(" + strings.Join(one, ", ") + ")"
	return "SELECT " + strings.Join(sel, ", ") + " FROM (VALUES " + values(1, len(sel)-len(one)) + ") AS s, (VALUES " +
		strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ") + ") AS v", args
}

// sameValue reports whether two values to bind are equal, for the types
// that can be compared; a blob is never shared.
func sameValue(a, b any) bool {
	switch a.(type) {
	case nil, string, int64, int, bool, float64:
		return a == b
	}
	return false
}

// UsersByKey returns the users holding handles, by their key.
func (t *Tx) UsersByKey(ctx context.Context, handles []string) (map[string]store.UserRow, error) {
	out := make(map[string]store.UserRow, len(handles))
	err := chunks(len(handles), func(i, n int) error {
		args := make([]any, 1+n)
		args[0] = t.org
		for j, h := range handles[i : i+n] {
			args[1+j] = roster.EmailKey(h)
		}
		rows, err := t.query(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = ? AND email_key IN (`+
			strings.TrimSuffix(strings.Repeat("?, ", n), ", ")+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		d := newUserScan(true)
		for rows.Next() {
			u, err := d.scan(rows)
			if err != nil {
				return err
			}
			out[store.UserKey(u.User)] = u
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("find users by email: %w", err)
	}
	return out, nil
}

// InsertUsers stores new users, many rows to a statement: their ids
// follow the highest ever used, as InsertUser's do, since this
// transaction holds the write lock.
func (t *Tx) InsertUsers(ctx context.Context, users []store.UserRow) ([]int64, error) {
	if len(users) == 0 {
		return nil, nil
	}
	if err := t.pauseSearch(ctx); err != nil {
		return nil, fmt.Errorf("insert users: %w", err)
	}
	var last int64
	if err := t.queryRow(ctx, `SELECT max(COALESCE((SELECT max(id) FROM users), 0),
		COALESCE((SELECT max(target_id) FROM audit WHERE target_id IS NOT NULL), 0))`).Scan(&last); err != nil {
		return nil, fmt.Errorf("insert users: %w", err)
	}
	ids := make([]int64, len(users))
	for i := range ids {
		ids[i] = last + 1 + int64(i)
	}
	const width = 19
	err := chunks(len(users), func(i, n int) error {
		vals := make([]any, 0, width*n)
		for j, u := range users[i : i+n] {
			vals = append(vals, ids[i+j], t.org, u.Email, store.UserKey(u.User), nullString(u.Username), nullString(store.FoldKey(u.Username)),
				u.Name, store.FoldKey(u.Name), u.Status, nullString(u.PasswordHash), u.MustChangePassword,
				micros(u.CreatedAt), micros(u.UpdatedAt), nullMicros(u.DeactivatedAt), u.Reason, store.StatusBefore(u), u.LastLoginMethod,
				nullMicros(u.ExpiresAt), store.KindOf(u.User))
		}
		rows, args := sharedValues(vals, width)
		_, err := t.exec(ctx, `INSERT INTO users (id, org_id, email, email_key, username, username_key, name, name_key, status,
			password_hash, must_change_password, created_at, updated_at, deactivated_at, deactivated_reason,
			status_before_deactivation, last_login_method, expires_at, kind) `+rows, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("insert users: %w", err)
	}
	type pair struct {
		id   int64
		a, b string
	}
	var roles, links []pair
	for i, u := range users {
		for _, r := range u.Roles {
			roles = append(roles, pair{ids[i], r, ""})
		}
		for k, v := range u.Links {
			links = append(links, pair{ids[i], k, v})
		}
	}
	err = chunks(len(roles), func(i, n int) error {
		vals := make([]any, 0, 3*n)
		for _, r := range roles[i : i+n] {
			vals = append(vals, r.id, t.org, r.a)
		}
		rows, args := sharedValues(vals, 3)
		_, err := t.exec(ctx, `INSERT INTO user_roles (user_id, org_id, role) `+rows, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("give roles: %w", err)
	}
	err = chunks(len(links), func(i, n int) error {
		args := make([]any, 0, 4*n)
		for _, l := range links[i : i+n] {
			args = append(args, l.id, t.org, l.a, l.b)
		}
		_, err := t.exec(ctx, `INSERT INTO user_links (user_id, org_id, kind, value) VALUES `+values(n, 4), args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("link users: %w", err)
	}
	return ids, nil
}

// InsertMembers adds memberships, many rows to a statement. Each row's
// project and user are found by a join, not by orgMembership's
// subqueries: a statement opens a cursor for each subquery, and SQLite
// walks every open cursor of a table to open another, so 1,024 rows of
// subqueries cost a million steps (a fifth of an import of 100,000 users
// into projects). The joins are outer, so that a project or user of
// another organisation is NULL and the NOT NULL column refuses the row,
// as orgMembership does.
func (t *Tx) InsertMembers(ctx context.Context, members []store.Membership, now time.Time) error {
	err := chunks(len(members), func(i, n int) error {
		args := make([]any, 0, 2*n+3)
		args = append(args, micros(now))
		for _, m := range members[i : i+n] {
			args = append(args, m.ProjectID, m.UserID)
		}
		args = append(args, t.org, t.org)
		_, err := t.exec(ctx, `INSERT INTO memberships (project_id, user_id, created_at)
			SELECT p.id, u.id, ? FROM (VALUES `+values(n, 2)+`) AS m
			LEFT JOIN projects p ON p.id = m.column1 AND p.org_id = ?
			LEFT JOIN users u ON u.id = m.column2 AND u.org_id = ?
			WHERE true ON CONFLICT (project_id, user_id) DO NOTHING`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("add members: %w", err)
	}
	return nil
}
