package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// maxStatements is DESIGN.md's budget for an authenticated GET of one
// user: SQL statements run, transaction control (BEGIN, COMMIT) aside.
const maxStatements = 3

// TestGetUserStatements counts the statements one authenticated GET
// /api/v1/users/{id} runs, once the server is warm (the token's last use
// recorded, the catalog cached): a deterministic guard on the server's
// cost, where a timing would be noise.
func TestGetUserStatements(t *testing.T) {
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := core.New(db, core.WithServer(""))
	admin := c.As(core.Actor{Name: "local:test"})
	if _, err := admin.Init(ctx, roster.InitParams{OwnerEmail: ownerEmail, Password: ownerPassword}); err != nil {
		t.Fatal(err)
	}
	target, err := admin.CreateUser(ctx, roster.CreateUser{Email: "ann@example.com", Roles: []string{roster.RoleManager},
		Links: map[string]string{"github": "ann"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateToken(ctx, roster.CreateToken{User: ownerEmail, Name: "count"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(c, api.Options{}))
	t.Cleanup(srv.Close)
	get := func() {
		t.Helper()
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/users/%d", srv.URL, target.User.ID), nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET user: %s", resp.Status)
		}
	}
	get()
	before := db.Statements()
	get()
	if n := db.Statements() - before; n > maxStatements {
		t.Errorf("an authenticated GET of one user ran %d statements; the budget is %d", n, maxStatements)
	} else {
		t.Logf("an authenticated GET of one user ran %d statements", n)
	}
}
