package main

import (
	"net/http"
	"os"
	"slices"
	"testing"
)

// TestPocketBase seeds a PocketBase, in two batches, and reads back what
// benchserver measures. It needs one built from its examples/base:
// ROSTER_TEST_POCKETBASE=/tmp/pocketbase (the directory holding base).
func TestPocketBase(t *testing.T) {
	dir := os.Getenv("ROSTER_TEST_POCKETBASE")
	if dir == "" {
		t.Skip("set ROSTER_TEST_POCKETBASE to a directory holding a PocketBase built from its examples/base")
	}
	c := config{store: "sqlite", users: pbBatch + 1, endpoints: []string{"user", "list"}, pocketbase: dir}
	s, stop, err := startPocketBase(t.Context(), c, t.TempDir())
	defer stop()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range s.eps {
		names = append(names, e.name)
	}
	if want := []string{"user", "list", "list-total"}; !slices.Equal(names, want) {
		t.Fatalf("endpoints %q, want %q", names, want)
	}
	pb := pbClient{base: s.urls[0], tok: s.tok}
	var user struct {
		Email string `json:"email"`
	}
	if err := pb.do(t.Context(), http.MethodGet, s.eps[0].path, nil, &user); err != nil {
		t.Fatal(err)
	}
	if want := "u0000500@example.com"; user.Email != want {
		t.Errorf("GET one user: %s, want %s", user.Email, want)
	}
	for _, e := range s.eps[1:] {
		var page struct {
			Items      []struct{} `json:"items"`
			TotalItems int        `json:"totalItems"`
		}
		if err := pb.do(t.Context(), http.MethodGet, e.path, nil, &page); err != nil {
			t.Fatal(err)
		}
		total := -1 // skipTotal
		if e.name == "list-total" {
			total = c.users
		}
		if len(page.Items) != 50 || page.TotalItems != total {
			t.Errorf("%s: %d users of %d, want 50 of %d", e.path, len(page.Items), page.TotalItems, total)
		}
	}
}

func TestRevs(t *testing.T) {
	for rev, want := range map[string][]string{"": {""}, "HEAD": {"HEAD"}, "main,HEAD": {"main", "HEAD"}} {
		c := config{rev: rev}
		if got := c.revs(); !slices.Equal(got, want) {
			t.Errorf("-rev %q: %q, want %q", rev, got, want)
		}
	}
}
