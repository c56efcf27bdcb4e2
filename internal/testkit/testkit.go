// Package testkit holds what the tests of several packages share: a clock
// a test moves, and a log buffer the server writes while the test reads.
// Only tests import it. It also starts browser sessions on a core, as
// the sign-in page does, for harnesses of several packages.
package testkit

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time; pass it where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Buffer is an io.Writer safe for concurrent use, for a server's log.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WallClock is the wall clock moved by an offset a test sets, safe for
// concurrent use: a server's handlers read it while the test moves it. A
// test that checks an instant exactly stops it with Freeze.
type WallClock struct {
	mu      sync.Mutex
	offset  time.Duration
	stopped *time.Time
}

// Now is the wall clock's time plus the offset, or where it was frozen.
func (c *WallClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped != nil {
		return c.stopped.Add(c.offset)
	}
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *WallClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Freeze stops the clock where it stands; Advance still moves it.
func (c *WallClock) Freeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped == nil {
		now := time.Now()
		c.stopped = &now
	}
}

// UsersCSV is an import file of n users, prefix00000@example.com on,
// named User 0 on.
func UsersCSV(prefix string, n int) string {
	var b strings.Builder
	b.WriteString("email,name\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,User %d\n", UserEmail(prefix, i), i)
	}
	return b.String()
}

// UserEmail is the email of user i of UsersCSV(prefix, …).
func UserEmail(prefix string, i int) string { return fmt.Sprintf("%s%05d@example.com", prefix, i) }
