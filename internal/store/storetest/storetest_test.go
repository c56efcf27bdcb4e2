package storetest

import "testing"

// TestEveryTxMethodHasATest fails when a method is added to store.Tx
// without a conformance test that declares it, or when a test declares a
// method store.Tx no longer has.
func TestEveryTxMethodHasATest(t *testing.T) {
	if missing := uncovered(); len(missing) > 0 {
		t.Errorf("store.Tx methods without a conformance test: %v", missing)
	}
	if stale := unknownCovered(); len(stale) > 0 {
		t.Errorf("conformance tests declare methods store.Tx does not have: %v", stale)
	}
}

// TestNamesAreUnique keeps subtest names apart: go test -run selects by
// name, and two tests of one name in a group would be run as one.
func TestNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range groups() {
		if seen[g.name] {
			t.Errorf("group %q twice", g.name)
		}
		seen[g.name] = true
		for _, c := range g.tests {
			name := g.name + "/" + c.name
			if seen[name] {
				t.Errorf("test %q twice", name)
			}
			seen[name] = true
		}
	}
}
