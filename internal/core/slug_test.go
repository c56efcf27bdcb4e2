package core_test

import (
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/core"
)

// TestValidateOrgSlug: 2 to 40 of a-z, 0-9 and '-', neither starting nor
// ending with '-'; the length is checked apart from the pattern.
func TestValidateOrgSlug(t *testing.T) {
	for _, c := range []struct {
		slug string
		ok   bool
	}{
		{"ab", true},
		{"a-1", true},
		{strings.Repeat("a", 40), true},
		{strings.Repeat("a", 41), false},
		{"a", false},
		{"", false},
		{"-ab", false},
		{"ab-", false},
		{"Ab", false},
		{"a_b", false},
	} {
		err := core.ValidateOrgSlug(c.slug)
		if (err == nil) != c.ok {
			t.Errorf("ValidateOrgSlug(%q) = %v, want ok %v", c.slug, err, c.ok)
		}
	}
}
