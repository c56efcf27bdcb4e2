package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/roster-dev/roster/internal/roster"
)

// Backup writes a consistent copy of the store to path, mode 0600, which
// must not exist. The copy is made with VACUUM INTO under a temporary name
// in path's directory, fsynced, and then given its name, and the directory
// fsynced: path is absent or complete, even if roster is killed or the
// machine stops mid-backup. A temporary file left behind by a kill is
// refused as a store (see inspect).
func (db *DB) Backup(ctx context.Context, path string) error {
	if err := backupTargetFree(path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPattern(path, "backup"))
	if errors.Is(err, fs.ErrNotExist) {
		// A mistyped path, not a failing disk.
		return roster.Errorf(roster.ErrInvalid, "cannot create backup %s: directory %s does not exist", path, dir).
			WithHint("create the directory first, or choose another path")
	}
	if err != nil {
		return fsError("create backup", path, err)
	}
	tmp := f.Name()
	// The lock tells a later RemoveStaleBackups that this file is in use;
	// killed, the process drops it with its descriptors.
	tryLock(f)
	defer f.Close()
	defer os.Remove(tmp)
	// VACUUM INTO refuses a non-empty target but accepts an empty file, so
	// the 0600 file made above is the one SQLite fills.
	if _, err := db.sql.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		switch sqliteCode(err) {
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_IOERR:
			// Writing the copy failed: name the backup, not the store.
			return storeError(path, err)
		}
		return db.mapErr(fmt.Errorf("backup: %w", err))
	}
	if err := syncFile(tmp); err != nil {
		return fsError("write backup", path, err)
	}
	if err := linkNew(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return backupExists(path)
		}
		return fsError("write backup", path, err)
	}
	syncDir(dir)
	return nil
}

// RemoveStaleBackups removes the partial copies, full of password
// hashes, that backups to path killed midway left in its directory: the
// files of roster's own temporary naming for that path that no running
// backup holds locked. It returns the names it removed.
func RemoveStaleBackups(path string) ([]string, error) {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fsError("look for stale backups of", path, err)
	}
	prefix, suffix, _ := strings.Cut(tempPattern(path, "backup"), "*")
	var removed []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
			continue
		}
		full := filepath.Join(dir, name)
		f, err := os.Open(full)
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		stale := tryLock(f)
		if stale {
			if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
				f.Close()
				return removed, fsError("remove the stale backup", full, err)
			}
			removed = append(removed, full)
			// SQLite's own files beside it: VACUUM INTO keeps a journal.
			for _, side := range []string{"-journal", "-wal", "-shm"} {
				if err := os.Remove(full + side); err == nil {
					removed = append(removed, full+side)
				}
			}
		}
		f.Close()
	}
	return removed, nil
}

func backupTargetFree(path string) error {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return backupExists(path)
	case !errors.Is(err, fs.ErrNotExist):
		return fsError("write backup", path, err)
	}
	return nil
}

func backupExists(path string) error {
	return roster.Errorf(roster.ErrConflict, "backup file %s already exists", path).
		WithHint("choose a new file name or remove the old backup")
}
