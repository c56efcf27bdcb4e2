package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/store/postgres/pgtest"
)

// TestCluster starts a private cluster, restarts it and reaches it.
func TestCluster(t *testing.T) {
	c := pgtest.StartCluster(t)
	ping := func() {
		t.Helper()
		conn, err := pgx.Connect(context.Background(), c.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var one int
		if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("SELECT 1 = %d, %v", one, err)
		}
	}
	ping()
	c.Restart("immediate")
	ping()
}
