//go:build !unix

package sqlite

import "os"

// canWrite says whether this process may write path. Without access(2)
// only a file's read-only attribute is seen; SQLite reports the rest.
func canWrite(path string) bool {
	fi, err := os.Stat(path)
	return err != nil || fi.IsDir() || fi.Mode().Perm()&0o200 != 0
}

// tryLock reports false: without flock, no file is known to be abandoned.
func tryLock(*os.File) bool { return false }
