package sqlite

import (
	"errors"
	"io/fs"
	"syscall"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/roster-dev/roster/internal/roster"
)

// mapErr turns what SQLite reports into roster's errors: a constraint
// failure is a conflict, and a failure of the environment (lock held past
// the timeout, disk full, read-only or unopenable file, I/O error, damaged
// file) is roster.ErrUnavailable with a message that names the store and
// the cause in plain words, never the driver's text and code. Other
// errors pass unchanged.
func (db *DB) mapErr(err error) error { return storeError(db.path, err) }

func storeError(path string, err error) error {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return roster.Errorf(roster.ErrUnavailable, "the store %s is locked by another process", path).
			WithHint("try again; if it persists, look for a stuck roster process")
	case sqlite3.SQLITE_CONSTRAINT:
		var se *sqlite.Error
		errors.As(err, &se)
		return &roster.Error{Kind: roster.ErrConflict, Message: "conflict with existing data: " + se.Error()}
	case sqlite3.SQLITE_FULL:
		return diskFull(path)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		return readOnlyError(path)
	case sqlite3.SQLITE_CANTOPEN:
		return roster.Errorf(roster.ErrUnavailable, "cannot open %s: the file or its directory cannot be read or written", path).
			WithHint("check that the store's directory exists and that you may read and write it and the store file")
	case sqlite3.SQLITE_IOERR:
		return ioError(path)
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return roster.Errorf(roster.ErrUnavailable, "the store %s is damaged", path).
			WithHint("run roster db check; restore it from a copy made with roster db backup")
	}
	return err
}

// sqliteCode is the primary result code of an error from SQLite, or -1.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return -1
	}
	return se.Code() & 0xff
}

// fsError is storeError for the file system calls roster makes itself
// (creating the store or a backup): verb says what it was doing to path.
func fsError(verb, path string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return diskFull(path)
	case errors.Is(err, syscall.EROFS):
		return roster.Errorf(roster.ErrUnavailable, "cannot %s %s: the file system is read-only", verb, path).
			WithHint("use a directory on a writable file system")
	case errors.Is(err, fs.ErrPermission):
		return roster.Errorf(roster.ErrUnavailable, "cannot %s %s: permission denied", verb, path).
			WithHint("check the permissions of the file and its directory, or run roster as their owner")
	case errors.Is(err, syscall.EIO):
		return ioError(path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is in the message already
	}
	return roster.Errorf(roster.ErrUnavailable, "cannot %s %s: %v", verb, path, err).
		WithHint("check the path, and that its directory exists and you may write to it")
}

func diskFull(path string) error {
	return roster.Errorf(roster.ErrUnavailable, "cannot write %s: the disk is full", path).
		WithHint("free some space on the disk that holds it, then try again")
}

func ioError(path string) error {
	return roster.Errorf(roster.ErrUnavailable, "cannot read or write %s: input/output error", path).
		WithHint("check the disk and the file system (dmesg), then run roster db check")
}

func readOnlyError(path string) error {
	return roster.Errorf(roster.ErrUnavailable, "cannot write %s: the store is read-only (file mode or directory permissions)", path).
		WithHint("make the store and its directory writable by you (chmod u+w), or run roster as their owner")
}

func (db *DB) readOnlyError() error { return readOnlyError(db.path) }
