package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
)

// open opens (and migrates) the store at dbURL, closed at t's end.
func open(t testing.TB, dbURL string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// psql runs statements on their own connection, as an operator would.
func psql(t testing.TB, dbURL string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// withParam returns dbURL with one more query parameter.
func withParam(t testing.TB, dbURL, key, value string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newUser(email string) store.UserRow {
	return store.UserRow{User: roster.User{Email: email, Status: roster.StatusActive, Roles: []string{roster.RoleMember},
		CreatedAt: now, UpdatedAt: now}}
}

func insertUser(t testing.TB, db store.Store, u store.UserRow) int64 {
	t.Helper()
	var id int64
	err := db.Write(context.Background(), func(tx store.Tx) error {
		var err error
		id, err = tx.InsertUser(context.Background(), u)
		return err
	})
	if err != nil {
		t.Fatalf("insert user %s: %v", u.Email, err)
	}
	return id
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("got %v, want %v", err, kind)
	}
}

func TestMigrateFreshAndAgain(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.URL(t)
	db, err := postgres.OpenNoMigrate(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Version(ctx); err != nil || v != 0 {
		t.Fatalf("fresh schema: version %d, %v; want 0", v, err)
	}
	if n, err := db.Migrate(ctx); err != nil || n != db.SchemaVersion() {
		t.Fatalf("first migrate applied %d, %v; want %d", n, err, db.SchemaVersion())
	}
	if n, err := db.Migrate(ctx); err != nil || n != 0 {
		t.Fatalf("second migrate applied %d, %v; want 0", n, err)
	}
	v, problems, err := db.Check(ctx)
	if err != nil || v != db.SchemaVersion() || len(problems) > 0 {
		t.Fatalf("check: version %d, problems %q, %v", v, problems, err)
	}
	// One organisation, the system one, made by the migration.
	err = db.Read(ctx, func(tx store.Tx) error {
		orgs, err := tx.Orgs(ctx)
		if err == nil && (len(orgs) != 1 || orgs[0].ID != store.SystemOrg || orgs[0].Slug != "default" ||
			orgs[0].Name != "default" || orgs[0].Status != roster.OrgActive || !orgs[0].System) {
			t.Errorf("organisations of a new store: %+v", orgs)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The seed is SQLite's: every built-in role and permission, once, in
	// the system organisation, with the system organisation's own.
	err = db.Read(ctx, func(tx store.Tx) error {
		c, err := tx.LoadCatalog(ctx)
		if err != nil {
			return err
		}
		perms := roster.OrgPermissions(true)
		if len(c.Permissions) != len(perms) || len(c.Roles) != len(roster.BuiltinRoles) {
			t.Errorf("catalog: %d permissions, %d roles", len(c.Permissions), len(c.Roles))
		}
		if got := c.Roles[roster.RoleDeveloper].Permissions; !c.Roles[roster.RoleDeveloper].Builtin || strings.Join(got, ",") != "audit.view,roles.view" {
			t.Errorf("developer: %+v", c.Roles[roster.RoleDeveloper])
		}
		if got := c.Roles[roster.RoleOwner].Permissions; len(got) != len(perms) {
			t.Errorf("owner holds %v", got)
		}
		if got := c.Roles[roster.RoleManager].Permissions; strings.Join(got, ",") != "projects.members,roles.view,users.view" {
			t.Errorf("manager holds %v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dbURL := pgtest.URL(t)
	const servers = 4
	errs := make(chan error, servers)
	var wg sync.WaitGroup
	for range servers {
		wg.Go(func() {
			db, err := postgres.Open(context.Background(), dbURL)
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	db := open(t, dbURL)
	var versions, roles int
	err := db.Read(context.Background(), func(tx store.Tx) error {
		c, err := tx.LoadCatalog(context.Background())
		roles = len(c.Roles)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != postgres.SchemaVersion || roles != len(roster.BuiltinRoles) {
		t.Fatalf("%d version rows, %d roles; want %d and %d", versions, roles, postgres.SchemaVersion, len(roster.BuiltinRoles))
	}
}

func TestRefusesAForeignSchema(t *testing.T) {
	dbURL := pgtest.URL(t)
	psql(t, dbURL, `CREATE TABLE users (id int PRIMARY KEY, login text)`)
	_, err := postgres.Open(context.Background(), dbURL)
	wantKind(t, err, roster.ErrInvalid)
	if !strings.Contains(err.Error(), "users") {
		t.Errorf("message does not name the table: %v", err)
	}
}

func TestRefusesANewerSchema(t *testing.T) {
	dbURL := pgtest.URL(t)
	open(t, dbURL).Close()
	psql(t, dbURL, fmt.Sprintf(`INSERT INTO schema_version (version) VALUES (%d)`, postgres.SchemaVersion+1))
	_, err := postgres.Open(context.Background(), dbURL)
	wantKind(t, err, roster.ErrConflict)
}

func TestUniqueViolationIsConflict(t *testing.T) {
	db := open(t, pgtest.URL(t))
	insertUser(t, db, newUser("ann@example.com"))
	err := db.Write(context.Background(), func(tx store.Tx) error {
		_, err := tx.InsertUser(context.Background(), newUser("ANN@example.com"))
		return err
	})
	wantKind(t, err, roster.ErrConflict)
	// And the failed transaction left nothing behind.
	err = db.Read(context.Background(), func(tx store.Tx) error {
		n, err := tx.UserCount(context.Background())
		if n != 1 {
			t.Errorf("%d users after the conflict, want 1", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	// Nothing listens on port 1; the password must not reach the message.
	_, err := postgres.Open(context.Background(), "postgres://roster:s3cret-pw@127.0.0.1:1/test?sslmode=disable&connect_timeout=5")
	wantKind(t, err, roster.ErrUnavailable)
	msg := err.Error() + " " + roster.Hint(err)
	if strings.Contains(msg, "s3cret-pw") {
		t.Fatalf("the message shows the password: %s", msg)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "connection refused") || roster.Hint(err) == "" {
		t.Fatalf("want the database, the cause and a hint: %q (hint %q)", err, roster.Hint(err))
	}
}

func TestMissingDatabaseIsUnavailable(t *testing.T) {
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/roster_no_such_database"
	_, err = postgres.Open(context.Background(), u.String())
	wantKind(t, err, roster.ErrUnavailable)
	if !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("message: %v", err)
	}
}

func TestInvalidURL(t *testing.T) {
	for _, u := range []string{
		"postgres://u:pw@host/db?roster_tx=sometimes",
		"mysql://u:pw@host/db",
		"postgres://u:pw@host/db?sslmode=bogus",
	} {
		_, err := postgres.OpenNoMigrate(context.Background(), u)
		wantKind(t, err, roster.ErrInvalid)
		if strings.Contains(err.Error(), ":pw@") {
			t.Errorf("%s: the message shows the password: %v", u, err)
		}
	}
}

func TestPathHidesThePassword(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://ann:hunter2@db.example.com:5432/roster?sslmode=require":       "postgres://ann@db.example.com:5432/roster?sslmode=require",
		"postgresql://ann@db/roster":                                              "postgresql://ann@db/roster",
		"postgres://db/roster?password=hunter2&search_path=r":                     "postgres://db/roster?search_path=r",
		"postgres://ann:hunter2@db/roster?sslpassword=hunter2&roster_tx=advisory": "postgres://ann@db/roster?roster_tx=advisory",
	} {
		if got := postgres.Redact(in); got != want {
			t.Errorf("Redact(%s) = %s, want %s", in, got, want)
		}
	}
	// Under trust authentication the server ignores the password.
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "hunter2")
	db := open(t, u.String())
	if strings.Contains(db.Path(), "hunter2") || !strings.Contains(db.Path(), u.Host) {
		t.Fatalf("Path() = %s", db.Path())
	}
}

func TestBackupPointsToPgDump(t *testing.T) {
	db := open(t, pgtest.URL(t))
	err := db.Backup(context.Background(), "/tmp/roster.db")
	wantKind(t, err, roster.ErrInvalid)
	if !strings.Contains(err.Error(), "pg_dump") || !strings.Contains(roster.Hint(err), "pg_dump --format=custom --schema=") {
		t.Fatalf("got %v (hint %q)", err, roster.Hint(err))
	}
}

func TestReadOnlyServer(t *testing.T) {
	dbURL := pgtest.URL(t)
	open(t, dbURL)
	// A standby cannot be made here; a server whose transactions default
	// to read-only refuses writes alike.
	db := open(t, withParam(t, dbURL, "default_transaction_read_only", "on"))
	if !db.ReadOnly() {
		t.Fatal("ReadOnly() = false")
	}
	err := db.Write(context.Background(), func(tx store.Tx) error { return tx.SetSetting(context.Background(), "k", "v") })
	wantKind(t, err, roster.ErrUnavailable)
	if err := db.Read(context.Background(), func(tx store.Tx) error { _, err := tx.Settings(context.Background()); return err }); err != nil {
		t.Fatalf("read: %v", err)
	}
}

func TestCheckFindsDamage(t *testing.T) {
	dbURL := pgtest.URL(t)
	db := open(t, dbURL)
	id := insertUser(t, db, newUser("ann@example.com"))
	// A second organisation, whose catalog is checked too, with a user
	// made a member of the first's project.
	ctx := context.Background()
	var beta, betaUser, project int64
	err := db.Write(ctx, func(tx store.Tx) error {
		var err error
		if project, err = tx.InsertProject(ctx, roster.Project{Slug: "apollo"}, now); err != nil {
			return err
		}
		if beta, err = tx.InsertOrg(ctx, roster.Org{Slug: "beta", Name: "Beta"}, now); err != nil {
			return err
		}
		betaUser, err = tx.In(beta).InsertUser(ctx, newUser("bob@example.com"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, problems, err := db.Check(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("Check before the damage: %q, %v", problems, err)
	}
	psql(t, dbURL,
		`DELETE FROM roles WHERE name = 'viewer' AND org_id = 1`,
		fmt.Sprintf(`DELETE FROM roles WHERE name = 'developer' AND org_id = %d`, beta),
		fmt.Sprintf(`INSERT INTO permissions (org_id, name, builtin) VALUES (%d, 'orgs.manage', true)`, beta),
		fmt.Sprintf(`INSERT INTO memberships (project_id, user_id, created_at) VALUES (%d, %d, now())`, project, betaUser),
		`ALTER TABLE user_roles DISABLE TRIGGER ALL`,
		fmt.Sprintf(`INSERT INTO user_roles (org_id, user_id, role) VALUES (1, %d, 'ghost')`, id+100),
	)
	_, problems, err := db.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(problems, "\n")
	for _, want := range []string{"organisation default lacks built-in role viewer", "of user_roles is not enforced",
		"1 rows of user_roles refer to missing rows of users", "1 rows of user_roles refer to missing rows of roles",
		"organisation beta lacks built-in role developer", "organisation beta holds orgs.manage",
		"1 memberships join a project and a user of different organisations"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}

func TestSearchFoldsNonASCII(t *testing.T) {
	db := open(t, pgtest.URL(t))
	u := newUser("emile@example.com")
	u.Name = "Émile Zola"
	insertUser(t, db, u)
	insertUser(t, db, newUser("other@example.com"))
	for _, search := range []string{"émile", "ÉMILE", "zola", "EMILE@"} {
		err := db.Read(context.Background(), func(tx store.Tx) error {
			page, err := tx.ListUsers(context.Background(), roster.UserFilter{Search: search, Limit: 10})
			if len(page.Items) != 1 || page.Items[0].Email != "emile@example.com" {
				t.Errorf("search %q found %v", search, page.Items)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestTimesComeBackUTCInMicroseconds(t *testing.T) {
	db := open(t, pgtest.URL(t))
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 5*3600))
	u := newUser("ann@example.com")
	u.CreatedAt, u.UpdatedAt = at, at
	insertUser(t, db, u)
	err := db.Read(context.Background(), func(tx store.Tx) error {
		got, err := tx.UserByRef(context.Background(), "ann@example.com")
		if want := at.Truncate(time.Microsecond).UTC(); got.CreatedAt != want {
			t.Errorf("created %v, want %v", got.CreatedAt, want)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConsumeLinkOnce is R11 at the store: 16 concurrent write
// transactions consume one link, in both modes; exactly one does.
func TestConsumeLinkOnce(t *testing.T) {
	for _, mode := range []string{"advisory", "serializable"} {
		t.Run(mode, func(t *testing.T) {
			db := open(t, withParam(t, pgtest.URL(t), "roster_tx", mode))
			ctx := context.Background()
			uid := insertUser(t, db, newUser("ann@example.com"))
			var linkID int64
			err := db.Write(ctx, func(tx store.Tx) error {
				var err error
				linkID, err = tx.InsertLink(ctx, store.Link{Kind: store.LinkInvite, UserID: uid, TokenHash: []byte("h"),
					Creator: "test", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			const n = 16
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for range n {
				wg.Go(func() {
					err := db.Write(ctx, func(tx store.Tx) error {
						ok, err := tx.ConsumeLink(ctx, linkID, now.Add(time.Minute))
						if err == nil && ok {
							// The winner also records it, as accepting does.
							err = tx.InsertAudit(ctx, store.AuditEntry{AuditEvent: roster.AuditEvent{At: now, Actor: "x", Via: "test", Action: "invite.accept"}})
						}
						return err
					})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("write: %v", err)
				}
			}
			// In serializable mode a retried transaction reports again:
			// count the commits, in the audit log.
			var audits int
			err = db.Read(ctx, func(tx store.Tx) error {
				ev, err := tx.ListAudit(ctx, store.AuditQuery{Action: "invite.accept", Limit: 100})
				audits = len(ev)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if audits != 1 {
				t.Fatalf("%d transactions consumed the link, want 1", audits)
			}
		})
	}
}

// TestSerializableRetries: concurrent writes that collide all commit in
// serializable mode, through retries.
func TestSerializableRetries(t *testing.T) {
	db := open(t, withParam(t, pgtest.URL(t), "roster_tx", "serializable"))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			errs <- db.Write(context.Background(), func(tx store.Tx) error {
				if _, err := tx.CountActive(context.Background(), time.Now()); err != nil {
					return err
				}
				_, err := tx.InsertUser(context.Background(), newUser(fmt.Sprintf("u%d@example.com", i)))
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d retries", db.Retries())
}
