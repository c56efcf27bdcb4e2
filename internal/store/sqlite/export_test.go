package sqlite

// SetSearchCandidates sets the cap of index candidates for a test and
// returns what puts it back.
func SetSearchCandidates(n int) (restore func()) {
	old := searchCandidates
	searchCandidates = n
	return func() { searchCandidates = old }
}

// SearchMatch is searchMatch, for tests.
var SearchMatch = searchMatch
