package main

import (
	"bytes"
	"os"
	"os/exec"
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

// TestManLint holds the committed man pages to mandoc's lint: no tab in
// filled text, a date it can read, no line over 80 bytes. make lint runs
// the same check; here it fails with the page and line.
func TestManLint(t *testing.T) {
	mandoc, err := exec.LookPath("mandoc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mandoc is not installed; .ci/run installs it (apt-get install mandoc)")
		}
		t.Skip("mandoc is not installed (apt-get install mandoc): man pages not linted")
	}
	pages, err := filepath.Glob("../../../man/*.1")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no man pages: %v", err)
	}
	out, err := exec.Command(mandoc, append([]string{"-T", "lint"}, pages...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("mandoc -T lint: %v\n%s", err, out)
	}
}

// TestOpenAPIUpToDate fails when the organisation-scoped copies in
// docs/openapi.yaml differ from what the routes they copy make: run make
// generate.
func TestOpenAPIUpToDate(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := withOrgCopies(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, want) {
		t.Errorf("docs/openapi.yaml: the organisation-scoped copies are out of date; run make generate")
	}
}
