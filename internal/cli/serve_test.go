package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/testkit"
	"github.com/roster-dev/roster/internal/wire"
)

// TestShutdownProgress: an import sent progress (102 Processing) when
// the server is told to stop is no different from any request in
// flight: it gets the grace, then is cancelled, rolled back and answered
// 503 (issue 22).
func TestShutdownProgress(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := testkit.NewGate()
	defer g.Release()
	c := core.New(g.Store(db))
	const owner = "owner@example.com"
	if _, err := c.As(core.Actor{Name: "local:test"}).Init(ctx, roster.InitParams{OwnerEmail: owner, RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.As(core.Actor{User: owner}).CreateToken(ctx, roster.CreateToken{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}

	// roster serve's server, but for a 102 every millisecond: many go out
	// before the stop.
	o := apiOptions(api.Options{})
	o.Progress = time.Millisecond
	base, cancelBase := context.WithCancelCause(context.Background())
	defer cancelBase(nil)
	srv := httpServer(api.New(c, o), slog.New(slog.DiscardHandler), base)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)

	informed := make(chan struct{}, 1)
	trace := &httptrace.ClientTrace{Got1xxResponse: func(int, textproto.MIMEHeader) error {
		select {
		case informed <- struct{}{}:
		default:
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "POST",
		"http://"+ln.Addr().String()+wire.Prefix+"/import?format=csv", strings.NewReader(testkit.UsersCSV("import", 1100))) // past one chunk: the gate holds the second
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Idempotency-Key", "roster-0123456789abcdef")
	req.Header.Set(wire.ProgressHeader, "1")
	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, string(body), err}
	}()
	for _, ch := range []<-chan struct{}{g.Holding(), informed} {
		select {
		case <-ch:
		case a := <-answered:
			t.Fatalf("the import was answered before the stop: %d %s %v", a.status, a.body, a.err)
		case <-time.After(30 * time.Second):
			t.Fatal("the import was not held, sending progress, within 30s")
		}
	}

	var errOut bytes.Buffer
	if err := shutdown(srv, 50*time.Millisecond, cancelBase, &IOStreams{ErrOut: &errOut}); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// The grace ran out with the import still at work, and cancelling it
	// ended it.
	if !strings.Contains(errOut.String(), "cancelling the requests still in flight") {
		t.Errorf("shutdown did not cancel the import; it said:\n%s", errOut.String())
	}
	var a answer
	select {
	case a = <-answered:
	case <-time.After(30 * time.Second):
		t.Fatal("the import was not answered within 30s of the shutdown")
	}
	if a.err != nil || a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "shutting down") {
		t.Fatalf("the import in flight: %d %s %v; want 503, the server shutting down", a.status, a.body, a.err)
	}
	if _, err := c.As(core.Actor{Name: "local:test"}).GetUser(ctx, "import00000@example.com"); !errors.Is(err, roster.ErrNotFound) {
		t.Errorf("a user of the cancelled import: %v; want none committed", err)
	}
}
