package core

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestWritesFirst: what is asked before the write lock waits for the
// writes in progress when it comes, and never for later ones, so that a
// stream of writes cannot starve it.
func TestWritesFirst(t *testing.T) {
	var w writesFirst
	if err := w.wait(t.Context()); err != nil {
		t.Fatalf("no write in progress: %v", err)
	}
	w.start() // a
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := w.wait(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("a write in progress, the context done: %v, want it to have waited", err)
	}
	w.finish() // a

	// A broken wait fails at the deadline rather than hanging the test.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	w = writesFirst{}
	w.start() // a
	done := make(chan error, 1)
	go func() { done <- w.wait(ctx) }()
	// The waiter makes next once it knows which writes it waits for.
	for waiting := false; !waiting; runtime.Gosched() {
		w.mu.Lock()
		waiting = w.next != nil
		w.mu.Unlock()
	}
	w.start()  // b, after the wait began
	w.finish() // a
	if err := <-done; err != nil {
		t.Fatalf("the write in progress finished, a later one still running: %v", err)
	}
	w.finish() // b
}
