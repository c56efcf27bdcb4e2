package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tool is the path of an outside program a test runs, such as promtool or
// tmux. Without it the test skips and says how to install it, except under
// CI=true, where it fails: .ci/run installs every tool the tests use, so a
// missing one there is a broken CI, not a machine without the tool.
func Tool(tb testing.TB, name, install string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(tb, name+" is not installed ("+install+")")
	}
	return path
}

// Missing skips tb for want of what it says, or fails it under CI=true.
func Missing(tb testing.TB, what string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s, and under CI=true the test must run: .ci/run installs what the tests need", what)
	}
	tb.Skip(what)
}

// NodeTool is a command running name, a program of the npm packages that
// .ci/tools/package.json pins (installed by make tools into
// .ci/tools/node_modules), in the repository's root. The tools' telemetry
// and update checks are turned off: a test talks to nothing but loopback.
func NodeTool(tb testing.TB, name string, args ...string) *exec.Cmd {
	tb.Helper()
	Tool(tb, "node", "apt-get install nodejs npm")
	bin := NodeFile(tb, filepath.Join(".bin", name))
	if bin == "" {
		Missing(tb, name+" is not installed: "+makeTools)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = Root(tb)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "DO_NOT_TRACK=1", "REDOCLY_TELEMETRY=off",
		"REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "SCARF_ANALYTICS=false")
	return cmd
}

const makeTools = "run make tools (npm ci in .ci/tools)"

// NodeFile is the path of rel, a file of the npm packages that
// .ci/tools/package.json pins (such as axe-core/axe.min.js), or "" where
// make tools has not installed them: a test that can do without it then
// does, except under CI=true, where tb fails.
func NodeFile(tb testing.TB, rel string) string {
	tb.Helper()
	path := filepath.Join(Root(tb), ".ci", "tools", "node_modules", rel)
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not installed, and under CI=true the test must have it: %s", rel, makeTools)
		}
		return ""
	}
	return path
}

// Root is the repository's root: the nearest directory above the test's
// own that holds go.mod.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
