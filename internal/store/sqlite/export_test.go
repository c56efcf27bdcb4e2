package sqlite

// SetSearchLimits sets the cap of index candidates, the window a search
// looks through first and the look-ups in the index's terms a search of
// two characters may make, for a test, and returns what puts them back.
func SetSearchLimits(candidates, window, seeks int) (restore func()) {
	oldC, oldW, oldS := searchCap, searchWindow, searchSeeks
	searchCap, searchWindow, searchSeeks = candidates, window, seeks
	return func() { searchCap, searchWindow, searchSeeks = oldC, oldW, oldS }
}

// SearchMatch is searchMatch, for tests.
var SearchMatch = searchMatch
