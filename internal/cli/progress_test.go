package cli

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/store/sqlite"
	"github.com/roster-dev/roster/internal/testkit"
)

// progressRun runs a command line in-process with stderr a terminal or
// not, on a clock that moves a second each time it is read.
func progressRun(t *testing.T, tty bool, args ...string) (string, string, int) {
	t.Helper()
	var errOut bytes.Buffer
	out, code := progressRunTo(t, tty, &errOut, args...)
	return out, errOut.String(), code
}

// progressRunTo is progressRun with stderr written to errOut.
func progressRunTo(t *testing.T, tty bool, errOut io.Writer, args ...string) (string, int) {
	t.Helper()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	var out bytes.Buffer
	io := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: errOut, stderrTTY: tty}
	code := run(context.Background(), io, args, Options{Now: clock})
	return out.String(), code
}

// TestProgress: import, apply and export of more than a few thousand
// rows show rows done, rate and time left on stderr when it is a
// terminal; nothing otherwise, or with -q, or for a few rows (issue 22).
func TestProgress(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "roster.db")
	if _, errOut, code := progressRun(t, false, "--db", db, "init", "--owner-email", "owner@example.com", "--random-password", "-q"); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	write := func(name string, n int) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(testkit.UsersCSV(strings.TrimSuffix(name, ".csv"), n)), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	many, few := write("many.csv", 6000), write("few.csv", 100)

	_, errOut, code := progressRun(t, true, "--db", db, "import", many)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"\rroster: import: reading ", " of 6,000 rows, ",
		"\rroster: import: reading 6,000 of 6,000 rows, ",
		"\rroster: import: applying 6,000 of 6,000 rows, ",
		" rows/s, about ", " s left",
		"\r\x1b[K", // cleared at the end
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("import's stderr lacks %q:\n%q", want, errOut)
		}
	}
	if !strings.HasSuffix(errOut, "\r\x1b[Kroster: import: 6000 created, 0 changed, 0 removed, 0 unchanged\n") {
		t.Errorf("import's summary does not follow a cleared line:\n%q", errOut)
	}

	yaml := filepath.Join(dir, "all.yaml")
	out, errOut, code := progressRun(t, true, "--db", db, "export", "-o", "yaml")
	if code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	if !strings.Contains(errOut, "roster: export: exporting 6,001 of 6,001 rows, ") {
		t.Errorf("export's stderr:\n%q", errOut)
	}
	if strings.Contains(out, "\r") || strings.Contains(out, "roster:") {
		t.Errorf("progress on stdout")
	}
	if err := os.WriteFile(yaml, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = progressRun(t, true, "--db", db, "apply", "-f", yaml)
	if code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	for _, want := range []string{"roster: apply: reading ", "roster: apply: checking ", "roster: apply: applying 6,001 of 6,001 rows"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("apply's stderr lacks %q:\n%q", want, errOut)
		}
	}

	// Nothing with -q, nothing when stderr is not a terminal, nothing for
	// a few rows.
	for _, args := range [][]string{
		{"import", many, "-q", "--dry-run"},
		{"export", "-q"},
		{"apply", "-f", yaml, "-q"},
	} {
		if _, errOut, _ := progressRun(t, true, append([]string{"--db", db}, args...)...); errOut != "" {
			t.Errorf("%v printed %q", args, errOut)
		}
	}
	for _, args := range [][]string{{"import", many, "--dry-run"}, {"export"}, {"apply", "-f", yaml}} {
		if _, errOut, _ := progressRun(t, false, append([]string{"--db", db}, args...)...); strings.Contains(errOut, "\r") {
			t.Errorf("%v drew progress on a stderr that is not a terminal: %q", args, errOut)
		}
	}
	if _, errOut, _ := progressRun(t, true, "--db", db, "import", few); strings.Contains(errOut, "\r") {
		t.Errorf("import of 100 rows drew progress: %q", errOut)
	}
}

func TestCountAndDuration(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
	for sec, want := range map[float64]string{0.2: "1 s", 3.4: "3 s", 89: "89 s", 150: "3 min"} {
		if got := duration(sec); got != want {
			t.Errorf("duration(%v) = %q, want %q", sec, got, want)
		}
	}
}

// TestProgressRemote: through a server, the progress line goes on from
// the file going up to how far the server has got, as its 102
// Processing responses say (issue 22).
func TestProgressRemote(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no saved context of the machine's
	dir := t.TempDir()
	db, tokenFile := filepath.Join(dir, "roster.db"), filepath.Join(dir, "owner.tok")
	mustRun(t, db, "init", "--owner-email", "owner@example.com", "--random-password", "--token-file", tokenFile)
	file := filepath.Join(dir, "many.csv")
	if err := os.WriteFile(file, []byte(testkit.UsersCSV("many", 6000)), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// The server holds the import after its first 1,024 rows until the
	// progress line shows them, for 30 s at most.
	g := testkit.NewGate()
	defer g.Release()
	srv := httptest.NewServer(api.New(core.New(g.Store(store)), api.Options{Progress: time.Millisecond, LongTimeout: 30 * time.Second}))
	defer srv.Close()
	const held = "\rroster: import: applying 1,024 of 6,000 rows, "
	errOut := &watchWriter{want: held, seen: make(chan struct{})}
	go func() {
		select {
		case <-errOut.seen:
			g.Release()
		case <-t.Context().Done():
		}
	}()

	_, code := progressRunTo(t, true, errOut, "--server", srv.URL, "--token-file", tokenFile, "import", file)
	got := errOut.String()
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, got)
	}
	for _, want := range []string{
		"\rroster: import: reading 6,000 of 6,000 rows, ",
		"\rroster: import: sent 6,000 rows; the server is applying them",
		held,
		"\r\x1b[Kroster: import: 6000 created, 0 changed, 0 removed, 0 unchanged\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("import's stderr lacks %q:\n%q", want, got)
		}
	}
}

// watchWriter keeps what is written, safe for concurrent use, and closes
// seen once it holds want.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
