package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// TestMigrateToOrgs migrates the stores kept from before organisations:
// every row of every table is still there with its ids, all of it in the
// system organisation default (named by org.name), which gains orgs.*
// and the locked role developer, or keeps a custom developer and says
// so in its audit log; and the store checks clean.
func TestMigrateToOrgs(t *testing.T) {
	for name, developer := range fixtures {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			path := copyFixture(t, name)
			before := dumpTables(t, path, nil)
			db, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			after := dumpTables(t, path, before)

			// What the migration adds, by table; everything else is as it was.
			// Columns come in the order of their names.
			added := map[string][]string{
				"permissions": {"1|" + roster.SystemPermissions[1].Description + "|orgs.manage",
					"1|" + roster.SystemPermissions[0].Description + "|orgs.view"},
			}
			if developer {
				added["audit"] = []string{"store.migrate|roster|<nil>|6|role developer|<nil>|migrate"}
			} else {
				added["roles"] = []string{"0|1|see roles and permissions and read the audit log|developer"}
				added["role_permissions"] = []string{"audit.view|developer", "roles.view|developer"}
			}
			for table, rows := range before {
				var extra []string
				for _, r := range after[table].rows {
					if !slices.Contains(rows.rows, r) {
						extra = append(extra, r)
					}
				}
				for _, r := range rows.rows {
					if !slices.Contains(after[table].rows, r) {
						t.Errorf("%s: row %q lost", table, r)
					}
				}
				// The audit event's time is the migration's own, and its
				// details are read through the port below.
				if table == "audit" {
					for i, r := range extra {
						f := strings.Split(r, "|")
						extra[i] = strings.Join(append(f[:3:3], f[5:]...), "|")
					}
				}
				equal(t, table+": rows added", extra, added[table])
			}
			var orgs []string
			rows, err := db.sql.QueryContext(ctx, `SELECT id || ' ' || slug || ' ' || name || ' ' || status FROM orgs`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var o string
				if err := rows.Scan(&o); err != nil {
					t.Fatal(err)
				}
				orgs = append(orgs, o)
			}
			rows.Close()
			equal(t, "organisations", orgs, []string{"1 default Acme Corp active"})
			for table := range before {
				var n int
				err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = 'org_id'`, table).Scan(&n)
				if err != nil || n == 0 {
					continue
				}
				if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE org_id != 1`).Scan(&n); err != nil || n != 0 {
					t.Errorf("%s: %d rows outside the system organisation, %v", table, n, err)
				}
			}
			if v, problems, err := db.Check(ctx); err != nil || len(problems) > 0 || v != SchemaVersion {
				t.Errorf("Check = %d, %q, %v", v, problems, err)
			}
			checkMigratedStore(t, db, developer)
		})
	}
}

