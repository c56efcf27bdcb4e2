package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/cli"
)

// docsDate is the date printed in the man pages; fixed so that generating
// them twice gives the same bytes.
var docsDate = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

// GenerateDocs writes the man pages to manDir and the completion scripts
// to complDir, both from the command tree.
func GenerateDocs(manDir, complDir string) error {
	root := cli.NewRootCommand()
	disableAutoGen(root)
	if err := os.MkdirAll(manDir, 0o755); err != nil {
		return err
	}
	if err := writeManTree(root, manDir); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	if err := os.MkdirAll(complDir, 0o755); err != nil {
		return err
	}
	scripts := map[string]func(*bytes.Buffer) error{
		"roster.bash": func(b *bytes.Buffer) error { return root.GenBashCompletionV2(b, true) },
		"_roster":     func(b *bytes.Buffer) error { return root.GenZshCompletion(b) },
		"roster.fish": func(b *bytes.Buffer) error { return root.GenFishCompletion(b, true) },
		"roster.ps1":  func(b *bytes.Buffer) error { return root.GenPowerShellCompletionWithDesc(b) },
	}
	for name, gen := range scripts {
		var b bytes.Buffer
		if err := gen(&b); err != nil {
			return fmt.Errorf("completion %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(complDir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeManTree writes one page for cmd and each command below it that a
// user can run (not help, not hidden ones).
func writeManTree(cmd *cobra.Command, dir string) error {
	for _, c := range cmd.Commands() {
		if !c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand() {
			continue
		}
		if err := writeManTree(c, dir); err != nil {
			return err
		}
	}
	name := strings.ReplaceAll(cmd.CommandPath(), " ", "-") + ".1"
	return os.WriteFile(filepath.Join(dir, name), manPage(cmd), 0o644)
}

func disableAutoGen(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGen(sub)
	}
}
