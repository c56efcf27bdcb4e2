package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/roster-dev/roster/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"roster": func() { os.Exit(cli.Main(context.Background(), os.Args[1:])) },
	})
}

// TestScripts runs every script in testdata/script against the roster
// binary, each in its own directory with its own store.
// UPDATE_SCRIPTS=1 rewrites the expected output files of failing cmp lines.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
		Setup:               scriptEnv,
	})
}

// scriptEnv gives each script its own store, config and data directories.
func scriptEnv(e *testscript.Env) error {
	e.Setenv("ROSTER_DB", filepath.Join(e.WorkDir, "roster.db"))
	e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, ".config"))
	e.Setenv("XDG_DATA_HOME", filepath.Join(e.WorkDir, ".local", "share"))
	e.Setenv("HOME", e.WorkDir)
	return nil
}
