// Package sqlitetest fills stores for benchmarks, fast: straight SQL in
// one transaction, no audit events, no passwords.
package sqlitetest

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// Email is the email SeedUsers gives its i-th user.
func Email(i int) string { return fmt.Sprintf("u%07d@example.com", i) }

// SeedUsers adds n active members, Email(0) … Email(n-1), to the
// initialised store at path, in its system organisation.
func SeedUsers(tb testing.TB, path string, n int) {
	tb.Helper()
	seedUsers(tb, path, []int64{store.SystemOrg}, n)
}

// SeedOrgs adds n organisations, org-0001, org-0002, …, made as
// InsertOrg makes one, each holding perOrg active members Email(0) …
// Email(perOrg-1): the same emails in every organisation, as noisy
// neighbours have. It returns their ids.
func SeedOrgs(tb testing.TB, path string, n, perOrg int) []int64 {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	ids := make([]int64, n)
	err = db.Write(ctx, func(tx store.Tx) error {
		for i := range ids {
			var err error
			if ids[i], err = tx.InsertOrg(ctx, roster.Org{Slug: fmt.Sprintf("org-%04d", i+1), Name: fmt.Sprintf("Org %d", i+1)}, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatal(err)
	}
	seedUsers(tb, path, ids, perOrg)
	return ids
}

// seedUsers adds n active members to each of orgs.
func seedUsers(tb testing.TB, path string, orgs []int64, n int) {
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
		VALUES (?, ?, ?, ?, ?, 'active', ?, ?)`)
	if err != nil {
		tb.Fatal(err)
	}
	roles, err := tx.Prepare(`INSERT INTO user_roles (user_id, org_id, role) VALUES (?, ?, 'member')`)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UnixMicro()
	for _, org := range orgs {
		for i := range n {
			name := fmt.Sprintf("User %d", i)
			res, err := users.Exec(org, Email(i), Email(i), name, "user "+fmt.Sprint(i), now, now)
			if err != nil {
				tb.Fatal(err)
			}
			id, err := res.LastInsertId()
			if err != nil {
				tb.Fatal(err)
			}
			if _, err := roles.Exec(id, org); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}
