package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
)

// TestMigrateFromVersion3 migrates a store made before sessions, with a
// link in it: the link survives the new CHECK on links.kind, which then
// takes sign-in links and still refuses other kinds.
func TestMigrateFromVersion3(t *testing.T) {
	ctx := context.Background()
	db, err := OpenNoMigrate(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := migrateTo(ctx, db, tx, 3); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO users (id, email, email_key, status, created_at, updated_at)
				VALUES (1, 'ann@example.com', 'ann@example.com', 'active', now(), now());
			INSERT INTO links (id, kind, user_id, token_hash, creator, created_at, expires_at, sent_at)
				VALUES (41, 'invite', 1, '\x0102', 'local:root', now(), now() + interval '1 day', now())`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.Migrate(ctx); err != nil || n != SchemaVersion-3 {
		t.Fatalf("Migrate = %d, %v; want %d", n, err, SchemaVersion-3)
	}
	if _, problems, err := db.Check(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("Check after migrating: %q, %v", problems, err)
	}
	err = db.Write(ctx, func(stx store.Tx) error {
		l, found, err := stx.LinkByHash(ctx, store.LinkInvite, []byte{1, 2})
		if err != nil || !found || l.ID != 41 || l.SentAt == nil {
			t.Errorf("the link made before migrating: %+v, found %v, %v", l, found, err)
		}
		now := time.Now().UTC()
		_, err = stx.InsertLink(ctx, store.Link{Kind: store.LinkSignIn, UserID: 1, TokenHash: []byte{3}, Creator: "ann",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		return err
	})
	if err != nil {
		t.Errorf("a sign-in link after migrating: %v", err)
	}
	err = db.Write(ctx, func(stx store.Tx) error {
		_, err := stx.InsertLink(ctx, store.Link{Kind: "other", UserID: 1, TokenHash: []byte{4}, Creator: "ann",
			CreatedAt: time.Now(), ExpiresAt: time.Now()})
		return err
	})
	if err == nil {
		t.Error("a link of an unknown kind was stored")
	}
}

// TestMigrateOrganisations migrates each store of the previous schema
// (the fixtures) into organisations: everything lands in the system
// organisation default, named after org.name, with its ids; developer is
// added unless a custom role has the name, which the migration keeps and
// says so; the system permissions are the system organisation's.
func TestMigrateOrganisations(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			ctx := context.Background()
			db, err := OpenNoMigrate(ctx, pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			loadFixture(t, db, f.file)
			if v, problems, err := db.Check(ctx); err != nil || v != fixtureVersion || len(problems) > 0 {
				t.Fatalf("Check of the fixture: version %d, %q, %v", v, problems, err)
			}
			if n, err := db.Migrate(ctx); err != nil || n != SchemaVersion-fixtureVersion {
				t.Fatalf("Migrate = %d, %v; want %d", n, err, SchemaVersion-fixtureVersion)
			}
			if _, problems, err := db.Check(ctx); err != nil || len(problems) > 0 {
				t.Fatalf("Check after migrating: %q, %v", problems, err)
			}
			customDeveloper := f.data == fixtureDeveloper
			err = db.Read(ctx, func(tx store.Tx) error {
				checkMigratedStore(t, ctx, tx, customDeveloper)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// Ids go on from where they were.
			err = db.Write(ctx, func(tx store.Tx) error {
				id, err := tx.InsertUser(ctx, store.UserRow{User: roster.User{Email: "new@example.com", Status: roster.StatusActive,
					Roles: []string{roster.RoleDeveloper}, CreatedAt: time.Now(), UpdatedAt: time.Now()}})
				if err == nil && id != 7 {
					t.Errorf("a new user's id is %d, want 7", id)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkMigratedStore checks what a fixture held, read through the port
// in the system organisation.
func checkMigratedStore(t *testing.T, ctx context.Context, tx store.Tx, customDeveloper bool) {
	t.Helper()
	orgs, err := tx.Orgs(ctx)
	if err != nil || len(orgs) != 1 {
		t.Fatalf("orgs: %+v, %v", orgs, err)
	}
	if o := orgs[0]; o.ID != store.SystemOrg || o.Slug != "default" || o.Name != "Acme Ltd" || o.Status != roster.OrgActive || !o.System {
		t.Errorf("the system organisation: %+v", o)
	}
	users := map[string]struct {
		id     int64
		status roster.Status
		roles  string
	}{
		"ann@example.com":   {1, roster.StatusActive, "owner"},
		"bob@example.com":   {2, roster.StatusActive, "auditors,member"},
		"cat@example.com":   {3, roster.StatusInvited, "viewer"},
		"dan@example.com":   {4, roster.StatusDeactivated, "manager"},
		"emile@example.com": {6, roster.StatusActive, "member"},
	}
	if customDeveloper {
		e := users["emile@example.com"]
		e.roles = "developer,member"
		users["emile@example.com"] = e
	}
	for email, want := range users {
		u, err := tx.UserByRef(ctx, email)
		if err != nil {
			t.Errorf("%s: %v", email, err)
			continue
		}
		if u.ID != want.id || u.Status != want.status || strings.Join(u.Roles, ",") != want.roles ||
			u.OrgID != store.SystemOrg || u.OrgStatus != roster.OrgActive {
			t.Errorf("%s: id %d, %s, roles %v, org %d %s; want %+v", email, u.ID, u.Status, u.Roles, u.OrgID, u.OrgStatus, want)
		}
	}
	if u, err := tx.UserByRef(ctx, "okta:emile@corp"); err != nil || u.ID != 6 || u.Username != "émile" {
		t.Errorf("by link: %+v, %v", u.User, err)
	}
	if u, err := tx.UserByRef(ctx, "dan"); err != nil || u.StatusBefore != roster.StatusInvited || u.Reason != "left the company" {
		t.Errorf("dan: %+v, %v", u, err)
	}
	if u, err := tx.UserByRef(ctx, "ann"); err != nil || u.PasswordHash != "$argon2id$ann" ||
		!u.CreatedAt.Equal(time.Date(2026, 1, 1, 10, 0, 0, 123456000, time.UTC)) || strings.Join(u.Projects, ",") != "apollo" {
		t.Errorf("ann: %+v, %v", u, err)
	}

	c, err := tx.LoadCatalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Roles["auditors"].Permissions; c.Roles["auditors"].Builtin || strings.Join(got, ",") != "audit.view,reports.export" {
		t.Errorf("auditors: %+v", c.Roles["auditors"])
	}
	if p, ok := c.Permission("reports.export"); !ok || p.Builtin || strings.Join(p.Implies, ",") != "reports.view" {
		t.Errorf("reports.export: %+v, %v", p, ok)
	}
	for _, p := range roster.OrgPermissions(true) {
		if q, ok := c.Permission(p.Name); !ok || !q.Builtin {
			t.Errorf("permission %s: %+v, %v", p.Name, q, ok)
		}
	}
	if got := len(c.Roles[roster.RoleOwner].Permissions); got != len(roster.OrgPermissions(true))+2 {
		t.Errorf("owner holds %d permissions", got)
	}
	dev := c.Roles[roster.RoleDeveloper]
	events, err := tx.ListAudit(ctx, store.AuditQuery{Action: "store.migrate", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if customDeveloper {
		if dev.Builtin || dev.Description != "our developers" || strings.Join(dev.Permissions, ",") != "reports.view,users.view" {
			t.Errorf("the custom developer: %+v", dev)
		}
		if len(events) != 1 || events[0].Actor != "roster" || events[0].Via != "migrate" || events[0].Target != "role developer" ||
			!strings.Contains(fmt.Sprint(events[0].Details), "no locked developer role") {
			t.Errorf("the migration's event: %+v", events)
		}
	} else {
		if !dev.Builtin || strings.Join(dev.Permissions, ",") != "audit.view,roles.view" {
			t.Errorf("the locked developer: %+v", dev)
		}
		if len(events) != 0 {
			t.Errorf("events of a migration with nothing to say: %+v", events)
		}
	}

	all, err := tx.ListAudit(ctx, store.AuditQuery{Limit: 10})
	if err != nil || len(all) < 3 {
		t.Fatalf("audit: %+v, %v", all, err)
	}
	if ids := fmt.Sprint(all[len(all)-3].ID, all[len(all)-2].ID, all[len(all)-1].ID); ids != "53 51 50" {
		t.Errorf("audit ids: %s", ids)
	}
	if p, ok, err := tx.ProjectBySlug(ctx, "zeus"); err != nil || !ok || p.ID != 12 || !p.Archived || p.Members != 1 {
		t.Errorf("zeus: %+v, %v, %v", p, ok, err)
	}
	if n, err := tx.CountProjects(ctx); err != nil || n != 2 {
		t.Errorf("CountProjects = %d, %v", n, err)
	}
	if m, err := tx.Members(ctx, 10); err != nil || fmt.Sprint(m) != "[{1 Ann@Example.com} {2 bob@example.com}]" {
		t.Errorf("apollo's members: %v, %v", m, err)
	}
	tok, u, ok, err := tx.TokenUser(ctx, []byte{0x0b, 0x01})
	if err != nil || !ok || tok.ID != 30 || tok.Name != "ci" || u.ID != 1 || u.OrgID != store.SystemOrg {
		t.Errorf("token 30: %+v, %+v, %v, %v", tok, u.User, ok, err)
	}
	if tok, ok, err := tx.TokenByID(ctx, 31); err != nil || !ok || !tok.Revoked || tok.UserID != 2 {
		t.Errorf("token 31: %+v, %v, %v", tok, ok, err)
	}
	s, u, ok, err := tx.SessionUser(ctx, []byte{0x0c, 0x01})
	if err != nil || !ok || s.ID != 40 || s.Address != "192.0.2.7" || u.ID != 6 || u.OrgStatus != roster.OrgActive {
		t.Errorf("session 40: %+v, %+v, %v, %v", s, u.User, ok, err)
	}
	l, ok, err := tx.LinkByHash(ctx, store.LinkInvite, []byte{0x0a, 0x01})
	if err != nil || !ok || l.ID != 20 || l.UserID != 3 || l.CreatedBy != 1 || l.SentAt == nil || l.OrgID != store.SystemOrg {
		t.Errorf("link 20: %+v, %v, %v", l, ok, err)
	}
	if invites, err := tx.ListInvitations(ctx); err != nil || len(invites) != 1 || invites[0].ID != 20 {
		t.Errorf("invitations: %+v, %v", invites, err)
	}
	if seen, err := tx.NoticesSeen(ctx, 1); err != nil || seen != 51 {
		t.Errorf("NoticesSeen(1) = %d, %v", seen, err)
	}
	if o, ok, err := tx.Outcome(ctx, 1, []byte{0x0d, 0x01}); err != nil || !ok || o.Status != 201 {
		t.Errorf("outcome: %+v, %v, %v", o, ok, err)
	}
	settings, err := tx.Settings(ctx)
	if err != nil || fmt.Sprint(settings) != "map[org.name:Acme Ltd password.min_length:12 seats:10]" {
		t.Errorf("settings: %v, %v", settings, err)
	}
	if n, err := tx.CountActive(ctx); err != nil || n != 3 {
		t.Errorf("CountActive = %d, %v", n, err)
	}
}

// TestMigrateOrganisationsAllOrNothing fails the migration half-way, once
// orgs is made and users altered (an index of the name it makes next is
// in the way): the store is left as it was, of version 5, without orgs
// or an org_id anywhere.
func TestMigrateOrganisationsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db, err := OpenNoMigrate(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	loadFixture(t, db, fixtures[0].file)
	if _, err := db.pool.Exec(ctx, `CREATE INDEX users_org_status ON settings (value)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "users_org_status") {
		t.Fatalf("Migrate with an index in the way: %v", err)
	}
	if v, err := db.Version(ctx); err != nil || v != fixtureVersion {
		t.Errorf("version after the failed migration: %d, %v", v, err)
	}
	var columns int
	var orgs bool
	err = db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM information_schema.columns
		WHERE table_schema = $1 AND column_name = 'org_id'), to_regclass('orgs') IS NOT NULL`, db.schema).Scan(&columns, &orgs)
	if err != nil || columns != 0 || orgs {
		t.Errorf("after the failed migration: %d columns org_id, table orgs %v, %v", columns, orgs, err)
	}
}

// TestMigrateRefusesACustomSystemPermission refuses a store whose own
// permission is named orgs.manage: migrated, its holders would become
// system administrators. Nothing is changed.
func TestMigrateRefusesACustomSystemPermission(t *testing.T) {
	ctx := context.Background()
	db, err := OpenNoMigrate(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	loadFixture(t, db, fixtures[0].file)
	if _, err := db.pool.Exec(ctx, `INSERT INTO permissions (name, description) VALUES ('orgs.manage', 'ours')`); err != nil {
		t.Fatal(err)
	}
	_, err = db.Migrate(ctx)
	if !errors.Is(err, roster.ErrConflict) || !strings.Contains(err.Error(), "orgs.manage") {
		t.Fatalf("Migrate with a custom orgs.manage: %v", err)
	}
	if v, err := db.Version(ctx); err != nil || v != fixtureVersion {
		t.Errorf("version after the refusal: %d, %v", v, err)
	}
}
