package client_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/storetest"
	"github.com/roster-dev/roster/internal/testkit"
)

// server is a real API server over a fresh store, and a token of its
// owner.
func server(t *testing.T) (*core.Core, string, string) {
	c := core.New(storetest.SQLite(t))
	admin := c.As(core.Actor{Name: "local:test"})
	if _, err := admin.Init(t.Context(), roster.InitParams{OwnerEmail: owner, RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateToken(t.Context(), roster.CreateToken{User: owner, Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(c, api.Options{}))
	t.Cleanup(srv.Close)
	return c, srv.URL, tok.Token
}

// TestWriteAnswerCut: when the connection is cut after the server did a
// write, the client sends it again with its key and reports what really
// happened, the write done once.
func TestWriteAnswerCut(t *testing.T) {
	c, url, tok := server(t)
	proxy := testkit.NewProxy(t, strings.TrimPrefix(url, "http://"))
	cl, err := client.New(proxy.URL(), client.Options{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	admin := c.As(core.Actor{Name: "local:test"})

	proxy.CutAnswers(1)
	res, err := cl.CreateUser(t.Context(), roster.CreateUser{Email: "ann@example.com", RandomPassword: true})
	if err != nil || !res.Changed || res.Password == "" || proxy.Cut() != 1 {
		t.Fatalf("create with its answer cut: %+v, %v, %d cut; want it reported done", res, err, proxy.Cut())
	}
	// The password answered is the one set: the first answer, replayed.
	if _, err := c.SignIn(t.Context(), "ann@example.com", res.Password, "check"); err != nil {
		t.Fatalf("the password answered is not ann's: %v", err)
	}

	proxy.CutAnswers(1)
	plan, err := cl.Import(t.Context(), strings.NewReader("email,name\nbob@example.com,Bob\ncat@example.com,Cat\n"), roster.ImportParams{Format: "csv"})
	if err != nil || len(plan.Changes) != 2 || proxy.Cut() != 2 {
		t.Fatalf("import with its answer cut: %+v, %v; want its plan", plan, err)
	}
	for _, email := range []string{"ann@example.com", "bob@example.com", "cat@example.com"} {
		events, err := admin.ListAudit(t.Context(), roster.AuditFilter{Action: "user.create", Target: email, Limit: 100})
		if err != nil || len(events) != 1 {
			t.Fatalf("%d user.create events for %s, %v; want 1, each write done once", len(events), email, err)
		}
	}

	// With every answer cut, the write is reported as of unknown outcome.
	// (net/http itself resends a request with an Idempotency-Key once
	// when a kept-alive connection fails: hence more than two cuts.)
	proxy.CutAnswers(100)
	_, err = cl.CreateProject(t.Context(), roster.CreateProject{Slug: "apollo"})
	if !errors.Is(err, roster.ErrUnavailable) || !strings.Contains(roster.Hint(err), "may or may not") {
		t.Fatalf("a write cut every time: %v (hint %q); want unavailable, outcome unknown", err, roster.Hint(err))
	}
	proxy.CutAnswers(0)
	if _, err := admin.GetProject(t.Context(), "apollo"); err != nil {
		t.Fatalf("the project whose answers were all cut: %v; want it made", err)
	}
}

// TestIdempotencyKeys: every write carries a key of its own, sent again
// unchanged when its connection fails; reads carry none.
func TestIdempotencyKeys(t *testing.T) {
	var mu sync.Mutex
	keys := map[string][]string{} // by method and path
	drop := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys[r.Method+" "+r.URL.Path] = append(keys[r.Method+" "+r.URL.Path], r.Header.Get("Idempotency-Key"))
		dropThis := drop && r.Method == "DELETE"
		drop = drop && !dropThis
		mu.Unlock()
		if dropThis { // the connection fails before any answer
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	cl, err := client.New(srv.URL, client.Options{Token: "roster_pat_test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cl.CreateProject(ctx, roster.CreateProject{Slug: "a"})
	cl.CreateProject(ctx, roster.CreateProject{Slug: "a"})
	cl.GetProject(ctx, "a")
	if _, err := cl.DeleteProject(ctx, "a"); err != nil {
		t.Fatalf("delete, its first connection failed: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	posts, gets, deletes := keys["POST /api/v1/projects"], keys["GET /api/v1/projects/a"], keys["DELETE /api/v1/projects/a"]
	if len(posts) != 2 || posts[0] == "" || posts[1] == "" || posts[0] == posts[1] || len(posts[0]) < 16 {
		t.Errorf("two creates sent keys %q: want two keys, different", posts)
	}
	if len(gets) != 1 || gets[0] != "" {
		t.Errorf("a read sent keys %q, want none", gets)
	}
	if len(deletes) != 2 || deletes[0] == "" || deletes[0] != deletes[1] {
		t.Errorf("a delete sent twice sent keys %q, want the same twice", deletes)
	}
}

// TestResendRefused: a write whose first answer was lost, and whose
// resend the server could not serve (503: its database down), is
// reported as of unknown outcome, not as failed: the first send may have
// been done.
func TestResendRefused(t *testing.T) {
	var mu sync.Mutex
	sends := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sends++
		first := sends == 1
		mu.Unlock()
		if first { // done, but the answer never arrives
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":"unavailable","message":"cannot reach PostgreSQL database roster: connection refused"}}`))
	}))
	t.Cleanup(srv.Close)
	cl, err := client.New(srv.URL, client.Options{Token: "roster_pat_test"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.CreateProject(t.Context(), roster.CreateProject{Slug: "a"})
	mu.Lock()
	defer mu.Unlock()
	if !errors.Is(err, roster.ErrUnavailable) || !strings.Contains(roster.Hint(err), "may or may not") || sends != 2 {
		t.Fatalf("a write sent twice, the resend refused with 503: %v (hint %q, %d sends); want unavailable, outcome unknown", err, roster.Hint(err), sends)
	}
}
