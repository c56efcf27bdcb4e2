package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// BenchmarkAuditChain measures what the hash chain adds to a write that
// records one event (issue 20: at most 5 % of user create
// --no-password): the SHA-256 of the event, and the read of the largest
// id and the organisation's last hash that InsertAudits makes first, in
// a store already holding 100,000 events. "write" is a whole write
// transaction recording one event, for scale; a user create adds its
// user, its roles and its checks to that.
//
//	go test ./internal/store/sqlite -run '^$' -bench AuditChain
func BenchmarkAuditChain(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "roster.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	event := func(i int) store.AuditEntry {
		return store.AuditEntry{AuditEvent: roster.AuditEvent{At: time.Now(), Actor: "local:root", Via: "local",
			Action: "user.create", Target: "someone@example.com",
			Details: map[string]any{"roles": []string{"member"}, "has_password": false, "n": i}}, TargetID: int64(i)}
	}
	const seeded = 100_000
	batch := make([]store.AuditEntry, 0, 1000)
	for i := 0; i < seeded; i += cap(batch) {
		batch = batch[:0]
		for j := range cap(batch) {
			batch = append(batch, event(i+j))
		}
		if err := db.Write(ctx, func(tx store.Tx) error { return tx.InsertAudits(ctx, batch) }); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("hash", func(b *testing.B) {
		prev := make([]byte, 32)
		for i := 0; b.Loop(); i++ {
			c, err := store.Chain(event(i), store.SystemOrg, int64(seeded+i), prev)
			if err != nil {
				b.Fatal(err)
			}
			prev = c.Hash
		}
	})
	b.Run("last-hash", func(b *testing.B) {
		for b.Loop() {
			err := db.Lookup(ctx, func(tx store.Tx) error {
				var id int64
				var prev []byte
				return tx.(*Tx).queryRow(ctx, chainHeadSQL, store.SystemOrg).Scan(&id, &prev)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := db.Write(ctx, func(tx store.Tx) error { return tx.InsertAudit(ctx, event(i)) }); err != nil {
				b.Fatal(err)
			}
		}
	})
}
