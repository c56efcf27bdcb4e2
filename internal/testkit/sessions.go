package testkit

import (
	"context"
	"testing"

	"github.com/roster-dev/roster/internal/core"
)

// StartSession signs user in with password to the organisation slug (""
// for the system one) of c, as the sign-in page does, and returns the
// secret of the new browser session.
func StartSession(tb testing.TB, c *core.Core, slug, user, password string) string {
	tb.Helper()
	ctx, err := c.OrgContext(context.Background(), slug)
	if err != nil {
		tb.Fatal(err)
	}
	secret, err := c.StartSession(ctx, user, password)
	if err != nil {
		tb.Fatalf("sign %s in with a browser: %v", user, err)
	}
	return secret
}

// SessionLive reports whether a browser session's secret still admits
// its holder to c's pages.
func SessionLive(c *core.Core, secret string) bool {
	_, err := c.Session(context.Background(), secret)
	return err == nil
}
