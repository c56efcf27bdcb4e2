package sqlite

// SetSearchLimits sets the cap of index candidates and the window a
// search looks through first, for a test, and returns what puts them
// back.
func SetSearchLimits(candidates, window int) (restore func()) {
	oldC, oldW := searchCandidates, searchWindow
	searchCandidates, searchWindow = candidates, window
	return func() { searchCandidates, searchWindow = oldC, oldW }
}

// SearchMatch is searchMatch, for tests.
var SearchMatch = searchMatch