// checkMigratedStore reads a migrated fixture through the port.
func checkMigratedStore(t *testing.T, db *DB, developer bool) {
	t.Helper()
	ctx := context.Background()
	err := db.Write(ctx, func(tx store.Tx) error {
		c, err := tx.LoadCatalog(ctx)
		if err != nil {
			return err
		}
		dev := c.Roles[roster.RoleDeveloper]
		want := []string{roster.PermAuditView, roster.PermRolesView}
		if developer {
			want = []string{"invoices.view", roster.PermProjectsViewAll}
		}
		equal(t, "developer", [2]any{dev.Builtin, dev.Permissions}, [2]any{!developer, want})
		events, err := tx.ListAudit(ctx, store.AuditQuery{Action: "store.migrate", Limit: 10})
		if err != nil {
			return err
		}
		if developer {
			if len(events) != 1 || events[0].Actor != "roster" || events[0].Via != "migrate" ||
				!strings.Contains(fmt.Sprint(events[0].Details), "custom role developer was kept") {
				t.Errorf("store.migrate events = %+v, want one saying the custom developer was kept", events)
			}
		} else if len(events) != 0 {
			t.Errorf("store.migrate events = %+v, want none", events)
		}
		_, u, found, err := tx.TokenUser(ctx, []byte{0xa1})
		if err != nil || !found {
			return fmt.Errorf("TokenUser of the kept token: %v, %w", found, err)
		}
		equal(t, "the token's user", [4]any{u.ID, u.Email, u.OrgID, u.OrgStatus}, [4]any{int64(1), "Ann@Example.com", store.SystemOrg, roster.OrgActive})
		for ref, want := range map[string]int64{"github:ann": 1, "okta:erin@corp": 5, "ann": 1, "DAVE@example.com": 4, "6": 6} {
			u, err := tx.UserByRef(ctx, ref)
			if err != nil {
				return err
			}
			equal(t, "UserByRef("+ref+")", u.ID, want)
		}
		// Ids are never reused: the audit log names 7, a deleted user.
		id, err := tx.InsertUser(ctx, store.UserRow{User: roster.User{Email: "new@example.com", Status: roster.StatusActive,
			Roles: []string{roster.RoleDeveloper}}})
		equal(t, "a new user's id", id, int64(8))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// table is one table's columns and rows, each row its values joined by
// '|' in the order of the columns, sorted.
type table struct {
	columns []string
	rows    []string
}

// dumpTables reads every table of the store at path (but the catalog's
// change counter). With like set, each table is read by like's columns:
// the columns the table had then, whatever it has gained since.
func dumpTables(t *testing.T, path string, like map[string]table) map[string]table {
	t.Helper()
	conn, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	names := querySorted(t, conn, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
		AND name NOT IN ('catalog_version', 'orgs')`)
	out := map[string]table{}
	for _, name := range names {
		tb, ok := like[name]
		if like != nil && !ok {
			continue
		}
		if !ok {
			tb.columns = querySorted(t, conn, `SELECT name FROM pragma_table_info(?)`, name)
		}
		cols := make([]string, len(tb.columns))
		for i, c := range tb.columns {
			cols[i] = fmt.Sprintf("COALESCE(CAST(%s AS TEXT), '<nil>')", c)
			if c == "token_hash" || c == "key_hash" || c == "request_hash" || c == "body" {
				cols[i] = "hex(" + c + ")"
			}
		}
		tb.rows = querySorted(t, conn, `SELECT `+strings.Join(cols, ` || '|' || `)+` FROM `+name)
		out[name] = tb
	}
	return out
}

// querySorted runs a query of one text column and returns its values,
// sorted.
func querySorted(t *testing.T, conn *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// TestMigrateLeavesForeignKeysOn: the connection the migrations ran on,
// with foreign keys off, goes back to the pool with them on, as every
// other connection has them.
func TestMigrateLeavesForeignKeysOn(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, copyFixture(t, fmt.Sprintf("v%d.db", fixtureVersion)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Hold several connections at once, so that the pool hands out the
	// idle one the migrations used among them.
	var conns []*sql.Conn
	for range 4 {
		c, err := db.sql.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		var on int
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&on); err != nil || on != 1 {
			t.Errorf("connection %d: foreign_keys = %d, %v", i, on, err)
		}
	}
}

// TestMigrateRefusesCustomSystemPermission: a store with an application
// permission named as one of system administrators is not migrated (its
// holders would become system administrators), and stays as it was.
func TestMigrateRefusesCustomSystemPermission(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	storeAtVersion(t, path, fixtureVersion, fixtureData+`;
		INSERT INTO permissions (name, description) VALUES ('orgs.manage', 'manage our orgs');
		INSERT INTO role_permissions (role, permission) VALUES ('billing', 'orgs.manage')`).Close()
	_, err := Open(ctx, path)
	if !errors.Is(err, roster.ErrConflict) || !strings.Contains(err.Error(), "orgs.manage") {
		t.Fatalf("Open = %v, want a conflict naming orgs.manage", err)
	}
	db, err := OpenNoMigrate(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Version(ctx); err != nil || v != fixtureVersion {
		t.Errorf("version after the refused migration = %d, %v; want %d", v, err, fixtureVersion)
	}
}

// TestCheckOrganisations: Check finds an organisation without a locked
// role or roster's permissions, one holding a permission of system
// administrators, and a membership across two organisations.
func TestCheckOrganisations(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, problems, err := db.Check(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("Check of a new store = %q, %v", problems, err)
	}
	var beta int64
	err = db.Write(ctx, func(tx store.Tx) error {
		if beta, err = tx.InsertOrg(ctx, roster.Org{Slug: "beta", Name: "Beta"}, time.Now()); err != nil {
			return err
		}
		ann, err := tx.InsertUser(ctx, store.UserRow{User: roster.User{Email: "ann@example.com", Status: roster.StatusActive}})
		if err != nil {
			return err
		}
		web, err := tx.In(beta).InsertProject(ctx, roster.Project{Slug: "web"}, time.Now())
		if err != nil {
			return err
		}
		// What no query of the port can do: the checks are for a store
		// damaged by hand or by a bug.
		raw := tx.(*Tx).q
		for _, q := range []string{
			fmt.Sprintf(`INSERT INTO memberships (project_id, user_id, created_at) VALUES (%d, %d, 0)`, web, ann),
			fmt.Sprintf(`DELETE FROM roles WHERE org_id = %d AND name = 'viewer'`, beta),
			fmt.Sprintf(`DELETE FROM role_permissions WHERE org_id = %d AND permission = 'audit.view'`, beta),
			fmt.Sprintf(`DELETE FROM permissions WHERE org_id = %d AND name = 'audit.view'`, beta),
			fmt.Sprintf(`INSERT INTO permissions (org_id, name, builtin) VALUES (%d, 'orgs.view', 1)`, beta),
		} {
			if _, err := raw.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, problems, err := db.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "problems", problems, []string{
		"organisation beta has no locked role viewer",
		"organisation beta lacks the permission audit.view",
		"organisation beta has orgs.view, which only the system organisation may have",
		"a membership joins two organisations: ann@example.com in web",
	})
}
