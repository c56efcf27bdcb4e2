package testkit

import (
	"context"
	"sync"

	"github.com/roster-dev/roster/internal/store"
)

// Gate holds a long import or apply in the middle of its work, for as
// long as a test needs: the second look-up of its users (store.Tx's
// UsersByKey, once a chunk of 1,024 rows) waits until Release, or until
// its request is cancelled. The first chunk is done by then, so the work
// has said how far it got. Import at least 1,025 rows to be held.
type Gate struct {
	holding, release chan struct{}
	once             sync.Once
	mu               sync.Mutex
	calls            int
}

// NewGate returns a gate that holds until released.
func NewGate() *Gate { return &Gate{holding: make(chan struct{}), release: make(chan struct{})} }

// Store is s with its write transactions held by g.
func (g *Gate) Store(s store.Store) store.Store { return gatedStore{s, g} }

// Holding is closed once the gate holds a transaction.
func (g *Gate) Holding() <-chan struct{} { return g.holding }

// Release lets every held transaction, and those to come, go on.
func (g *Gate) Release() { g.once.Do(func() { close(g.release) }) }

func (g *Gate) wait(ctx context.Context) error {
	g.mu.Lock()
	g.calls++
	calls := g.calls
	g.mu.Unlock()
	switch calls {
	case 1:
		return nil
	case 2:
		close(g.holding)
	}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type gatedStore struct {
	store.Store
	g *Gate
}

func (s gatedStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Write(ctx, func(tx store.Tx) error { return fn(gatedTx{tx, s.g}) })
}

type gatedTx struct {
	store.Tx
	g *Gate
}

func (t gatedTx) In(org int64) store.Tx { return gatedTx{t.Tx.In(org), t.g} }

func (t gatedTx) UsersByKey(ctx context.Context, handles []string) (map[string]store.UserRow, error) {
	if err := t.g.wait(ctx); err != nil {
		return nil, err
	}
	return t.Tx.UsersByKey(ctx, handles)
}
