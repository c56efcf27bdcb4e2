package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/testkit"
)

// The OpenAPI document is held to tools nobody on the project wrote, as
// those who read or generate code from it would use them. Each runs when
// it is installed (make tools, or the Go module proxy for oapi-codegen),
// skips and says why when not, and must run under CI=true.

const openapiDoc = "docs/openapi.yaml" // from the repository's root

// run runs cmd and fails t with what it printed if it fails.
func run(t *testing.T, cmd *exec.Cmd) []byte {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return out
}

// TestOpenAPIRedocly lints the document with Redocly CLI's recommended
// rules (.ci/tools/redocly.yaml), a warning failing it as an error does.
func TestOpenAPIRedocly(t *testing.T) {
	t.Parallel()
	cmd := testkit.NodeTool(t, "redocly", "lint", "--config", ".ci/tools/redocly.yaml", "--format", "json", openapiDoc)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, _ := cmd.Output() // its exit code says nothing of warnings: the report does
	var report struct {
		Totals   struct{ Errors, Warnings int }
		Problems []struct {
			RuleID   string `json:"ruleId"`
			Severity string
			Message  string
			Location []struct{ Pointer string }
		}
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("redocly lint printed no report (%v):\n%s%s", err, out, stderr.String())
	}
	for _, p := range report.Problems {
		where := ""
		if len(p.Location) > 0 {
			where = p.Location[0].Pointer
		}
		t.Errorf("redocly %s %s at %s: %s", p.Severity, p.RuleID, where, p.Message)
	}
	if n := report.Totals.Errors + report.Totals.Warnings; n != len(report.Problems) {
		t.Errorf("redocly counts %d problems and lists %d", n, len(report.Problems))
	}
}

// TestOpenAPISpectral lints the document with Spectral's spectral:oas
// ruleset (.ci/tools/spectral.yaml), failing on warnings too.
func TestOpenAPISpectral(t *testing.T) {
	t.Parallel()
	run(t, testkit.NodeTool(t, "spectral", "lint", "--ruleset", ".ci/tools/spectral.yaml",
		"--fail-severity", "warn", openapiDoc))
}

// TestOpenAPITypeScript generates TypeScript types from the document with
// openapi-typescript, as a web client would, and type-checks them with
// tsc in strict mode.
func TestOpenAPITypeScript(t *testing.T) {
	t.Parallel()
	ts := filepath.Join(t.TempDir(), "roster.ts")
	out := run(t, testkit.NodeTool(t, "openapi-typescript", openapiDoc, "--output", ts))
	if strings.Contains(strings.ToLower(string(out)), "warn") {
		t.Errorf("openapi-typescript warned:\n%s", out)
	}
	run(t, testkit.NodeTool(t, "tsc", "--noEmit", "--strict", "--target", "es2022", "--module", "esnext", ts))
}

// oapiCodegen is the generator TestOpenAPICodegen runs, pinned.
const oapiCodegen = "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2"

// TestOpenAPICodegen generates Go types, a client and a net/http server
// interface (as a Go program that calls roster, or stands in for it in its
// tests, would) from the document with oapi-codegen, then vets and builds
// them in a module of their own (testdata/oapi-codegen pins the runtime
// they need): two components that become one Go name, or a construct the
// generator cannot take, fails it. Its strict server is left out: it
// declares Body twice for importUsers, whose two string bodies (text/csv,
// application/x-ndjson) the document rightly declares.
func TestOpenAPICodegen(t *testing.T) {
	t.Parallel()
	goBin := testkit.Tool(t, "go", "go test puts its own on PATH")
	dir := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join("testdata", "oapi-codegen", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd := func(args ...string) *exec.Cmd {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
		return cmd
	}
	// The generator and the runtime come through the module proxy: a
	// machine that cannot reach it has not got them.
	for _, fetch := range [][]string{{"mod", "download"}, {"run", oapiCodegen, "-version"}} {
		if out, err := goCmd(fetch...).CombinedOutput(); err != nil {
			testkit.Missing(t, "go "+strings.Join(fetch, " ")+" failed ("+err.Error()+"): "+strings.TrimSpace(string(out)))
		}
	}
	doc := filepath.Join(testkit.Root(t), openapiDoc)
	run(t, goCmd("run", oapiCodegen, "-generate", "types,client,std-http-server", "-package", "oapiclient",
		"-o", filepath.Join(dir, "client.gen.go"), doc))
	run(t, goCmd("vet", "."))
}
