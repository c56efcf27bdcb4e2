package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

type cachedAuth struct {
	*core.Core
	m sync.Map
}

func (c *cachedAuth) Authenticate(ctx context.Context, bearer string) (roster.Service, error) {
	if s, ok := c.m.Load(bearer); ok {
		return s.(roster.Service), nil
	}
	s, err := c.Core.Authenticate(ctx, bearer)
	if err == nil {
		c.m.Store(bearer, s)
	}
	return s, err
}

func BenchmarkDiagCachedAuth(b *testing.B) {
	path := filepath.Join(b.TempDir(), "roster.db")
	db, _ := sqlite.Open(ctx, path)
	c := core.New(db)
	c.As(core.Actor{Name: "x"}).Init(ctx, roster.InitParams{OwnerEmail: ownerEmail, Password: ownerPassword})
	t, _ := c.As(core.Actor{User: ownerEmail}).CreateToken(ctx, roster.CreateToken{Name: "bench"})
	benchSeed(b, path, benchUsers)
	srv := httptest.NewServer(api.New(&cachedAuth{Core: c}, api.Options{}))
	defer srv.Close()
	for _, w := range benchWorkers {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			benchLoad(b, srv.URL, t.Token, w, func(r *rand.Rand) string {
				return fmt.Sprintf("/api/v1/users/u%07d@example.com", r.IntN(benchUsers))
			})
		})
	}
}
