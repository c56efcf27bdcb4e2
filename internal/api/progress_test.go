package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/testkit"
	"github.com/roster-dev/roster/internal/wire"
)

// The limits of TestProgress's servers: short enough for a quick test,
// long enough for one under the race detector on a busy machine, where
// a request not sent progress must still have its 503 written within
// the write timeout.
const (
	progressRequestTimeout = 150 * time.Millisecond
	progressWriteTimeout   = time.Second
	progressEvery          = 10 * time.Millisecond
)

// progressServer serves a fresh store, its imports and applies held by
// a gate, with TestProgress's limits: over HTTP/2 and TLS when h2.
func progressServer(t *testing.T, h2 bool) (*env, *testkit.Gate, *httptest.Server) {
	t.Helper()
	db, err := sqlite.Open(ctx, t.TempDir()+"/roster.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g := testkit.NewGate()
	t.Cleanup(g.Release)
	e := newEnvOn(t, g.Store(db), api.Options{RequestTimeout: progressRequestTimeout, Progress: progressEvery, WriteTimeout: progressWriteTimeout}, nil)
	srv := serveTimed(t, e.h, h2, func(s *http.Server) { s.WriteTimeout = progressWriteTimeout })
	return e, g, srv
}

// serveTimed serves h on loopback, over HTTP/2 and TLS when h2, with the
// http.Server's time limits set by limit.
func serveTimed(t *testing.T, h http.Handler, h2 bool, limit func(*http.Server)) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	limit(srv.Config)
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// progressRows is how many users each request of TestProgress brings:
// more than one chunk of look-ups.
const progressRows = 1100

// informed is what a client saw of a request's informational responses.
type informed struct {
	mu       sync.Mutex
	all      int      // every one
	count    int      // those while the work was held
	progress []string // the Roster-Progress of each
	// start is when the first came, and heldFor how long after it the
	// last needed did.
	start   time.Time
	heldFor time.Duration
}

// TestProgress: an import or apply that asks for progress outlasts both
// the server's request timeout and its connection's write timeout, kept
// alive by 102 Processing responses that say how far it got, and is
// answered as it would have been without them: 200, its users committed,
// and the same answer kept for its idempotency key. Not asked, the same
// request is cut off at the request timeout with a 503, as every other
// request is (issue 22).
func TestProgress(t *testing.T) {
	// The work is held until the client has seen this many 102s: sent
	// one an interval at most, they outlast both timeouts.
	const held = int(progressWriteTimeout/progressEvery) + 2
	csv := testkit.UsersCSV("row", progressRows)
	var manifest strings.Builder
	manifest.WriteString("users:\n")
	for i := range progressRows {
		fmt.Fprintf(&manifest, "- {email: %s, name: User %d}\n", rowEmail(i), i)
	}
	tests := []struct {
		name, path, body string
		org              bool // in an organisation of its own
		h2               bool // over HTTP/2 (and TLS)
		ask, key         bool
		status           int
		stage            string // the progress told while the work is held
	}{
		{"import, asked, with a key", "/api/v1/import?format=csv", csv, false, false, true, true, 200, "stage=applying, done=1024, total=1100"},
		{"import, asked, no key", "/api/v1/import?format=csv", csv, false, false, true, false, 200, "stage=applying, done=1024, total=1100"},
		{"apply in an organisation, asked", "/api/v1/orgs/acme/apply", manifest.String(), true, false, true, true, 200, "stage=applying, done=1024, total=1100"},
		{"import, asked, over HTTP/2", "/api/v1/import?format=csv", csv, false, true, true, true, 200, "stage=applying, done=1024, total=1100"},
		{"import, not asked", "/api/v1/import?format=csv", csv, false, false, false, true, 503, ""},
		{"apply in an organisation, not asked", "/api/v1/orgs/acme/apply", manifest.String(), true, false, false, false, 503, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, g, srv := progressServer(t, tt.h2)
			if tt.org {
				if _, err := e.admin().CreateOrg(ctx, roster.CreateOrg{Slug: "acme", OwnerEmail: "ann@example.com"}); err != nil {
					t.Fatal(err)
				}
			}

			// The 102s counted are those sent while the work is held.
			var seen informed
			trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				seen.mu.Lock()
				defer seen.mu.Unlock()
				if code != http.StatusProcessing {
					t.Errorf("informational %d; want 102", code)
				}
				seen.all++
				select {
				case <-g.Holding():
				default:
					return nil
				}
				seen.count++
				if seen.count == 1 {
					seen.start = time.Now()
				}
				seen.progress = append(seen.progress, h.Get(wire.ProgressHeader))
				// A ticker may send two 102s close together after a late
				// one, so the count alone can fall short of the timeouts
				// by a few milliseconds: the time held is checked too.
				if d := time.Since(seen.start); seen.heldFor == 0 && seen.count >= held && d > max(progressWriteTimeout, progressRequestTimeout) {
					seen.heldFor = d
					g.Release()
				}
				return nil
			}}
			send := func() (*http.Response, string) {
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "POST", srv.URL+tt.path, strings.NewReader(tt.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+e.owner)
				if tt.ask {
					req.Header.Set(wire.ProgressHeader, "1")
				}
				if tt.key {
					req.Header.Set("Idempotency-Key", key1)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatalf("POST %s: %v", tt.path, err)
				}
				defer resp.Body.Close()
				if want := map[bool]int{false: 1, true: 2}[tt.h2]; resp.ProtoMajor != want {
					t.Fatalf("answered over HTTP/%d; want HTTP/%d", resp.ProtoMajor, want)
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("reading the answer: %v", err)
				}
				return resp, string(body)
			}

			resp, body := send()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d; want %d\n%s", resp.StatusCode, tt.status, body)
			}
			if v := resp.Header.Get(wire.ProgressHeader); v != "" {
				t.Errorf("the answer carries %s: %q", wire.ProgressHeader, v)
			}
			if !tt.ask {
				if seen.all != 0 {
					t.Errorf("%d informational responses to a request that did not ask", seen.all)
				}
				if !strings.Contains(body, "did not finish within") {
					t.Errorf("the 503 does not say why: %s", body)
				}
				return
			}
			if seen.count < held {
				t.Fatalf("%d informational responses; want %d or more", seen.count, held)
			}
			if seen.heldFor < max(progressWriteTimeout, progressRequestTimeout) {
				// Not a measure of speed: the test's own premise.
				t.Fatalf("the work was held %v, within the timeouts: the test proves nothing", seen.heldFor)
			}
			if said := seen.progress[held-1]; said != tt.stage {
				t.Errorf("the 102s while the work was held say %q; want %q", said, tt.stage)
			}
			if !strings.Contains(body, `"line":1100`) {
				t.Errorf("the plan does not reach the last row:\n%.300s", body)
			}
			svc := e.admin()
			if tt.org {
				svc = core.InOrg(svc, "acme")
			}
			for _, i := range []int{0, progressRows - 1} {
				if _, err := svc.GetUser(ctx, rowEmail(i)); err != nil {
					t.Errorf("%s was not committed: %v", rowEmail(i), err)
				}
			}
			if strings.Contains(e.log.String(), "status=102") {
				t.Errorf("a 102 was logged as the request's status:\n%s", e.log.String())
			}
			if tt.key {
				// The answer kept for the key is the one given, without 102s.
				again, replay := send()
				if again.StatusCode != 200 || replay != body || again.Header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("sent again with its key: %d %q, replayed %q; want 200 and the same answer",
						again.StatusCode, replay[:min(len(replay), 200)], again.Header.Get("Idempotent-Replayed"))
				}
			}
		})
	}
}

// rowEmail is the email of row i of TestProgress's files.
func rowEmail(i int) string { return testkit.UserEmail("row", i) }

// TestProgressNotForHTTP10: HTTP/1.0 has no 1xx responses, so a request
// made with it is sent none, even asking, and has the request timeout.
func TestProgressNotForHTTP10(t *testing.T) {
	e, _, srv := progressServer(t, false)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := testkit.UsersCSV("row", progressRows)
	fmt.Fprintf(conn, "POST /api/v1/import?format=csv HTTP/1.0\r\nHost: roster\r\nAuthorization: Bearer %s\r\n%s: 1\r\nContent-Length: %d\r\n\r\n%s",
		e.owner, wire.ProgressHeader, len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(raw), "did not finish within") {
		t.Fatalf("first response %d %s; want the 503 of the request timeout, and no 102 before it", resp.StatusCode, raw)
	}
}
