package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
		if _, err := tx.Exec(ctx, `CREATE TABLE `+db.versionTable()+` (version integer PRIMARY KEY)`); err != nil {
			return err
		}
		for i := range 3 {
			if err := migrations[i](ctx, tx); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+db.versionTable()+` (version) VALUES ($1)`, i+1); err != nil {
				return err
			}
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
