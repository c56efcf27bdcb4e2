//go:build unix

package sqlite

import "syscall"

// canWrite says whether this process may write path (a file, or a
// directory to create files in). access(2) answers for the real user and
// knows read-only file systems, without writing anything.
func canWrite(path string) bool {
	return syscall.Access(path, 0x2 /* W_OK */) == nil
}
