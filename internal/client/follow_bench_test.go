package client_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// BenchmarkAuditFollow measures how long a following audit tail takes to
// deliver a new event (issue 20: within 1 s locally, 100 ms remotely):
// from just before the write that records it until the follower has it.
//
//   - local: roster audit tail --follow in one process, the write made by
//     another process on the same SQLite file (a core of its own), which
//     the follower finds by polling the store (core.DefaultAuditPoll);
//   - remote: the tail through roster serve's stream (client.StreamAudit
//     over HTTP), the write made through the same server, which wakes
//     the stream at once;
//   - remote, written elsewhere: the same stream, the write made by
//     another process on the store (a local command, or another
//     replica), found by the server's poll.
//
// It reports the median, 95th percentile and largest delay in ms.
//
//	go test ./internal/client -run '^$' -bench AuditFollow -benchtime 20x
func BenchmarkAuditFollow(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "roster.db")
	open := func() *core.Core {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return core.New(db)
	}
	served, other := open(), open()
	admin := served.As(core.Actor{Name: "local:bench"})
	if _, err := admin.Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		b.Fatal(err)
	}
	tok, err := served.As(core.Actor{User: "owner@example.com"}).CreateToken(ctx, roster.CreateToken{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(api.New(served, api.Options{}))
	b.Cleanup(srv.Close)
	remote, err := client.New(srv.URL, client.Options{Token: tok.Token})
	if err != nil {
		b.Fatal(err)
	}
	elsewhere := other.As(core.Actor{Name: "local:bench"})
	cases := []struct {
		name   string
		follow roster.Service
		write  roster.Service
	}{
		{"local", other.As(core.Actor{Name: "local:tail"}), admin},
		{"remote", remote, remote},
		{"remote-written-elsewhere", remote, elsewhere},
	}
	n := 0
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			fctx, stop := context.WithCancel(ctx)
			defer stop()
			got := make(chan string, 16)
			last, err := c.follow.ListAudit(ctx, roster.AuditFilter{Limit: 1})
			if err != nil || len(last) != 1 {
				b.Fatal(last, err)
			}
			go func() {
				_ = c.follow.StreamAudit(fctx, roster.AuditStream{After: last[0].ID, Follow: true}, func(e roster.AuditEvent) error {
					got <- e.Target
					return nil
				})
			}()
			var delays []float64
			for b.Loop() {
				n++
				email := fmt.Sprintf("f%d@example.com", n)
				start := time.Now()
				if _, err := c.write.CreateUser(ctx, roster.CreateUser{Email: email}); err != nil {
					b.Fatal(err)
				}
				for target := range got {
					if target == email {
						break
					}
				}
				delays = append(delays, float64(time.Since(start).Microseconds())/1000)
			}
			slices.Sort(delays)
			b.ReportMetric(delays[len(delays)/2], "ms-p50")
			b.ReportMetric(delays[len(delays)*95/100], "ms-p95")
			b.ReportMetric(delays[len(delays)-1], "ms-max")
		})
	}
}
