package main

import (
	"context"
	"fmt"
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

// TestCompletionInBash types `roster user reactivate <TAB>` and a few
// more into a real interactive bash, under tmux, with bash-completion and
// the committed completions/roster.bash loaded, as a person's shell does:
// reactivate must list the deactivated users and not an active one, and
// none may offer a file of the working directory. internal/cli's
// TestCompletion asks __complete itself; this holds the script a shell
// runs around it.
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
	rc, line := filepath.Join(home, "bashrc"), filepath.Join(home, "line")
	if err := os.WriteFile(rc, []byte(`PS1='$ '
source `+bashCompletion+`
source `+script+`
bind 'set show-all-if-ambiguous on'
bind 'set bell-style none'
handled=0
bind -x '"\C-t": printf %s "$READLINE_LINE" >`+line+`; printf "\e]2;handled %d\a" $((++handled)); tmux wait-for -S handled'
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
	// handled sends ^T and waits until the shell has run its binding,
	// which writes the line as readline holds it to a file, and tmux has
	// read all the shell wrote before. Readline takes keys in order, so
	// every key sent before ^T is handled. The line's file is written
	// before the binding signals a tmux channel. The screen is not, quite:
	// readline writes to bash's stderr, line-buffered, so a line being
	// edited may be unwritten still, but what it listed, whole lines, is
	// written; and tmux reads a pane's output in order, but apart from the
	// channel, so the test asks it, a bounded number of times, for the
	// title the binding set after them.
	var n int
	handled := func() {
		t.Helper()
		n++
		run("send-keys", "C-t")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := tm(ctx, "wait-for", "handled").CombinedOutput(); err != nil {
			t.Fatalf("the shell did not handle the keys within 30s: %v %s\nscreen:\n%s", err, out, screen())
		}
		want := fmt.Sprintf("handled %d\n", n)
		for range 1000 {
			if run("display-message", "-p", "#{pane_title}") == want {
				return
			}
		}
		t.Fatalf("tmux did not read the title %q the shell set; screen:\n%s", want, screen())
	}
	handled() // the shell is up, its rc read
	for _, c := range []struct {
		line      string
		want, not []string
	}{
		{"roster user reactivate ", []string{"bob@example.com", "cat@example.com"}, []string{"ann@example.com", "root@example.com"}},
		{"roster user reactivate bob@example.com ", []string{"cat@example.com"}, []string{"ann@example.com"}},
		{"roster audit list --action user.de", []string{"user.deactivate", "user.delete"}, []string{"user.create"}},
		{"roster token revoke ", nil, nil},
	} {
		// ^A^K empties the line: readline's keys, which a terminal in any
		// mode passes on as they are. -R clears tmux's screen, at once,
		// so that what an earlier line listed is gone.
		run("send-keys", "C-a", "C-k")
		run("send-keys", "-R")
		run("send-keys", "-l", c.line)
		run("send-keys", "Tab")
		handled()
		typed, err := os.ReadFile(line)
		if err != nil {
			t.Fatal(err)
		}
		got := "screen:\n" + screen() + "\nline: " + string(typed)
		for _, want := range c.want {
			if !strings.Contains(got, want) {
				t.Errorf("%s<TAB> does not offer %s; %s", c.line, want, got)
			}
		}
		for _, not := range append(c.not, "decoy.txt") {
			if strings.Contains(got, not) {
				t.Errorf("%s<TAB> offers %s; %s", c.line, not, got)
			}
		}
	}
}
