package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/roster-dev/roster/internal/roster"
)

// ApplicationID marks a SQLite file as a roster store (PRAGMA
// application_id): "RSTR" in ASCII.
const ApplicationID = 0x52535452

// sqliteMagic opens every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// tempMark is in the name of every temporary file roster makes beside a
// store or a backup, so that one left by a killed roster is never taken
// for a store.
const tempMark = ".roster-tmp-"

// tempPattern is the os.CreateTemp pattern of a temporary file for path:
// hidden, in path's directory, with tempMark, ending in .tmp.
func tempPattern(path, purpose string) string {
	return "." + filepath.Base(path) + tempMark + purpose + "-*.tmp"
}

func isTempName(path string) bool {
	base := filepath.Base(path)
	return strings.HasPrefix(base, ".") && strings.Contains(base, tempMark) && strings.HasSuffix(base, ".tmp")
}

// notAStore is the refusal of a file that is not a roster store.
func notAStore(path, what string) error {
	return roster.Errorf(roster.ErrInvalid, "%s is not a roster store: %s; roster leaves it untouched", path, what).
		WithHint("point --db (or ROSTER_DB) at a roster store, or at a path where no file exists to make a new store")
}

// emptyFile is the refusal of an empty file, with a hint of its own: it
// may well be meant as a new store.
func emptyFile(path string) error {
	return roster.Errorf(roster.ErrInvalid, "%s is not a roster store: it is an empty file; roster leaves it untouched", path).
		WithHint("roster makes a new store itself where no file exists: remove the empty file if it is meant to be one, or point --db elsewhere")
}

// inspect says whether path holds a roster store, without writing to it:
// false with no error when no file is there; an error when something else
// is there (roster.ErrInvalid), or when it cannot be read.
//
// A store is a SQLite file whose application_id is ApplicationID; stores
// made before roster set it have application_id 0, user_version > 0 and
// roster's tables. An empty file is refused too: roster makes a store
// under a temporary name and links it into place complete, so an empty
// file at the path was made by someone else, or is the remains of an
// interrupted copy, and turning it into a new empty store would hide that.
func inspect(ctx context.Context, path string) (bool, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fsError("open", path, err)
	case fi.IsDir():
		return false, notAStore(path, "it is a directory")
	case isTempName(path):
		return false, roster.Errorf(roster.ErrInvalid, "%s is not a roster store: it is a temporary file left by an interrupted roster (a backup or a new store)", path).
			WithHint("remove it; point --db at the store or the backup itself")
	case !fi.Mode().IsRegular():
		return false, notAStore(path, "it is not a regular file")
	case fi.Size() == 0:
		return false, emptyFile(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fsError("read", path, err)
	}
	defer f.Close()
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, fsError("read", path, err)
	}
	if string(h[:len(sqliteMagic)]) != sqliteMagic {
		return false, notAStore(path, "it is not a SQLite database")
	}
	switch id := binary.BigEndian.Uint32(h[68:72]); id {
	case ApplicationID:
		return true, nil
	case 0:
		return legacyStore(ctx, path)
	default:
		return false, notAStore(path, fmt.Sprintf("it is the database of another application (application_id 0x%08x)", id))
	}
}

// legacyStore looks, read-only, into a SQLite file without an
// application_id in its header for a store made before roster set one.
// Its application_id is read again through SQLite: a store migrated while
// another process has it open has the mark in its -wal until a checkpoint.
func legacyStore(ctx context.Context, path string) (bool, error) {
	sdb, err := sql.Open("sqlite", readOnlyDSN(path))
	if err != nil {
		return false, fmt.Errorf("open %s: %w", path, err)
	}
	defer sdb.Close()
	var id, version, tables int
	err = sdb.QueryRowContext(ctx, `SELECT
		(SELECT application_id FROM pragma_application_id),
		(SELECT user_version FROM pragma_user_version),
		(SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('users', 'roles', 'user_roles', 'audit', 'settings'))`).
		Scan(&id, &version, &tables)
	switch {
	case err != nil:
		return false, storeError(path, err)
	case id == ApplicationID, id == 0 && version > 0 && tables == 5:
		return true, nil
	}
	return false, notAStore(path, "it is the SQLite database of another application")
}

// PageSize is the size of a new store's pages: 16 KiB, not SQLite's
// 4 KiB. A bulk write of users then splits a quarter as many B-tree
// pages and writes a quarter as many WAL frames, each with its header
// and its checkpoint copy: an import of 100,000 users took 13 % less
// time (docs/benchmarks.md, "Larger pages"), and the server's reads
// were unchanged. A store made earlier keeps its pages.
const PageSize = 16384

// create makes a new, empty store at path, marked with ApplicationID and
// private (0600, in a 0700 directory if it makes the directory). It is
// built under a temporary name and linked into place, so no process ever
// sees a half-made store. If a file appears at path meanwhile, create
// leaves it be and returns nil: the caller inspects what is there.
func create(ctx context.Context, path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fsError("create the directory of", path, err)
	}
	f, err := os.CreateTemp(dir, tempPattern(path, "new"))
	if err != nil {
		return fsError("create", path, err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	sdb, err := sql.Open("sqlite", fileURI(tmp, nil))
	if err != nil {
		return fmt.Errorf("create store %s: %w", path, err)
	}
	// The page size is set before the first write, which fixes it for
	// the file's life.
	_, err = sdb.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d; PRAGMA application_id = %d", PageSize, ApplicationID))
	if cerr := sdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return storeError(path, err)
	}
	if err := syncFile(tmp); err != nil {
		return fsError("create", path, err)
	}
	if err := linkNew(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return fsError("create", path, err)
	}
	syncDir(dir)
	return nil
}

// linkNew gives the complete file tmp the name path, which must not exist:
// unlike a rename, a hard link never replaces a file made meanwhile. On a
// file system without hard links it renames after checking. tmp's own name
// is left for the caller to remove.
func linkNew(tmp, path string) error {
	err := os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(path); serr == nil {
		return fs.ErrExist
	}
	return os.Rename(tmp, path)
}

// writable says whether this process may change the store at path: write
// the file and, unless its -wal and -shm files exist, create them in its
// directory.
func writable(path string) bool {
	if !canWrite(path) {
		return false
	}
	_, walErr := os.Lstat(path + "-wal")
	_, shmErr := os.Lstat(path + "-shm")
	if walErr == nil && shmErr == nil {
		return true
	}
	return canWrite(filepath.Dir(path))
}

// repairSideFiles makes the store's -wal and -shm writable again when the
// store is: a reader of a read-only store (an older roster, the sqlite3
// shell) leaves them with the store's read-only mode, and SQLite then
// refuses every write even after the store is made writable. Only their
// mode changes, so it is safe while others have them open; files of
// another owner cannot be changed and are left to the error that follows.
func repairSideFiles(path string) {
	if !canWrite(path) {
		return
	}
	for _, side := range []string{path + "-wal", path + "-shm"} {
		if fi, err := os.Lstat(side); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o200 == 0 {
			_ = os.Chmod(side, 0o600)
		}
	}
}

// syncFile flushes path's content to the disk.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir flushes dir's entries, so that a file just named in it keeps its
// name after a crash. Best effort: some file systems refuse to sync a
// directory.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	defer d.Close()
	_ = d.Sync()
}
