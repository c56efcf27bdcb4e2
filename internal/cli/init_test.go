package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCreateTokenFile: init's token file is new, 0600, and each way of not
// getting one has its exit code (issue 8, item 6).
func TestCreateTokenFile(t *testing.T) {
	dir := t.TempDir()
	fh, err := createTokenFile(filepath.Join(dir, "new.tok"), "--token-file")
	if err != nil {
		t.Fatal(err)
	}
	if err := writeToken(fh, "roster_pat_x"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "new.tok")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		code       int
		skip       bool
	}{
		{"exists", filepath.Join(dir, "new.tok"), ExitConflict, false},
		{"dangling symlink", symlink(t, dir), ExitConflict, false},
		{"no directory", filepath.Join(dir, "nodir", "x.tok"), ExitInvalid, false},
		{"a file for a directory", filepath.Join(dir, "new.tok", "x.tok"), ExitInvalid, false},
		// root writes anywhere: the permission case needs another user.
		{"unwritable directory", filepath.Join(readOnly, "x.tok"), ExitUnavailable, os.Geteuid() == 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip {
				t.Skip("running as root")
			}
			fh, err := createTokenFile(tt.path, "--token-file")
			if err == nil {
				fh.Close()
				t.Fatalf("created %s", tt.path)
			}
			if got := ExitCode(err); got != tt.code {
				t.Errorf("exit %d (%v); want %d", got, err, tt.code)
			}
		})
	}
}

func symlink(t *testing.T, dir string) string {
	t.Helper()
	link := filepath.Join(dir, "link.tok")
	if err := os.Symlink(filepath.Join(dir, "target.tok"), link); err != nil {
		t.Fatal(err)
	}
	return link
}
