package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestReadme runs the README's commands: its first command on the default
// store, and every line of the "Use" section in order, stopping at the
// first that fails.
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
			use = b
		}
	}
	if use == "" {
		t.Fatal("README has no Use block")
	}
	script := "env ROSTER_DB=\n" +
		"exec roster " + init + "\n" +
		"exists $WORK/.local/share/roster/roster.db\n" +
		"exec roster " + init + "\n" +
		"stderr unchanged\n" +
		"exec sh -e use.sh\n" +
		"-- use.sh --\n" + use
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.txtar"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{Dir: dir, Setup: scriptEnv, RequireExplicitExec: true})
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
