package records

import (
	"fmt"
	"io"
	"sync"

	"github.com/roster-dev/roster/internal/roster"
)

// Users are an import file's good records as a reader on a goroutine of
// its own finds them, so that the first can be written while the rest are
// read: reading a file of 100,000 users took an eighth of its import.
// Every record is kept, so that a write run again reads them again from
// the first.
type Users struct {
	mu   sync.Mutex
	more sync.Cond // signalled as records come and when the file ends
	// blocks hold the records, usersBlock to a block, so that none is
	// copied as more come: one growing slice of 100,000 records copied
	// them again and again, a tenth of an import's CPU.
	blocks [][]roster.UserRecord
	n      int
	done   bool
	stop   bool
	bad    *Errors
	err    error
	ended  chan struct{}
}

// usersBlock is how many records a block holds.
const usersBlock = 1024

// usersSignal is how many records a waiting writer is woken for.
const usersSignal = 256

// StartUsers starts reading r, an import file of format "csv" or
// "jsonl", as ReadUsers reads it. Stop must be called when its records
// are no longer wanted.
func StartUsers(r io.Reader, format string) (*Users, error) {
	if format != "csv" && format != "jsonl" {
		return nil, ErrFormat(format)
	}
	u := &Users{ended: make(chan struct{})}
	u.more.L = &u.mu
	go func() {
		defer close(u.ended)
		// A panic here would take a server down past its handlers'
		// recovery, which runs on their own goroutines: it is the
		// reading's error instead.
		defer func() {
			if v := recover(); v != nil {
				u.mu.Lock()
				defer u.mu.Unlock()
				u.done, u.bad, u.err = true, &Errors{}, fmt.Errorf("reading the file failed: %v", v)
				u.more.Broadcast()
			}
		}()
		_, bad, err := readUsers(r, format, func(rec roster.UserRecord) bool {
			u.mu.Lock()
			defer u.mu.Unlock()
			u.add(rec)
			if u.n%usersSignal == 0 {
				u.more.Broadcast()
			}
			return !u.stop
		})
		u.mu.Lock()
		defer u.mu.Unlock()
		u.done, u.bad, u.err = true, bad, err
		u.more.Broadcast()
	}()
	return u, nil
}

// UsersOf are records already read, as Users.
func UsersOf(recs []roster.UserRecord) *Users {
	u := &Users{n: len(recs), done: true, bad: &Errors{}, ended: make(chan struct{})}
	for len(recs) > 0 {
		b := recs[:min(usersBlock, len(recs)):min(usersBlock, len(recs))]
		u.blocks, recs = append(u.blocks, b), recs[len(b):]
	}
	u.more.L = &u.mu
	close(u.ended)
	return u
}

// add keeps rec, the last record read; u.mu is held.
func (u *Users) add(rec roster.UserRecord) {
	if u.n%usersBlock == 0 {
		u.blocks = append(u.blocks, make([]roster.UserRecord, 0, usersBlock))
	}
	last := len(u.blocks) - 1
	u.blocks[last] = append(u.blocks[last], rec)
	u.n++
}

// Chunk returns at most n records from the i-th, waiting until there are
// n or the file has ended; none past its end.
func (u *Users) Chunk(i, n int) []roster.UserRecord {
	u.mu.Lock()
	defer u.mu.Unlock()
	for !u.done && u.n < i+n {
		u.more.Wait()
	}
	end := min(i+n, u.n)
	if i >= end {
		return nil
	}
	// A chunk within a block, as the writer asks for them, is a part of
	// it; one across blocks is a copy.
	if b := i / usersBlock; b == (end-1)/usersBlock {
		return u.blocks[b][i%usersBlock : end-b*usersBlock]
	}
	out := make([]roster.UserRecord, 0, end-i)
	for j := i; j < end; {
		b, k := j/usersBlock, j%usersBlock
		part := u.blocks[b][k:min(len(u.blocks[b]), k+end-j)]
		out, j = append(out, part...), j+len(part)
	}
	return out
}

// Count is how many good records have been read, and whether that is
// all of them.
func (u *Users) Count() (int, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.n, u.done
}

// Wait waits for the end of the file, and returns its bad lines and an
// error when reading it failed (a body too large, a connection lost).
func (u *Users) Wait() (*Errors, error) {
	<-u.ended
	return u.bad, u.err
}

// Stop stops the reading, when it has not ended, and waits for it.
func (u *Users) Stop() {
	u.mu.Lock()
	u.stop = true
	u.mu.Unlock()
	<-u.ended
}
