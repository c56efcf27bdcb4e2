package roster_test

import (
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
)

// TestValidateLinkKind: a link kind is a lower-case word of at most 32
// characters, or oidc: and a provider's name of at most 31; the lengths
// are checked apart from the patterns, and hold at their bounds.
func TestValidateLinkKind(t *testing.T) {
	for _, c := range []struct {
		kind string
		ok   bool
	}{
		{"github", true},
		{strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), false},
		{"oidc:google", true},
		{"oidc:" + strings.Repeat("g", 31), true},
		{"oidc:" + strings.Repeat("g", 32), false},
		{"oidc:", false},
		{"oidc:-google", false},
		{"oidc:Google", false},
		{"saml:google", false},
		{"Github", false},
	} {
		err := roster.ValidateLink(c.kind, "value")
		if (err == nil) != c.ok {
			t.Errorf("ValidateLink(%q) = %v, want ok %v", c.kind, err, c.ok)
		}
	}
}
