package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
)

// TestUsersByKeyProbesTheIndex holds UsersByKey, import's look-up of a chunk's
// emails, to one probe of the (org_id, email_key) index per key, on a
// new store whose users an import is adding in its own transaction: the
// statistics still say the table is nearly empty. Asked as "email_key =
// ANY($2)" there, the planner read every user of the organisation for
// each chunk, filtering by email, and a remote import of 100,000 users
// into a new store ran past the server's 50 s limit.
func TestUsersByKeyProbesTheIndex(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	rows := make([]store.UserRow, 20000)
	keys := make([]string, 1024)
	for i := range rows {
		rows[i] = store.UserRow{User: roster.User{Email: fmt.Sprintf("user%05d@example.com", i), Status: roster.StatusActive,
			CreatedAt: now, UpdatedAt: now}}
	}
	for i := range keys {
		keys[i] = fmt.Sprintf("user%05d@example.com", i*7)
	}
	err = db.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.InsertUsers(ctx, rows); err != nil {
			return err
		}
		ids, err := tx.UsersByKey(ctx, keys)
		if err != nil {
			return err
		}
		if len(ids) != len(keys) {
			return fmt.Errorf("found %d of %d", len(ids), len(keys))
		}
		var out []byte
		if err := tx.(*Tx).tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+usersByKeySQL, store.SystemOrg, keys).Scan(&out); err != nil {
			return err
		}
		var users []string
		var walk func(map[string]any)
		walk = func(n map[string]any) {
			if n["Relation Name"] == "users" {
				filter := fmt.Sprint(n["Filter"])
				users = append(users, fmt.Sprintf("%v on %v, index condition %v, filter %.60s", n["Node Type"], n["Index Name"], n["Index Cond"], filter))
			}
			for _, p := range asNodes(n["Plans"]) {
				walk(p)
			}
		}
		var doc []map[string]any
		if err := json.Unmarshal(out, &doc); err != nil || len(doc) != 1 {
			return fmt.Errorf("EXPLAIN's answer: %s, %v", out, err)
		}
		walk(doc[0]["Plan"].(map[string]any))
		if len(users) != 1 || !strings.Contains(users[0], "Index") || !strings.Contains(users[0], "email_key") ||
			!strings.HasSuffix(users[0], "filter <nil>") {
			return fmt.Errorf("users are not read by one probe of (org_id, email_key) per key: %v", users)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// asNodes is a plan's "Plans", as maps.
func asNodes(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
