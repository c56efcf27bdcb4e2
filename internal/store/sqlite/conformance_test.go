package sqlite_test

import (
	"testing"

	"github.com/roster-dev/roster/internal/store/storetest"
)

// TestConformance runs the store conformance suite on a SQLite file.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.SQLite)
}
