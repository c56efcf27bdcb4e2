package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestServeGC checks the garbage collector setting of roster serve, as its
// /metrics reports it: 400 by default, GOGC from the environment when set.
func TestServeGC(t *testing.T) {
	t.Setenv("GOGC", "") // restored after the test
	os.Unsetenv("GOGC")
	r := &replicas{t: t, db: filepath.Join(t.TempDir(), "roster.db")}
	r.roster("init", "--owner-email", "root@example.com", "--random-password")
	for _, c := range []struct {
		env  []string
		want string
	}{
		{nil, "400"},
		{[]string{"GOGC=100"}, "100"},
		{[]string{"GOGC=50"}, "50"},
	} {
		if got := gogc(t, r.serve(c.env...)); got != c.want {
			t.Errorf("roster serve with %q: go_gc_gogc_percent %s, want %s", c.env, got, c.want)
		}
	}
}

var gogcLine = regexp.MustCompile(`(?m)^go_gc_gogc_percent (\S+)$`)

func gogc(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := gogcLine.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no go_gc_gogc_percent in /metrics:\n%.500s", body)
	}
	return string(m[1])
}
