package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestDocsUpToDate fails when the committed man pages or completion scripts
// differ from what the command tree generates: run make generate.
func TestDocsUpToDate(t *testing.T) {
	dir := t.TempDir()
	man, compl := filepath.Join(dir, "man"), filepath.Join(dir, "completions")
	if err := GenerateDocs(man, compl); err != nil {
		t.Fatal(err)
	}
	for gen, committed := range map[string]string{man: "../../../man", compl: "../../../completions"} {
		want, err := os.ReadDir(gen)
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadDir(committed)
		if err != nil {
			t.Fatalf("%v; run make generate", err)
		}
		if len(want) != len(have) {
			t.Errorf("%s has %d files, the command tree makes %d; run make generate", committed, len(have), len(want))
		}
		for _, e := range want {
			a, _ := os.ReadFile(filepath.Join(gen, e.Name()))
			b, err := os.ReadFile(filepath.Join(committed, e.Name()))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s/%s is out of date; run make generate", committed, e.Name())
			}
		}
	}
}
