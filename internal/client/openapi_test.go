package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/api/openapitest"
	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/storetest"
)

// TestProvisioningMatchesOpenAPI: the calls the contract suite does not
// make, import, apply and export, sent by the client to a real server,
// are what docs/openapi.yaml says, both ways; and so is apply's manifest
// sent as JSON, which the client never sends but the server takes.
func TestProvisioningMatchesOpenAPI(t *testing.T) {
	ctx := context.Background()
	url, token, hc := checkedServer(t, "openapi")
	cl, err := client.New(url, client.Options{Token: token, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}

	csv := "email,name,roles,projects\nann@example.com,Ann,member,\nbob@example.com,Bob,viewer,\n"
	for _, dry := range []bool{true, false} {
		if _, err := cl.Import(ctx, strings.NewReader(csv), roster.ImportParams{Format: "csv", DryRun: dry}); err != nil {
			t.Fatalf("import csv (dry run %v): %v", dry, err)
		}
	}
	jsonl := `{"email":"cy@example.com","name":"Cy","roles":["member"]}` + "\n"
	if _, err := cl.Import(ctx, strings.NewReader(jsonl), roster.ImportParams{Format: "jsonl"}); err != nil {
		t.Fatalf("import jsonl: %v", err)
	}
	// A bad file: 400, with every bad line in lines.
	_, err = cl.Import(ctx, strings.NewReader("email,name\nnot-an-email,X\n,Y\n"), roster.ImportParams{Format: "csv"})
	var ie *roster.InputErrors
	if !errors.As(err, &ie) || len(ie.Lines) != 2 {
		t.Fatalf("import of a bad file: %v, want 2 bad lines", err)
	}

	manifest := "projects:\n  - slug: apollo\n    name: Apollo\nusers:\n  - email: ann@example.com\n    name: Ann\n    roles: [member]\n    projects: [apollo]\n"
	for _, dry := range []bool{true, false} {
		if _, err := cl.Apply(ctx, strings.NewReader(manifest), roster.ApplyParams{DryRun: dry}); err != nil {
			t.Fatalf("apply (dry run %v): %v", dry, err)
		}
	}
	if _, err := cl.Apply(ctx, strings.NewReader("users:\n  - email: ann@example.com\n    colour: blue\n"), roster.ApplyParams{}); !errors.As(err, &ie) {
		t.Fatalf("apply of a bad file: %v, want bad lines", err)
	}
	// The same manifest in JSON, as a script may send it.
	body := `{"projects":[{"slug":"apollo","name":"Apollo"}],"users":[{"email":"ann@example.com","name":"Ann","roles":["member"],"projects":["apollo"]}]}`
	req, err := http.NewRequest("POST", url+"/api/v1/apply?dry_run=true", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("apply with a JSON manifest: %d", resp.StatusCode)
	}

	n := 0
	if err := cl.Export(ctx, func(roster.UserRecord) error { n++; return nil }); err != nil || n != 4 {
		t.Fatalf("export: %d users, %v; want 4", n, err)
	}
}

// checkedServer starts a real server over an initialised SQLite store
// and returns its URL, a token of its owner named name, and an HTTP
// client holding every request and answer to docs/openapi.yaml.
func checkedServer(t *testing.T, name string) (url, token string, hc *http.Client) {
	t.Helper()
	ctx := context.Background()
	v, err := openapitest.New()
	if err != nil {
		t.Fatal(err)
	}
	c := core.New(storetest.SQLite(t), core.WithServer(""))
	admin := c.As(core.Actor{Name: "local:test"})
	if _, err := admin.Init(ctx, roster.InitParams{OwnerEmail: owner, RandomPassword: true}); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateToken(ctx, roster.CreateToken{User: owner, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(c, api.Options{}))
	t.Cleanup(srv.Close)
	return srv.URL, tok.Token, &http.Client{Transport: v.Transport(t, nil)}
}
