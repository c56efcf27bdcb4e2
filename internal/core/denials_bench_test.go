package core_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// BenchmarkWritesUnderRefusals measures successful writes (user create
// without a password, each one write transaction with its audit event)
// alone, and while other goroutines are refused as fast as they can
// (each refusal audited as *.denied): docs/benchmarks.md.
//
//	go test -run '^$' -bench WritesUnderRefusals -benchtime 2000x ./internal/core
func BenchmarkWritesUnderRefusals(b *testing.B) {
	for _, c := range []struct {
		flooders int
		audited  bool
	}{{0, true}, {4, false}, {4, true}} {
		flooders := c.flooders
		b.Run(fmt.Sprintf("refusing=%d/audited=%t", flooders, c.audited), func(b *testing.B) {
			var opts []core.Option
			if !c.audited {
				opts = append(opts, core.WithoutDenials())
			}
			c, admin, waits := benchCore(b, opts...)
			var stop atomic.Bool
			var refused atomic.Int64
			var wg sync.WaitGroup
			for i := range flooders {
				email := fmt.Sprintf("flood%d@example.com", i)
				if _, err := admin.CreateUser(b.Context(), roster.CreateUser{Email: email, Roles: []string{roster.RoleMember}}); err != nil {
					b.Fatal(err)
				}
				m := c.As(core.Actor{User: email, Name: email})
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !stop.Load() {
						if _, err := m.SetSetting(b.Context(), "seats", "5"); err == nil {
							panic("a member set a setting")
						}
						refused.Add(1)
					}
				}()
			}
			b.ResetTimer()
			ctx := waits.timed(b.Context())
			for i := range b.N {
				if _, err := admin.CreateUser(ctx, roster.CreateUser{Email: fmt.Sprintf("u%d@example.com", i)}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(waits.total.Load())/1e3/float64(b.N), "lock-wait-us/write")
			stop.Store(true)
			wg.Wait()
			c.FlushDenials()
			b.ReportMetric(float64(refused.Load())/b.Elapsed().Seconds(), "refusals/s")
			denied, err := admin.ListAudit(b.Context(), roster.AuditFilter{Action: "settings.set.denied", Limit: 100000})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(denied)), "denials-audited")
		})
	}
}

// BenchmarkCheckedWrite measures a successful write by a signed-in user
// (settings set through a token's Service, alternating two values): what
// checking the permission before the write lock costs a write that
// succeeds (docs/benchmarks.md).
//
//	go test -run '^$' -bench CheckedWrite -benchtime 2000x ./internal/core
func BenchmarkCheckedWrite(b *testing.B) {
	c, admin, _ := benchCore(b)
	if _, err := admin.CreateUser(b.Context(), roster.CreateUser{Email: "adm@example.com", Roles: []string{roster.RoleAdmin}}); err != nil {
		b.Fatal(err)
	}
	tok, err := admin.CreateToken(b.Context(), roster.CreateToken{User: "adm@example.com", Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		// Authenticated per request, as the server does.
		svc, err := c.Authenticate(b.Context(), tok.Token)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.SetSetting(b.Context(), "seats", strconv.Itoa(1000+i%2)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchCore is a Core over a new SQLite store, initialised, its local
// administrator, and the store's record of lock waits.
func benchCore(b *testing.B, opts ...core.Option) (*core.Core, roster.Service, *lockWaits) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "roster.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	waits := &lockWaits{Store: db}
	c := core.New(waits, opts...)
	admin := c.As(core.Actor{Name: "local:bench"})
	if _, err := admin.Init(b.Context(), roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		b.Fatal(err)
	}
	return c, admin, waits
}

// lockWaits is a store that adds up how long the write transactions
// asked for with a timed context waited for the write lock (until their
// function ran).
type lockWaits struct {
	store.Store
	total atomic.Int64 // nanoseconds
}

type timedKey struct{}

func (*lockWaits) timed(ctx context.Context) context.Context {
	return context.WithValue(ctx, timedKey{}, true)
}

func (s *lockWaits) Write(ctx context.Context, fn func(store.Tx) error) error {
	if ctx.Value(timedKey{}) == nil {
		return s.Store.Write(ctx, fn)
	}
	asked, waited := time.Now(), false
	return s.Store.Write(ctx, func(tx store.Tx) error {
		if !waited {
			waited = true
			s.total.Add(int64(time.Since(asked)))
		}
		return fn(tx)
	})
}
