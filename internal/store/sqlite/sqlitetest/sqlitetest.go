// Package sqlitetest fills stores for benchmarks, fast: straight SQL in
// one transaction, no audit events, no passwords.
package sqlitetest

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/store/sqlite"
)

// Email is the email SeedUsers gives its i-th user.
func Email(i int) string { return fmt.Sprintf("u%07d@example.com", i) }

// SeedUsers adds n active members, Email(0) … Email(n-1), to the
// initialised store at path.
func SeedUsers(tb testing.TB, path string, n int) {
	tb.Helper()
	conn, err := sql.Open("sqlite", sqlite.DSN(path))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	users, err := tx.Prepare(`INSERT INTO users (org_id, email, email_key, name, name_key, status, created_at, updated_at)
		VALUES (1, ?, ?, ?, ?, 'active', ?, ?)`)
	if err != nil {
		tb.Fatal(err)
	}
	roles, err := tx.Prepare(`INSERT INTO user_roles (user_id, org_id, role) VALUES (?, 1, 'member')`)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UnixMicro()
	for i := range n {
		name := fmt.Sprintf("User %d", i)
		res, err := users.Exec(Email(i), Email(i), name, "user "+fmt.Sprint(i), now, now)
		if err != nil {
			tb.Fatal(err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := roles.Exec(id); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}
