package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/wire"
)

// keyed sends one request with an Idempotency-Key.
func (e *env) keyed(method, path, token, key string, body any) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp, raw
}

func (e *env) userCount() int {
	e.t.Helper()
	n := 0
	page, err := e.admin().ListUsers(ctx, roster.UserFilter{Limit: roster.MaxPageSize})
	if err != nil {
		e.t.Fatal(err)
	}
	n += len(page.Items)
	return n
}

const key1 = "5f0c1a3e-9a41-4c52-b1de-3f6f0c8c2a11"

// TestIdempotentReplay: a write sent again with its key is answered as
// the first time, marked as a replay, and not done again.
func TestIdempotentReplay(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	req := wire.CreateUser{Email: "ann@example.com", RandomPassword: true}
	first, raw1 := e.keyed("POST", "/api/v1/users", e.owner, key1, req)
	if first.StatusCode != 200 || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %s, replayed %q", first.StatusCode, raw1, first.Header.Get("Idempotent-Replayed"))
	}
	users, events := e.userCount(), len(e.auditIDs())
	again, raw2 := e.keyed("POST", "/api/v1/users", e.owner, key1, req)
	if again.StatusCode != 200 || again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(raw1, raw2) {
		t.Fatalf("again: %d %s, replayed %q; want the first answer, %s", again.StatusCode, raw2, again.Header.Get("Idempotent-Replayed"), raw1)
	}
	if e.userCount() != users || len(e.auditIDs()) != events {
		t.Fatal("the request was done again")
	}
	// Without the key the same request is a new one, and conflicts.
	e.fails("POST", "/api/v1/users", e.owner, req, 409, wire.CodeConflict)
}

// TestIdempotentKeyReused: a key sent with another request is refused
// with 422, whatever differs; the first answer stays.
func TestIdempotentKeyReused(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	if resp, raw := e.keyed("POST", "/api/v1/projects", e.owner, key1, wire.CreateProject{Slug: "apollo"}); resp.StatusCode != 200 {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/projects", wire.CreateProject{Slug: "gemini"}},
		{"POST", "/api/v1/projects?x=1", wire.CreateProject{Slug: "apollo"}},
		{"PATCH", "/api/v1/projects/apollo", wire.UpdateProject{}},
	} {
		resp, raw := e.keyed(c.method, c.path, e.owner, key1, c.body)
		var eb wire.ErrorBody
		json.Unmarshal(raw, &eb)
		if resp.StatusCode != http.StatusUnprocessableEntity || eb.Error.Code != wire.CodeConflict || !strings.Contains(eb.Error.Message, "Idempotency-Key") {
			t.Errorf("%s %s with a used key: %d %s; want 422 conflict", c.method, c.path, resp.StatusCode, raw)
		}
	}
	if _, err := e.admin().GetProject(ctx, "gemini"); err == nil {
		t.Error("a request refused for its key was done")
	}
}

// TestIdempotentPerUser: keys are per user: another user's request with
// the same key is theirs, not a replay of the first user's.
func TestIdempotentPerUser(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	bob := e.createUser("bob@example.com", roster.RoleAdmin)
	resp, _ := e.keyed("POST", "/api/v1/projects", e.owner, key1, wire.CreateProject{Slug: "apollo"})
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	resp, raw := e.keyed("POST", "/api/v1/projects", bob, key1, wire.CreateProject{Slug: "apollo"})
	if resp.StatusCode != 409 || resp.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("bob with the owner's key: %d %s; want his own answer, 409", resp.StatusCode, raw)
	}
}

// TestIdempotentErrorsNotRecorded: a request that changed nothing (an
// error, or a no-op) records nothing: sent again, it runs again.
func TestIdempotentErrorsNotRecorded(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	ok[roster.Project](e, "POST", "/api/v1/projects", e.owner, wire.CreateProject{Slug: "apollo"})
	req := wire.CreateProject{Slug: "apollo"}
	if resp, raw := e.keyed("POST", "/api/v1/projects", e.owner, key1, req); resp.StatusCode != 409 {
		t.Fatalf("a taken slug: %d %s", resp.StatusCode, raw)
	}
	if _, err := e.admin().DeleteProject(ctx, "apollo"); err != nil {
		t.Fatal(err)
	}
	resp, raw := e.keyed("POST", "/api/v1/projects", e.owner, key1, req)
	if resp.StatusCode != 200 || resp.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("sent again after the conflict went: %d %s; want it done", resp.StatusCode, raw)
	}
}

// TestIdempotentKeys: a malformed key is refused before anything is
// done; a read ignores any key.
func TestIdempotentKeys(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	for _, key := range []string{"short", strings.Repeat("k", 256), "has a space in it ok", "naïve-key-0123456789"} {
		resp, raw := e.keyed("POST", "/api/v1/projects", e.owner, key, wire.CreateProject{Slug: "apollo"})
		if resp.StatusCode != 400 || !strings.Contains(string(raw), "Idempotency-Key") {
			t.Errorf("key %q: %d %s; want 400", key, resp.StatusCode, raw)
		}
	}
	if _, err := e.admin().GetProject(ctx, "apollo"); err == nil {
		t.Error("a request with a bad key was done")
	}
	if resp, raw := e.keyed("GET", "/api/v1/projects", e.owner, "short", nil); resp.StatusCode != 200 {
		t.Errorf("GET with a key: %d %s", resp.StatusCode, raw)
	}
}

