package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/testkit"
)

// bashCompletion is the bash-completion package's entry point, which
// completions/roster.bash needs (_get_comp_words_by_ref), as it is where
// Debian's bash finds it.
const bashCompletion = "/usr/share/bash-completion/bash_completion"

// TestCompletionInBash types `roster user reactivate <TAB>` into a real
// interactive bash, under tmux, with bash-completion and the committed
// completions/roster.bash loaded, as a person's shell does: it must list
// the deactivated users, and neither an active one nor a file of the
// working directory. The internal/cli tests ask __complete itself; this
// one holds the script that a shell runs around it.
//
// No sleep: a key bound in the shell's readline signals a tmux channel
// once the keys typed before it are handled, and the test waits on it.
func TestCompletionInBash(t *testing.T) {
	tmux := testkit.Tool(t, "tmux", "apt-get install tmux")
	bash := testkit.Tool(t, "bash", "apt-get install bash")
	if _, err := os.Stat(bashCompletion); err != nil {
		testkit.Missing(t, "bash-completion is not installed (apt-get install bash-completion)")
	}
	script, err := filepath.Abs("../../completions/roster.bash")
	if err != nil {
		t.Fatal(err)
	}
	r := &replicas{t: t, db: filepath.Join(t.TempDir(), "roster.db")}
	r.roster("init", "--owner-email", "root@example.com", "--random-password")
	for _, u := range []string{"ann", "bob", "cat"} {
		r.roster("user", "create", u+"@example.com", "--no-password")
	}
	r.roster("user", "deactivate", "bob@example.com", "cat@example.com", "--yes")

	home, work := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "decoy.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(home, "tmux.sock")
	rc := filepath.Join(home, "bashrc")
	if err := os.WriteFile(rc, []byte(`PS1='$ '
source `+bashCompletion+`
source `+script+`
bind 'set show-all-if-ambiguous on'
bind 'set bell-style none'
bind -x '"\C-t": tmux wait-for -S handled'
`), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, tmux, append([]string{"-S", sock, "-f", "/dev/null"}, args...)...)
		cmd.Env = append(os.Environ(), "ROSTER_DB="+r.db, "HOME="+home, "XDG_CONFIG_HOME="+home, "TMUX=")
		return cmd
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := tm(context.Background(), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("new-session", "-d", "-x", "200", "-y", "50", "-c", work, bash, "--noprofile", "--rcfile", rc, "-i")
	t.Cleanup(func() { tm(context.Background(), "kill-server").Run() })
	screen := func() string { return strings.TrimRight(run("capture-pane", "-p", "-J"), "\n") }
	// handled sends ^T and waits until the shell has run its binding:
	// readline takes keys in order, so every key sent before is handled.
	handled := func() {
		t.Helper()
		run("send-keys", "C-t")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := tm(ctx, "wait-for", "handled").CombinedOutput(); err != nil {
			t.Fatalf("the shell did not handle the keys within 30s: %v %s\nscreen:\n%s", err, out, screen())
		}
	}
	handled() // the shell is up, its rc read
	run("send-keys", "-l", "roster user reactivate ")
	run("send-keys", "Tab")
	handled()
	got := screen()
	for _, want := range []string{"bob@example.com", "cat@example.com"} {
		if !strings.Contains(got, want) {
			t.Errorf("roster user reactivate <TAB> does not offer %s; screen:\n%s", want, got)
		}
	}
	for _, not := range []string{"ann@example.com", "root@example.com", "decoy.txt"} {
		if strings.Contains(got, not) {
			t.Errorf("roster user reactivate <TAB> offers %s; screen:\n%s", not, got)
		}
	}
}
