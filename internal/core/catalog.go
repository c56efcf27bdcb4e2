package core

import (
	"context"
	"sync"

	"github.com/roster-dev/roster/internal/store"
)

// catalogCache keeps the last catalog read, with its version. Every
// operation asks the store for the version (one small read) and reloads
// the catalog only when it moved, so a role changed by another process or
// replica is seen at the very next request while the common case reads
// one row instead of four tables.
type catalogCache struct {
	mu      sync.Mutex
	version int64
	cat     store.Catalog
	loaded  bool
}

// get returns the catalog current in tx. A Catalog is never changed once
// loaded, so one may be shared by every operation that reads it.
func (c *catalogCache) get(ctx context.Context, tx store.Tx) (store.Catalog, error) {
	if _, ok := tx.(uncommitted); ok {
		// Its version may never commit (see uncommitted).
		return tx.LoadCatalog(ctx)
	}
	v, err := tx.CatalogVersion(ctx)
	if err != nil {
		return store.Catalog{}, err
	}
	c.mu.Lock()
	if c.loaded && c.version == v {
		cat := c.cat
		c.mu.Unlock()
		return cat, nil
	}
	c.mu.Unlock()
	cat, err := tx.LoadCatalog(ctx)
	if err != nil {
		return cat, err
	}
	c.mu.Lock()
	// Another operation may have cached a newer one meanwhile; versions
	// only grow, so keep the newest.
	if !c.loaded || v >= c.version {
		c.version, c.cat, c.loaded = v, cat, true
	}
	c.mu.Unlock()
	return cat, nil
}
