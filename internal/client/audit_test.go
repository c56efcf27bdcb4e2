package client_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/storetest"
)

// restartable is roster serve on one loopback address, stopped and
// started again on the same store, as a restarted process would be.
type restartable struct {
	t    *testing.T
	db   store.Store
	addr string
	srv  *http.Server
}

func (r *restartable) start() {
	r.t.Helper()
	addr := r.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	// A core of its own, as a new process has: it polls the store for
	// events written elsewhere, here often, so that the test is quick.
	c := core.New(r.db, core.WithServer(""), core.WithAuditPoll(5*time.Millisecond))
	r.srv = &http.Server{Handler: api.New(c, api.Options{FailureRate: 1e9, Heartbeat: 10 * time.Millisecond})}
	go r.srv.Serve(ln)
}

// kill stops the server at once, cutting every stream it carries.
func (r *restartable) kill() {
	r.t.Helper()
	if err := r.srv.Close(); err != nil {
		r.t.Fatal(err)
	}
}

// TestAuditStreamSurvivesRestarts follows the audit stream while the
// server is killed and started again, and events are written before,
// while it is down, and after: the ids the client sees are exactly the
// ids written, in order, none twice.
func TestAuditStreamSurvivesRestarts(t *testing.T) {
	ctx := t.Context()
	db := storetest.SQLite(t)
	// The writer is another process on the store's host: a local core.
	local := core.New(db).As(core.Actor{Name: "local:test"})
	if _, err := local.Init(ctx, roster.InitParams{OwnerEmail: "owner@example.com", RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	tok, err := local.CreateToken(ctx, roster.CreateToken{User: "owner@example.com", Name: "tail"})
	if err != nil {
		t.Fatal(err)
	}
	srv := &restartable{t: t, db: db}
	srv.start()
	t.Cleanup(func() { srv.srv.Close() })
	cl, err := client.New("http://"+srv.addr, client.Options{Token: tok.Token})
	if err != nil {
		t.Fatal(err)
	}
	before, err := local.ListAudit(ctx, roster.AuditFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	from := before[0].ID

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := make(chan int64, 1000)
	done := make(chan error, 1)
	go func() {
		done <- cl.StreamAudit(sctx, roster.AuditStream{After: from, Follow: true}, func(e roster.AuditEvent) error {
			seen <- e.ID
			return nil
		})
	}()
	var got []int64
	// await reads what the stream carries until it has delivered id.
	await := func(id int64) {
		t.Helper()
		for !slices.Contains(got, id) {
			select {
			case e := <-seen:
				got = append(got, e)
			case err := <-done:
				t.Fatalf("the stream ended: %v", err)
			case <-time.After(30 * time.Second): // a guard against a hang, not a wait for time
				t.Fatalf("event %d never came; got %v", id, got)
			}
		}
	}
	n := 0
	write := func(count int) int64 {
		t.Helper()
		for range count {
			n++
			if _, err := local.CreateUser(ctx, roster.CreateUser{Email: fmt.Sprintf("u%d@example.com", n)}); err != nil {
				t.Fatal(err)
			}
		}
		last, err := local.ListAudit(ctx, roster.AuditFilter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return last[0].ID
	}
	await(write(5))
	for round := range 3 {
		srv.kill()
		write(3 + round) // while the server is down
		srv.start()
		await(write(4))
	}
	// Killed mid-burst: events written while the stream is carrying some.
	last := write(2)
	srv.kill()
	srv.start()
	last = max(last, write(3))
	await(last)
	cancel()
	<-done

	var want []int64
	err = db.Read(ctx, func(tx store.Tx) error {
		chain, err := tx.AuditChain(ctx, from, 10000)
		for _, c := range chain {
			want = append(want, c.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ids seen %v, want the ids written %v", got, want)
	}
}
