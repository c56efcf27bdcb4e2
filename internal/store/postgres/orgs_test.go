package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
)

// TestConcurrentInsertOrg makes one slug from two servers (two pools) at
// once: exactly one makes it, the other is told the slug is taken, and
// the organisation is seeded once. In serializable mode both
// transactions are inside at once when they insert; in advisory mode the
// lock queues them, and the second finds the first's.
func TestConcurrentInsertOrg(t *testing.T) {
	for _, mode := range []string{"advisory", "serializable"} {
		t.Run(mode, func(t *testing.T) {
			dbURL := pgtest.URL(t)
			u, _ := url.Parse(dbURL)
			q := u.Query()
			q.Set(txModeParam, mode)
			u.RawQuery = q.Encode()
			servers := [2]*DB{}
			for i := range servers {
				db, err := Open(context.Background(), u.String())
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				servers[i] = db
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// In serializable mode each first attempt waits, after its
			// first read, for the other's: then both insert into the same
			// snapshot of an empty orgs.
			inside := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
			errs := make([]error, 2)
			ids := make([]int64, 2)
			var wg sync.WaitGroup
			for i, db := range servers {
				wg.Go(func() {
					var attempts atomic.Int32
					errs[i] = db.Write(ctx, func(tx store.Tx) error {
						if _, _, err := tx.OrgBySlug(ctx, "acme"); err != nil {
							return err
						}
						if attempts.Add(1) == 1 && mode == "serializable" {
							close(inside[i])
							select {
							case <-inside[1-i]:
							case <-ctx.Done():
								return ctx.Err()
							}
						}
						var err error
						ids[i], err = tx.InsertOrg(ctx, roster.Org{Slug: "acme", Name: fmt.Sprint("Acme ", i)}, time.Now())
						return err
					})
				})
			}
			wg.Wait()
			var won int
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, roster.ErrConflict):
					t.Errorf("server %d: %v, want a conflict or success", i, err)
				}
			}
			if won != 1 {
				t.Fatalf("%d servers made the organisation (errors %v), want 1", won, errs)
			}
			// Both were inside at once: the loser met the winner's row.
			if retries := servers[0].Retries() + servers[1].Retries(); mode == "serializable" && retries == 0 {
				t.Error("no transaction was run again: the two did not collide")
			}
			var orgs, roles, perms int
			err := servers[0].pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orgs WHERE slug = 'acme'),
				(SELECT count(*) FROM roles JOIN orgs ON orgs.id = roles.org_id WHERE orgs.slug = 'acme'),
				(SELECT count(*) FROM permissions JOIN orgs ON orgs.id = permissions.org_id WHERE orgs.slug = 'acme')`).Scan(&orgs, &roles, &perms)
			if err != nil {
				t.Fatal(err)
			}
			if orgs != 1 || roles != len(roster.BuiltinRoles) || perms != len(roster.OrgPermissions(false)) {
				t.Errorf("acme: %d rows, %d roles, %d permissions", orgs, roles, perms)
			}
		})
	}
}

// statement is one the adapter ran.
type statement struct {
	sql  string
	args []any
}

// recorder is a pgx tracer keeping the statements a pool runs.
type recorder struct {
	mu   sync.Mutex
	on   bool
	seen []statement
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.on {
		r.seen = append(r.seen, statement{d.SQL, d.Args})
	}
	return ctx
}

func (r *recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// record returns the statements fn makes the adapter run.
func (r *recorder) record(fn func()) []statement {
	r.mu.Lock()
	r.on, r.seen = true, nil
	r.mu.Unlock()
	fn()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	return r.seen
}

// TestHotQueriesUseIndexes plans the statements of a request's hot paths,
// as the adapter runs them, in a store of many organisations: none reads
// a whole table of users, tokens, roles or the audit log, and the pages
// (users by email, the log newest first) come in index order, unsorted.
func TestHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const orgs, users = 40, 50
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var target, firstUser int64
	for o := range orgs {
		err := db.Write(ctx, func(tx store.Tx) error {
			id, err := tx.InsertOrg(ctx, roster.Org{Slug: fmt.Sprintf("org-%02d", o), Name: "Org"}, now)
			if err != nil {
				return err
			}
			target = id
			in := tx.In(id)
			rows := make([]store.UserRow, users)
			audit := make([]store.AuditEntry, users)
			for i := range rows {
				status := roster.StatusActive
				if i%5 == 0 {
					status = roster.StatusDeactivated
				}
				// The same emails in every organisation.
				rows[i] = store.UserRow{User: roster.User{Email: fmt.Sprintf("user%03d@example.com", i), Status: status,
					Roles: []string{roster.RoleMember}, Links: map[string]string{"github": fmt.Sprint("u", i)},
					CreatedAt: now, UpdatedAt: now}}
				audit[i] = store.AuditEntry{AuditEvent: roster.AuditEvent{At: now, Actor: "local:root", Via: "local", Action: "user.create"}}
			}
			ids, err := in.InsertUsers(ctx, rows)
			if err != nil {
				return err
			}
			firstUser = ids[0]
			project, err := in.InsertProject(ctx, roster.Project{Slug: "apollo"}, now)
			if err != nil {
				return err
			}
			var members []store.Membership
			for i, uid := range ids[:10] {
				if _, err := in.InsertToken(ctx, uid, "ci", []byte(fmt.Sprintf("tok-%d-%d", o, i)), "local:root", now, nil); err != nil {
					return err
				}
				members = append(members, store.Membership{ProjectID: project, UserID: uid})
			}
			if err := in.InsertMembers(ctx, members, now); err != nil {
				return err
			}
			return in.InsertAudits(ctx, audit)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// This store's tables only (the search_path's): the database is shared.
	if _, err := db.pool.Exec(ctx, `VACUUM ANALYZE orgs, users, user_links, user_roles, roles, role_permissions,
		permissions, permission_implies, api_tokens, projects, memberships, audit`); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	cfg := db.pool.Config()
	cfg.ConnConfig.Tracer = rec
	traced, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// db.Close closes the traced pool in its turn.
	db.pool.Close()
	db.pool = traced
	octx := store.WithOrg(ctx, target)
	lastTok := []byte(fmt.Sprintf("tok-%d-%d", orgs-1, 3))
	cases := []struct {
		name    string
		run     func(store.Tx) error
		ordered bool // no Sort: the index gives the order
	}{
		{"TokenUser", func(tx store.Tx) error {
			_, u, ok, err := tx.TokenUser(ctx, lastTok)
			if err == nil && (!ok || u.OrgID != target) {
				err = fmt.Errorf("token found %v in organisation %d", ok, u.OrgID)
			}
			return err
		}, false},
		{"UserByRef email", func(tx store.Tx) error { _, err := tx.UserByRef(ctx, "user042@example.com"); return err }, false},
		{"ListUsers page", func(tx store.Tx) error {
			p, err := tx.ListUsers(ctx, roster.UserFilter{Limit: 20, After: store.EncodeCursor("user010@example.com")})
			if err == nil && len(p.Items) != 20 {
				err = fmt.Errorf("a page of %d", len(p.Items))
			}
			return err
		}, true},
		{"ListUsers active page", func(tx store.Tx) error {
			_, err := tx.ListUsers(ctx, roster.UserFilter{Limit: 20, Status: roster.StatusActive})
			return err
		}, true},
		{"CountActive", func(tx store.Tx) error {
			n, err := tx.CountActive(ctx)
			if err == nil && n != users*4/5 {
				err = fmt.Errorf("%d active", n)
			}
			return err
		}, false},
		{"ListAudit page", func(tx store.Tx) error { _, err := tx.ListAudit(ctx, store.AuditQuery{Limit: 20}); return err }, true},
		{"CountActiveOwners", func(tx store.Tx) error { _, err := tx.CountActiveOwners(ctx); return err }, false},
		{"Holders", func(tx store.Tx) error { _, err := tx.Holders(ctx); return err }, false},
		// A user's tokens; all of an organisation's are read through its
		// users, which in a store this small costs more than reading
		// every token.
		{"ListTokens of a user", func(tx store.Tx) error {
			toks, err := tx.ListTokens(ctx, firstUser)
			if err == nil && len(toks) != 1 {
				err = fmt.Errorf("%d tokens", len(toks))
			}
			return err
		}, false},
		{"ListProjects", func(tx store.Tx) error { _, err := tx.ListProjects(ctx, 0); return err }, false},
	}
	// The tables that grow with the organisations: never read whole.
	big := []string{"users", "user_links", "user_roles", "api_tokens", "memberships", "audit", "roles", "permissions"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var runErr error
			stmts := rec.record(func() { runErr = db.Lookup(octx, c.run) })
			if runErr != nil {
				t.Fatal(runErr)
			}
			var planned int
			for _, s := range stmts {
				if !strings.HasPrefix(strings.TrimSpace(s.sql), "SELECT") || strings.Contains(s.sql, "pg_advisory") {
					continue
				}
				planned++
				nodes := plan(t, db, s)
				for _, n := range nodes {
					if n.kind == "Seq Scan" && slices.Contains(big, n.relation) {
						t.Errorf("reads all of %s (%v):\n%s", n.relation, nodes, s.sql)
					}
					if c.ordered && n.kind == "Sort" && !n.sub {
						t.Errorf("sorts instead of reading an index in order (%v):\n%s", nodes, s.sql)
					}
				}
			}
			if planned == 0 {
				t.Fatal("no statement recorded")
			}
		})
	}
}

// planNode is one node of a plan; sub marks one of a subquery's plan (a
// user's roles, links and projects, each sorted by itself).
type planNode struct {
	kind, relation string
	sub            bool
}

// plan is EXPLAIN's plan of s, flattened.
func plan(t *testing.T, db *DB, s statement) []planNode {
	t.Helper()
	// The tables are a test's size: between an index and reading a few
	// hundred rows whole the planner's choice turns on statistics and
	// load (it flipped under a full test run). What must hold is that an
	// index can serve each query: with whole reads priced out, a Seq Scan
	// left in the plan means none can.
	ctx := context.Background()
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	var out []byte
	if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+s.sql, s.args...).Scan(&out); err != nil {
		t.Fatalf("EXPLAIN %s: %v", s.sql, err)
	}
	var doc []struct{ Plan json.RawMessage }
	if err := json.Unmarshal(out, &doc); err != nil || len(doc) != 1 {
		t.Fatalf("EXPLAIN's answer: %s, %v", out, err)
	}
	var nodes []planNode
	var walk func(json.RawMessage, bool)
	walk = func(raw json.RawMessage, sub bool) {
		var n struct {
			NodeType     string            `json:"Node Type"`
			RelationName string            `json:"Relation Name"`
			Parent       string            `json:"Parent Relationship"`
			Plans        []json.RawMessage `json:"Plans"`
		}
		if err := json.Unmarshal(raw, &n); err != nil {
			t.Fatal(err)
		}
		sub = sub || n.Parent == "SubPlan" || n.Parent == "InitPlan"
		nodes = append(nodes, planNode{n.NodeType, n.RelationName, sub})
		for _, p := range n.Plans {
			walk(p, sub)
		}
	}
	walk(doc[0].Plan, false)
	return nodes
}

// TestDeleteOrgLeavesNoRow deletes an organisation holding one of every
// kind of row and looks in every table, those reached through a user or
// a project included: none of its rows is left, and the store is sound.
func TestDeleteOrgLeavesNoRow(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var org, user, project int64
	err = db.Write(ctx, func(tx store.Tx) error {
		var err error
		if org, err = tx.InsertOrg(ctx, roster.Org{Slug: "beta", Name: "Beta"}, now); err != nil {
			return err
		}
		in := tx.In(org)
		if err := in.InsertPermission(ctx, roster.Permission{Name: "app.read"}); err != nil {
			return err
		}
		if err := in.InsertRole(ctx, roster.Role{Name: "reader", Permissions: []string{"app.read"}}); err != nil {
			return err
		}
		if user, err = in.InsertUser(ctx, store.UserRow{User: roster.User{Email: "ann@example.com", Status: roster.StatusActive,
			Roles: []string{"reader"}, Links: map[string]string{"github": "ann"}, CreatedAt: now, UpdatedAt: now}}); err != nil {
			return err
		}
		if project, err = in.InsertProject(ctx, roster.Project{Slug: "apollo"}, now); err != nil {
			return err
		}
		if _, err := in.AddMember(ctx, project, user, now); err != nil {
			return err
		}
		if _, err := in.InsertToken(ctx, user, "ci", []byte("tok"), "ann", now, nil); err != nil {
			return err
		}
		if _, err := in.InsertSession(ctx, store.SessionRow{UserID: user, TokenHash: []byte("ses"), Method: "password",
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		if _, err := in.InsertLink(ctx, store.Link{Kind: store.LinkReset, UserID: user, TokenHash: []byte("lnk"), CreatedBy: user,
			Creator: "ann", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		if err := in.SetNoticesSeen(ctx, user, 1); err != nil {
			return err
		}
		if _, err := in.InsertOutcome(ctx, store.Outcome{UserID: user, KeyHash: []byte("key"), Request: []byte("req"),
			Status: 201, Body: []byte("{}"), CreatedAt: now}); err != nil {
			return err
		}
		if err := in.SetSetting(ctx, "seats", "5"); err != nil {
			return err
		}
		return in.InsertAudit(ctx, store.AuditEntry{AuditEvent: roster.AuditEvent{At: now, Actor: "ann", Via: "cli", Action: "x"}, ActorID: user})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx store.Tx) error { return tx.DeleteOrg(ctx, org) }); err != nil {
		t.Fatal(err)
	}
	left := map[string]string{
		"orgs":         "id = $1",
		"memberships":  "project_id = $3 OR user_id = $2",
		"links":        "user_id = $2 OR created_by = $2",
		"api_tokens":   "user_id = $2",
		"sessions":     "user_id = $2",
		"notices_seen": "user_id = $2",
		"idempotency":  "user_id = $2",
		"user_links":   "org_id = $1 OR user_id = $2",
	}
	for _, table := range orgTables {
		left[table] = "org_id = $1"
	}
	for _, table := range tables {
		if table == "catalog_version" {
			continue // the store's, not an organisation's
		}
		cond, ok := left[table]
		if !ok {
			t.Fatalf("table %s is not looked at", table)
		}
		var n int
		// Every placeholder is used in some condition, so each is typed
		// by one; ($1, $2, $3) is passed to all.
		q := `SELECT count(*) FROM ` + table + ` WHERE (` + cond + `) AND $1::bigint IS NOT NULL AND $2::bigint IS NOT NULL AND $3::bigint IS NOT NULL`
		if err := db.pool.QueryRow(ctx, q, org, user, project).Scan(&n); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if n != 0 {
			t.Errorf("%d rows of %s left of the deleted organisation", n, table)
		}
	}
	if _, problems, err := db.Check(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("Check after DeleteOrg: %q, %v", problems, err)
	}
}
