package cli

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/roster"
)

// webLogin gets a token by the device authorization grant (RFC 8628):
// it prints a code and the address where a person approves it, and polls
// until they did, or denied it, or the code expired.
func webLogin(ctx context.Context, f *Factory, c *client.Client) (string, error) {
	host, _ := os.Hostname()
	name := "roster login --web"
	if host != "" {
		name += " on " + host
	}
	g, err := c.DeviceCode(ctx, roster.DeviceRequest{TokenName: name, Host: host})
	if err != nil {
		return "", err
	}
	f.IO.Infof("to approve this sign-in, open %s in a browser and enter the code %s", g.VerificationURI, g.UserCode)
	f.IO.Infof("or open %s", g.VerificationURIComplete)
	f.IO.Infof("waiting for the approval (the code expires in %s)", g.ExpiresIn)
	interval := max(g.Interval, time.Second)
	deadline := time.Now().Add(g.ExpiresIn + interval)
	timer := time.NewTimer(interval)
	defer timer.Stop()
	// Bounded: the code expires, and the server says so.
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-timer.C:
		}
		tok, err := c.DeviceToken(ctx, g.DeviceCode)
		var de roster.DeviceError
		switch {
		case err == nil:
			return tok, nil
		case !errors.As(err, &de):
			return "", err
		case de == roster.DevicePending:
		case de == roster.DeviceSlowDown:
			interval += 5 * time.Second
		case de == roster.DeviceAccessDenied:
			return "", roster.Errorf(roster.ErrForbidden, "the sign-in was denied in the browser").
				WithHint("run roster login --web again if that was a mistake")
		case de == roster.DeviceExpired:
			return "", deviceExpired()
		default:
			return "", roster.Errorf(roster.ErrUnauthenticated, "the server refused the code: %s", de).
				WithHint("run roster login --web again")
		}
		timer.Reset(interval)
	}
	return "", deviceExpired()
}

func deviceExpired() error {
	return roster.Errorf(roster.ErrUnauthenticated, "the code expired before it was approved").
		WithHint("run roster login --web again, and approve within 10 minutes")
}
