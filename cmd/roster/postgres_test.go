package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
)

// TestScriptsPostgres runs every script in local mode on PostgreSQL: each
// script's ROSTER_DB is a schema of its own in the test database. A script
// about the SQLite file itself says so with "[postgres] skip".
func TestScriptsPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("the PostgreSQL run of the scripts is long")
	}
	pgtest.URL(t) // skips, saying why, when there is no test database
	scripts, err := filepath.Glob(filepath.Join("..", "..", "testdata", "script", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	// Schemas are made up front, on t, which outlives every script; a
	// script finds its own by name.
	schemas := map[string]string{}
	for _, s := range scripts {
		schemas[strings.TrimSuffix(filepath.Base(s), ".txtar")] = pgtest.URL(t)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			if err := scriptEnv(e); err != nil {
				return err
			}
			e.Setenv("ROSTER_DB", schemas[strings.TrimPrefix(filepath.Base(e.WorkDir), "script-")])
			return nil
		},
		Cmds: scriptCmds,
		Condition: func(cond string) (bool, error) {
			return cond == "postgres", nil
		},
	})
}
