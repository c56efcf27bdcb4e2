//go:build unix

package sqlite

import (
	"os"
	"syscall"
)

// canWrite says whether this process may write path (a file, or a
// directory to create files in). access(2) answers for the real user and
// knows read-only file systems, without writing anything.
func canWrite(path string) bool {
	return syscall.Access(path, 0x2 /* W_OK */) == nil
}

// tryLock takes an exclusive advisory lock on f without waiting, and
// reports whether it got it. The lock lasts while f is open.
func tryLock(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
