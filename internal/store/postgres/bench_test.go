package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
	"github.com/roster-dev/roster/internal/store/storetest"
)

// The two ways of keeping the rules across servers, measured on the write
// the core makes most: create a user (after the checks R1 and R9 read) and
// record it in the audit log, from 8 goroutines at once.
//
//	ROSTER_TEST_POSTGRES=postgres://… go test -run '^$' -bench Write ./internal/store/postgres/

func BenchmarkWriteAdvisory(b *testing.B) { benchmarkWrite(b, "advisory") }

func BenchmarkWriteSerializable(b *testing.B) { benchmarkWrite(b, "serializable") }

func benchmarkWrite(b *testing.B, mode string) {
	db := open(b, withParam(b, pgtest.URL(b), "roster_tx", mode))
	ctx := context.Background()
	now := time.Now()
	const writers = 8
	var next, failed atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				err := db.Write(ctx, func(tx store.Tx) error {
					email := fmt.Sprintf("u%d@example.com", i)
					if id, err := tx.EmailTaken(ctx, email); err != nil || id != 0 {
						return fmt.Errorf("email taken: %d, %w", id, err)
					}
					if _, err := tx.CountActive(ctx, now); err != nil {
						return err
					}
					id, err := tx.InsertUser(ctx, newUser(email))
					if err != nil {
						return err
					}
					return tx.InsertAudit(ctx, store.AuditEntry{AuditEvent: roster.AuditEvent{At: now, Actor: "bench",
						Via: "local", Action: "user.create", Target: email}, TargetID: id})
				})
				if err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	// Writes still failing after maxAttempts are measured, not failed:
	// how often that happens is part of the comparison.
	b.ReportMetric(float64(db.Retries())/float64(b.N), "retries/op")
	b.ReportMetric(float64(failed.Load())/float64(b.N), "failed/op")
}

// BenchmarkSearch measures user list --search, the first page, over
// 100,000 users (ROSTER_BENCH_USERS=1000000 for the target's million):
//
//	ROSTER_TEST_POSTGRES=postgres://… go test -run '^$' -bench Search -benchtime 20x ./internal/store/postgres/
//
// The store is vacuumed and analysed once filled, as autovacuum soon
// would: until then the GIN indexes' pending lists hold the new rows, and
// the planner, misled, scans.
func BenchmarkSearch(b *testing.B) {
	url := pgtest.URL(b)
	storetest.BenchSearch(b, open(b, url), func() { psql(b, url, "VACUUM ANALYZE users") })
}

// A request's reads in one organisation of a store holding one, and of
// one holding 1,000 of 100 users each with the same emails: the
// organisations' neighbours should cost nothing (issue 18's figure).
//
//	ROSTER_TEST_POSTGRES=postgres://… go test -run '^$' -bench Neighbours ./internal/store/postgres/

func BenchmarkNeighbours(b *testing.B) {
	for _, orgs := range []int{1, 1000} {
		b.Run(fmt.Sprintf("orgs=%d", orgs), func(b *testing.B) {
			dbURL := pgtest.URL(b)
			db := open(b, dbURL)
			ctx := context.Background()
			const users = 100
			var last int64
			for o := range orgs {
				err := db.Write(ctx, func(tx store.Tx) error {
					var err error
					if last, err = tx.InsertOrg(ctx, roster.Org{Slug: fmt.Sprintf("org-%04d", o), Name: "Org"}, now); err != nil {
						return err
					}
					rows := make([]store.UserRow, users)
					for i := range rows {
						rows[i] = newUser(fmt.Sprintf("user%03d@example.com", i))
					}
					_, err = tx.In(last).InsertUsers(ctx, rows)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			psql(b, dbURL, "ANALYZE orgs, users, user_roles, user_links, memberships")
			octx := store.WithOrg(ctx, last)
			for _, c := range []struct {
				name string
				fn   func(store.Tx) error
			}{
				{"user", func(tx store.Tx) error { _, err := tx.UserByRef(octx, "user042@example.com"); return err }},
				{"page50", func(tx store.Tx) error {
					_, err := tx.ListUsers(octx, roster.UserFilter{Limit: 50})
					return err
				}},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						if err := db.Lookup(octx, c.fn); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
