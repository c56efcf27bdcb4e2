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
//
// Each organisation has its catalog; the version counts changes in any,
// so a change in one reloads the others' at their next use, which is
// rare and cheap.
type catalogCache struct {
	mu   sync.Mutex
	orgs map[int64]cachedCatalog
}

type cachedCatalog struct {
	version int64
	cat     store.Catalog
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
	org := tx.Org()
	c.mu.Lock()
	if cached, ok := c.orgs[org]; ok && cached.version == v {
		c.mu.Unlock()
		return cached.cat, nil
	}
	c.mu.Unlock()
	cat, err := tx.LoadCatalog(ctx)
	if err != nil {
		return cat, err
	}
	c.mu.Lock()
	// Another operation may have cached a newer one meanwhile; versions
	// only grow, so keep the newest.
	if cached, ok := c.orgs[org]; !ok || v >= cached.version {
		if c.orgs == nil {
			c.orgs = map[int64]cachedCatalog{}
		}
		c.orgs[org] = cachedCatalog{version: v, cat: cat}
	}
	c.mu.Unlock()
	return cat, nil
}

// last is the catalog last read of org, whatever its version now: a
// guess, for a decision that a transaction makes again.
func (c *catalogCache) last(org int64) (store.Catalog, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cached, ok := c.orgs[org]
	return cached.cat, ok
}