// TestIdempotentSecretsSealed: an answer holding a secret shown once (a
// new token) is given again to the same request, but the store keeps it
// encrypted under the key, and neither the key nor the secret in clear.
func TestIdempotentSecretsSealed(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	_, raw1 := e.keyed("POST", "/api/v1/tokens", e.owner, key1, wire.CreateToken{Name: "ci"})
	_, raw2 := e.keyed("POST", "/api/v1/tokens", e.owner, key1, wire.CreateToken{Name: "ci"})
	var tok roster.APIToken
	if err := json.Unmarshal(raw1, &tok); err != nil || tok.Token == "" || !bytes.Equal(raw1, raw2) {
		t.Fatalf("token answers %s and %s", raw1, raw2)
	}
	db, err := sql.Open("sqlite", "file:"+e.db.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	rows, err := db.Query(`SELECT key_hash, request_hash, body FROM idempotency`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		n++
		var k, r, b []byte
		if err := rows.Scan(&k, &r, &b); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{tok.Token, key1, "roster_pat_"} {
			if bytes.Contains(k, []byte(secret)) || bytes.Contains(r, []byte(secret)) || bytes.Contains(b, []byte(secret)) {
				t.Errorf("the store holds %q in clear", secret)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d outcomes stored, want 1", n)
	}
}

// TestIdempotentAnonymous: routes without a token take keys too (a
// sign-in makes a token): the same request gets the same token back.
func TestIdempotentAnonymous(t *testing.T) {
	e := newEnv(t, api.Options{}, nil)
	in := wire.SignIn{Email: ownerEmail, Password: ownerPassword, Name: "laptop"}
	_, raw1 := e.keyed("POST", "/api/v1/login", "", key1, in)
	resp, raw2 := e.keyed("POST", "/api/v1/login", "", key1, in)
	if resp.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(raw1, raw2) {
		t.Fatalf("sign-in sent again: %s, then %s", raw1, raw2)
	}
	// A wrong password with the key is another request, not a way in.
	in.Password = "Not-The-Password-0000"
	if resp, _ := e.keyed("POST", "/api/v1/login", "", key1, in); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("another password with the key: %d, want 422", resp.StatusCode)
	}
}

// TestRequestTimeout: work not done within the server's request timeout
// is cancelled and answered 503, saying so.
func TestRequestTimeout(t *testing.T) {
	e := newEnv(t, api.Options{RequestTimeout: 200 * time.Millisecond}, func(b api.Backend) api.Backend { return slowBackend{b} })
	d := e.fails("POST", "/api/v1/projects", e.owner, wire.CreateProject{Slug: "apollo"}, 503, wire.CodeUnavailable)
	if !strings.Contains(d.Message, "did not finish within") {
		t.Fatalf("message %q", d.Message)
	}
}

// slowBackend's services never finish creating a project: they wait for
// the request to be cancelled.
type slowBackend struct{ api.Backend }

func (b slowBackend) Authenticate(ctx context.Context, bearer string) (roster.Service, error) {
	svc, err := b.Backend.Authenticate(ctx, bearer)
	return slowService{svc}, err
}

type slowService struct{ roster.Service }

func (slowService) CreateProject(ctx context.Context, _ roster.CreateProject) (roster.Project, error) {
	<-ctx.Done()
	return roster.Project{}, ctx.Err()
}

// TestRequestTimeoutCommitUnknown: a COMMIT whose answer was lost as the
// request's time ran out is not answered as cancelled: it may have been
// made, and the answer says so.
func TestRequestTimeoutCommitUnknown(t *testing.T) {
	e := newEnv(t, api.Options{RequestTimeout: 200 * time.Millisecond}, func(b api.Backend) api.Backend { return lostCommitBackend{b} })
	d := e.fails("POST", "/api/v1/projects", e.owner, wire.CreateProject{Slug: "apollo"}, 503, wire.CodeUnavailable)
	if !strings.Contains(d.Message, "may or may not") || strings.Contains(d.Message, "did not finish within") {
		t.Fatalf("message %q; want the commit's outcome unknown", d.Message)
	}
}

// lostCommitBackend's services lose the answer to the COMMIT of each
// project they create, once the request is cancelled.
type lostCommitBackend struct{ api.Backend }

func (b lostCommitBackend) Authenticate(ctx context.Context, bearer string) (roster.Service, error) {
	svc, err := b.Backend.Authenticate(ctx, bearer)
	return lostCommitService{svc}, err
}

type lostCommitService struct{ roster.Service }

func (lostCommitService) CreateProject(ctx context.Context, _ roster.CreateProject) (roster.Project, error) {
	<-ctx.Done()
	return roster.Project{}, fmt.Errorf("create project apollo: %w", &store.CommitUnknown{Err: roster.Errorf(roster.ErrUnavailable,
		"lost the connection to the database while committing: the change may or may not have been made")})
}
