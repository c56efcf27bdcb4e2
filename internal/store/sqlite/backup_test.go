package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// TestBackupLeavesNoTemporaryFile: a backup is complete under its name and
// nothing else is left in its directory; a backup that cannot be made
// leaves nothing at all.
func TestBackupLeavesNoTemporaryFile(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	if err := db.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	if got := names(dirState(t, dir)); len(got) != 1 || got[0] != "backup.db" {
		t.Errorf("files after a backup: %v", got)
	}
	checkBackup(t, backup, 0)

	// A canceled backup (as by Ctrl-C) leaves neither the file nor a
	// temporary one.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.Backup(cctx, filepath.Join(dir, "canceled.db")); err == nil {
		t.Error("a canceled backup succeeded")
	}
	if got := names(dirState(t, dir)); len(got) != 1 {
		t.Errorf("files after a canceled backup: %v", got)
	}
}

// TestLinkNewNeverReplaces: the last step of a backup never replaces a
// file that appeared at its name meanwhile.
func TestLinkNewNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	tmp, path := filepath.Join(dir, "tmp"), filepath.Join(dir, "backup.db")
	if err := os.WriteFile(tmp, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("someone's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := linkNew(tmp, path); !errors.Is(err, os.ErrExist) {
		t.Errorf("linkNew over a file: %v; want it to exist already", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "someone's" {
		t.Errorf("the file became %q", b)
	}
}

// TestTemporaryFilesAreNotStores: what a killed backup leaves, even a
// complete copy, is refused as a store by its name, so a later command
// pointed at it cannot take it for a store or turn it into one.
func TestTemporaryFilesAreNotStores(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	if err := db.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, strings.Replace(tempPattern(backup, "backup"), "*", "123", 1))
	if err := os.Rename(backup, left); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, dir)
	_, err := Open(ctx, left)
	if !errors.Is(err, roster.ErrInvalid) || !strings.Contains(err.Error(), "temporary file") {
		t.Errorf("opening a temporary file: %v; want it refused", err)
	}
	if after := dirState(t, dir); !sameState(before, after) {
		t.Errorf("the directory changed: %v, then %v", names(before), names(after))
	}
}

// backupHelperEnv, when set to "STORE BACKUP", makes the test binary a
// process that backs up STORE to BACKUP and exits; TestBackupKilled kills it.
const backupHelperEnv = "ROSTER_TEST_BACKUP_HELPER"

func TestMain(m *testing.M) {
	if args := os.Getenv(backupHelperEnv); args != "" {
		src, backup, _ := strings.Cut(args, " ")
		db, err := Open(context.Background(), src)
		if err == nil {
			err = db.Backup(context.Background(), backup)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBackupKilled kills a process backing up a store of some megabytes at
// several points: before the copy starts, as it grows, and after. The
// backup's name then holds nothing or a complete store, never the half
// copy a later command used to turn silently into an empty store.
func TestBackupKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a store of some megabytes and backs it up several times")
	}
	ctx := context.Background()
	db, src := openTemp(t)
	const rows = 20000
	// About 20 MB of audit events, so that the copy takes a while.
	if err := db.Write(ctx, func(stx store.Tx) error {
		tx := stx.(*Tx)
		_, err := tx.tx.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			INSERT INTO audit (org_id, at, actor, via, action, details) SELECT 1, i, 'test', 'local', 'test.fill', hex(randomblob(500)) FROM n`, rows)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}

	// Kill points: as soon as the process starts, once the temporary copy
	// exists, once it holds a quarter and three quarters of the store,
	// and after the process is done.
	midCopy := 0
	for _, at := range []int64{-1, 0, fi.Size() / 4, fi.Size() * 3 / 4, -2} {
		t.Run(fmt.Sprintf("at %d bytes", at), func(t *testing.T) {
			dir := t.TempDir()
			backup := filepath.Join(dir, "backup.db")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), backupHelperEnv+"="+src+" "+backup)
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			waitUntil := time.Now().Add(time.Minute)
			finished := false
		wait:
			for at >= 0 && time.Now().Before(waitUntil) {
				select {
				case <-exited:
					finished = true
					break wait
				case <-time.After(time.Millisecond):
				}
				// Whatever file the copy is written to.
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					if fi, err := e.Info(); err == nil && fi.Size() >= at {
						break wait
					}
				}
			}
			if at == -2 {
				<-exited
				finished = true
			}
			if !finished {
				cmd.Process.Signal(syscall.SIGKILL)
				<-exited
				if at > 0 {
					midCopy++
				}
				// What the kill left behind is never taken for a store.
				tmps, _ := filepath.Glob(filepath.Join(dir, ".backup.db"+tempMark+"*"))
				for _, tmp := range tmps {
					if _, err := Open(ctx, tmp); !errors.Is(err, roster.ErrInvalid) {
						t.Errorf("opening %s left by a kill: %v; want it refused", tmp, err)
					}
				}
				// And it is cleaned up by the next backup's sweep.
				removed, err := RemoveStaleBackups(backup)
				if err != nil || len(removed) != len(tmps) {
					t.Errorf("RemoveStaleBackups after a kill: removed %q, %v; want %q", removed, err, tmps)
				}
				if left, _ := filepath.Glob(filepath.Join(dir, ".backup.db"+tempMark+"*")); len(left) != 0 {
					t.Errorf("left after the sweep: %q", left)
				}
			}
			if _, err := os.Stat(backup); errors.Is(err, os.ErrNotExist) {
				if at == -2 {
					t.Fatal("the backup finished but is not there")
				}
				return // absent: fine
			}
			checkBackup(t, backup, rows)
		})
	}
	if midCopy == 0 {
		t.Error("no kill landed while the copy was being written")
	}
}

// checkBackup opens the backup at path as a store: it must be complete,
// pass its integrity check and hold the audit events written.
func checkBackup(t *testing.T, path string, rows int) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("the backup is not a store: %v", err)
	}
	defer db.Close()
	_, problems, err := db.Check(ctx)
	if err != nil || len(problems) > 0 {
		t.Fatalf("the backup fails its check: %v %v", problems, err)
	}
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM audit WHERE action = 'test.fill'`).Scan(&n); err != nil || n != rows {
		t.Fatalf("the backup holds %d events, %v; want %d", n, err, rows)
	}
}

// TestRemoveStaleBackups: only abandoned temporary copies of backups to
// the same path are removed; one a running backup holds, and files of
// other names, stay.
func TestRemoveStaleBackups(t *testing.T) {
	dir := t.TempDir()
	backup := filepath.Join(dir, "team-backup.db")
	write := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial copy"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := write(".team-backup.db" + tempMark + "backup-111.tmp")
	staleJournal := write(".team-backup.db" + tempMark + "backup-111.tmp-journal")
	running := write(".team-backup.db" + tempMark + "backup-222.tmp")
	runningJournal := write(".team-backup.db" + tempMark + "backup-222.tmp-journal")
	other := write(".other.db" + tempMark + "backup-333.tmp")
	mine := write("team-backup.db.tmp")
	f, err := os.Open(running)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !tryLock(f) {
		t.Skip("no advisory locks on this system")
	}
	// The stale copy goes with the journal SQLite kept beside it (issue
	// 22: a killed backup left both); a running backup keeps its own.
	removed, err := RemoveStaleBackups(backup)
	if err != nil || !slices.Equal(removed, []string{stale, staleJournal}) {
		t.Fatalf("removed %q, %v; want only %s and its journal", removed, err, stale)
	}
	for _, p := range []string{running, runningJournal, other, mine} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}
