package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
)

// replicas is one PostgreSQL database served by several real roster
// serve processes, as behind a load balancer.
type replicas struct {
	t    *testing.T
	db   string
	urls []string
}

// startReplicas initialises a fresh database and starts n servers on it.
func startReplicas(t *testing.T, n int) *replicas {
	r := &replicas{t: t, db: pgtest.URL(t)}
	r.roster("init", "--owner-email", "root@example.com", "--random-password")
	for range n {
		r.urls = append(r.urls, r.serve())
	}
	return r
}

// roster runs one local command on the database and returns its stdout.
func (r *replicas) roster(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("roster", append([]string{"--db", r.db}, args...)...)
	cmd.Env = append(cmd.Environ(), "HOME="+r.t.TempDir(), "XDG_CONFIG_HOME="+r.t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatalf("roster %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// serve starts one roster serve on a free loopback port and returns its
// URL; env adds to its environment.
func (r *replicas) serve(env ...string) string {
	r.t.Helper()
	return r.serveWith([]string{"--addr", "127.0.0.1:0"}, env...)
}

// serveWith starts one roster serve with flags and returns its URL; env
// adds to its environment.
func (r *replicas) serveWith(flags []string, env ...string) string {
	r.t.Helper()
	cmd := exec.Command("roster", append([]string{"--db", r.db, "serve"}, flags...)...)
	cmd.Env = append(append(cmd.Environ(), "HOME="+r.t.TempDir()), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	url, _, err := listening(stderr, io.Discard)
	if err != nil {
		r.t.Fatal(err)
	}
	return url
}

// listening reads a roster serve's stderr, copying its lines to log, until
// the server says where it listens, and returns that URL. It reads on
// until the end, so that the server never blocks on its stderr; done is
// closed then.
func listening(stderr io.Reader, log io.Writer) (url string, done <-chan struct{}, err error) {
	found := make(chan string, 1)
	end := make(chan struct{})
	go func() {
		defer close(end)
		defer close(found)
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			fmt.Fprintln(log, sc.Text())
			if _, url, ok := strings.Cut(sc.Text(), "listening on "); ok && !said {
				said = true
				found <- url
			}
		}
		_, _ = io.Copy(log, stderr)
	}()
	select {
	case url, ok := <-found:
		if !ok {
			return "", end, errors.New("roster serve ended before it said where it listens")
		}
		return url, end, nil
	case <-time.After(30 * time.Second):
		return "", end, errors.New("roster serve did not say where it listens within 30s")
	}
}

// token mints a token for user on the store's host.
func (r *replicas) token(user string) string {
	r.t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(r.roster("token", "create", "--user", user, "--name", "replicas", "-o", "json")), &tok); err != nil {
		r.t.Fatal(err)
	}
	return tok.Token
}

// as is a client of replica i acting with tok.
func (r *replicas) as(i int, tok string) *client.Client {
	r.t.Helper()
	c, err := client.New(r.urls[i%len(r.urls)], client.Options{Token: tok})
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// TestReplicas checks the rules whose races span servers, with three
// roster serve processes on one PostgreSQL database and the clients spread
// across them.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers")
	}
	r := startReplicas(t, 3)
	ctx := context.Background()
	root := r.token("root@example.com")

	t.Run("R2 two owners deactivating each other leave one", func(t *testing.T) {
		prev := "root@example.com"
		for round := range 5 {
			a, b := fmt.Sprintf("a%d@example.com", round), fmt.Sprintf("b%d@example.com", round)
			r.roster("user", "create", a, "--role", "owner", "--no-password", "-q")
			r.roster("user", "create", b, "--role", "owner", "--no-password", "-q")
			// The last round's owner steps aside, so a and b are the only
			// active owners.
			r.roster("user", "set-role", prev, "admin", "-q")
			ta, tb := r.token(a), r.token(b)
			var ok atomic.Int32
			var wg sync.WaitGroup
			for i, pair := range [][2]string{{ta, b}, {tb, a}} {
				wg.Go(func() {
					if _, err := r.as(i, pair[0]).DeactivateUser(ctx, pair[1], ""); err == nil {
						ok.Add(1)
					} else if !errors.Is(err, roster.ErrForbidden) && !errors.Is(err, roster.ErrUnauthenticated) {
						t.Errorf("round %d: %v", round, err)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 1 {
				t.Fatalf("round %d: %d deactivations succeeded; want exactly 1", round, ok.Load())
			}
			owners := strings.Fields(r.roster("user", "list", "--role", "owner", "--status", "active", "-o", "name"))
			if len(owners) != 1 {
				t.Fatalf("round %d: active owners %v; want one", round, owners)
			}
			prev = owners[0]
		}
	})

	t.Run("R9 accepts beyond the seat limit fail", func(t *testing.T) {
		active := len(strings.Fields(r.roster("user", "list", "--status", "active", "--all", "-o", "name")))
		r.roster("settings", "set", "seats", fmt.Sprint(active+3))
		var toks []string
		for i := range 10 {
			toks = append(toks, strings.TrimSpace(r.roster("invite", "create", fmt.Sprintf("seat%d@example.com", i))))
		}
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i, tok := range toks {
			wg.Go(func() {
				_, err := r.as(i, "").AcceptInvitation(ctx, roster.AcceptInvitation{Token: tok, Password: "a-long-passphrase-" + fmt.Sprint(i)})
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, roster.ErrConflict):
					t.Errorf("accept %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 3 {
			t.Fatalf("%d accepts succeeded with 3 seats free; want 3", ok.Load())
		}
		r.roster("settings", "set", "seats", "0")
	})

	t.Run("R11 16 concurrent accepts of one invitation yield one", func(t *testing.T) {
		tok := strings.TrimSpace(r.roster("invite", "create", "once@example.com"))
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				_, err := r.as(i, "").AcceptInvitation(ctx, roster.AcceptInvitation{Token: tok, Password: "a-long-passphrase-" + fmt.Sprint(i)})
				if err == nil {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("%d accepts succeeded; want exactly 1", ok.Load())
		}
	})

	t.Run("a token revoked on one replica is refused by the others at once", func(t *testing.T) {
		r.roster("user", "create", "tok@example.com", "--role", "viewer", "--no-password", "-q")
		tok := r.token("tok@example.com")
		for i := range r.urls {
			if _, err := r.as(i, tok).Whoami(ctx); err != nil {
				t.Fatalf("replica %d before revoking: %v", i, err)
			}
		}
		me, err := r.as(0, tok).Whoami(ctx)
		if err != nil {
			t.Fatal(err)
		}
		list, err := r.as(0, tok).ListTokens(ctx, roster.TokenFilter{})
		if err != nil || len(list) != 1 {
			t.Fatalf("tokens of %s: %v %v", me.Name, list, err)
		}
		if _, err := r.as(0, tok).RevokeToken(ctx, list[0].ID); err != nil {
			t.Fatal(err)
		}
		for i := range r.urls {
			if _, err := r.as(i, tok).Whoami(ctx); !errors.Is(err, roster.ErrUnauthenticated) {
				t.Errorf("replica %d right after the revocation: %v; want not authenticated", i, err)
			}
		}
	})

	t.Run("no acknowledged write is lost", func(t *testing.T) {
		const clients, each = 9, 12
		var acked sync.Map
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				cl := r.as(c, root)
				for i := range each {
					email := fmt.Sprintf("w%d-%d@example.com", c, i)
					if _, err := cl.CreateUser(ctx, roster.CreateUser{Email: email, Roles: []string{roster.RoleViewer}}); err == nil {
						acked.Store(email, true)
					} else {
						t.Errorf("create %s: %v", email, err)
					}
				}
			})
		}
		wg.Wait()
		have := map[string]bool{}
		for _, e := range strings.Fields(r.roster("user", "list", "--all", "-o", "name")) {
			have[e] = true
		}
		n := 0
		acked.Range(func(k, _ any) bool {
			n++
			if !have[k.(string)] {
				t.Errorf("acknowledged %s is missing", k)
			}
			return true
		})
		if n != clients*each {
			t.Errorf("%d creates acknowledged; want %d", n, clients*each)
		}
	})
}
