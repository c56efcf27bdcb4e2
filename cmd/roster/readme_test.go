package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestReadme runs the README's commands: its first command on the default
// store, and every line of the blocks that set ROSTER_DB ("Use", then
// "Organisations") in order, stopping at the first that fails.
func TestReadme(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := shellBlocks(string(readme))
	if len(blocks) < 3 {
		t.Fatalf("README has %d sh blocks; want the quick start, install and use", len(blocks))
	}
	first := strings.SplitN(blocks[0], "\n", 2)[0]
	init, ok := strings.CutPrefix(first, "go run ./cmd/roster ")
	if !ok {
		t.Fatalf("README's first command %q does not run roster", first)
	}
	var use string
	for _, b := range blocks {
		if strings.Contains(b, "export ROSTER_DB") {
			use += b
		}
	}
	if use == "" {
		t.Fatal("README has no Use block")
	}
	// The Use block runs from a directory standing for the checkout: it
	// must leave nothing there, and its link files readable by their
	// owner alone.
	script := "env ROSTER_DB=\n" +
		"exec roster " + init + "\n" +
		"exists $WORK/.local/share/roster/roster.db\n" +
		"exec roster " + init + "\n" +
		"stderr unchanged\n" +
		"! stdout .\n" +
		"mkdir checkout\n" +
		"cd checkout\n" +
		"exec sh -e ../use.sh\n" +
		"exec find . -mindepth 1\n" +
		"! stdout .\n" +
		"exec find $TMPDIR -name *.link -perm 600\n" +
		"stdout dana.link\n" +
		"stdout alice.link\n" +
		"exec find $TMPDIR -name *.link ! -perm 600\n" +
		"! stdout .\n" +
		"-- use.sh --\n" + use
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.txtar"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{Dir: dir, Setup: scriptEnv, RequireExplicitExec: true})
}

// TestReadmeInstall runs the README's install block on its own GOPATH: it
// must leave a roster on PATH that is the one installed, not any other.
func TestReadmeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and installs roster")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var install string
	for _, b := range shellBlocks(string(readme)) {
		if strings.HasPrefix(b, "make install") {
			install = b
		}
	}
	if install == "" {
		t.Fatal("README has no install block starting with make install")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	gopath := t.TempDir()
	// The module and build caches are the machine's: the block must not
	// need the network, only a fresh place to install to.
	// With no PREFIX, everything goes under GOPATH: roster, its man pages
	// and its completions.
	cmd := exec.Command("sh", "-ec", install+`
test "$(command -v roster)" = "$GOPATH/bin/roster"
test -f "$GOPATH/share/man/man1/roster.1"
test -f "$GOPATH/share/man/man1/roster-user-list.1"
test -f "$GOPATH/share/bash-completion/completions/roster"
test -f "$GOPATH/share/zsh/site-functions/_roster"
test -f "$GOPATH/share/fish/vendor_completions.d/roster.fish"
`)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOPATH="+gopath, "GOBIN=", "GOMODCACHE="+goEnv(t, "GOMODCACHE"), "GOCACHE="+goEnv(t, "GOCACHE"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the install block: %v\n%s", err, out)
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// shellBlocks returns the bodies of the ```sh blocks of a Markdown text.
func shellBlocks(md string) []string {
	var out []string
	for {
		_, rest, ok := strings.Cut(md, "```sh\n")
		if !ok {
			return out
		}
		body, after, _ := strings.Cut(rest, "```")
		out = append(out, body)
		md = after
	}
}
