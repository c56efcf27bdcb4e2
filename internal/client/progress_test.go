package client

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// TestProgress: an import or apply asks the server for progress, takes
// any number of 102 Processing responses before its answer (more than
// the transport keeps of 1xx headers nobody looks at), and tells the
// context's roster.Progress what each says. An export does not ask
// (issue 22).
func TestProgress(t *testing.T) {
	const notes = 500 // ~60 bytes each: past the transport's cap below
	var mu sync.Mutex
	asked := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		asked[r.URL.Path] = r.Header.Get(wire.ProgressHeader)
		mu.Unlock()
		if r.Header.Get(wire.ProgressHeader) != "" {
			for i := 1; i <= notes; i++ {
				w.Header().Set(wire.ProgressHeader, wire.FormatProgress("applying", i, notes))
				w.WriteHeader(http.StatusProcessing)
			}
			w.Header().Del(wire.ProgressHeader)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"changes":[{"op":"create","kind":"user","name":"a@example.com","line":2}],"unchanged":0,"dry_run":false}`)
	}))
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxResponseHeaderBytes: 4 << 10}}
	c, err := New(srv.URL, Options{Token: tok, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}

	for _, call := range []struct {
		name string
		do   func(roster.Progress) (roster.Plan, error)
	}{
		{"/api/v1/import", func(p roster.Progress) (roster.Plan, error) {
			return c.Import(roster.WithProgress(ctx, p), strings.NewReader("email\na@example.com\n"), roster.ImportParams{Format: "csv"})
		}},
		{"/api/v1/apply", func(p roster.Progress) (roster.Plan, error) {
			return c.Apply(roster.WithProgress(ctx, p), strings.NewReader("users: []\n"), roster.ApplyParams{})
		}},
	} {
		var told []string
		plan, err := call.do(func(stage string, done, total int) {
			told = append(told, fmt.Sprintf("%s %d/%d", stage, done, total))
		})
		if err != nil {
			t.Fatalf("%s: %v", call.name, err)
		}
		if len(plan.Changes) != 1 || plan.Changes[0].Name != "a@example.com" {
			t.Errorf("%s: plan %+v", call.name, plan)
		}
		if len(told) != notes || told[0] != fmt.Sprintf("applying 1/%d", notes) || told[notes-1] != fmt.Sprintf("applying %d/%d", notes, notes) {
			t.Errorf("%s: told %d times (first %q); want %d, from 1 to %d", call.name, len(told), told[:min(len(told), 1)], notes, notes)
		}
		if asked[call.name] != "1" {
			t.Errorf("%s: %s %q; want 1", call.name, wire.ProgressHeader, asked[call.name])
		}
	}

	if err := c.Export(ctx, func(roster.UserRecord) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if v, ok := asked["/api/v1/export"]; !ok || v != "" {
		t.Errorf("export: %s %q (sent: %v); want none", wire.ProgressHeader, v, ok)
	}
}
