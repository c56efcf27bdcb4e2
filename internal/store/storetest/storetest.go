// Package storetest is the conformance suite of the store port: one test
// per behaviour the core relies on, written against store.Admin and run
// for every adapter (as Mattermost's storetest runs for every SQL
// dialect). An adapter passes it with
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Admin { ... })
//	}
//
// where open returns a fresh, migrated, empty store that t's cleanup
// closes. The suite knows no SQL: what it checks is what the core sees.
package storetest

import (
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/roster-dev/roster/internal/store"
)

// test is one conformance test. methods names the Tx methods whose
// behaviour it checks, so that a Tx method without a test is noticed.
type test struct {
	name    string
	methods []string
	run     func(t *testing.T, s store.Admin)
}

// group gathers the tests of one aggregate.
type group struct {
	name  string
	tests []test
}

// groups is the whole suite, by aggregate.
func groups() []group {
	return []group{
		{"users", userTests},
		{"paging", pagingTests},
		{"links", linkTests},
		{"projects", projectTests},
		{"catalog", catalogTests},
		{"audit", auditTests},
		{"audit chain", chainTests},
		{"settings", settingsTests},
		{"tokens", tokenTests},
		{"sessions", sessionTests},
		{"unique", uniqueTests},
		{"time", timeTests},
		{"transactions", txTests},
		{"concurrency", concurrencyTests},
		{"admin", adminTests},
		{"idempotency", idempotencyTests},
		{"orgs", orgTests},
		{"expiry", expiryTests},
		{"device codes", deviceTests},
	}
}

// Run runs every conformance test, each on a fresh store from open.
func Run(t *testing.T, open func(t *testing.T) store.Admin) {
	t.Run("coverage", func(t *testing.T) {
		if missing := uncovered(); len(missing) > 0 {
			t.Errorf("store.Tx methods without a conformance test: %v", missing)
		}
	})
	for _, g := range groups() {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.tests {
				t.Run(c.name, func(t *testing.T) {
					s := open(t)
					if s == nil {
						t.Fatal("open returned no store")
					}
					c.run(t, s)
				})
			}
		})
	}
}

// covered lists the Tx methods some test declares it checks.
func covered() map[string]bool {
	m := map[string]bool{}
	for _, g := range groups() {
		for _, c := range g.tests {
			for _, name := range c.methods {
				m[name] = true
			}
		}
	}
	return m
}

// txMethods lists the methods of store.Tx.
func txMethods() []string {
	typ := reflect.TypeFor[store.Tx]()
	out := make([]string, typ.NumMethod())
	for i := range out {
		out[i] = typ.Method(i).Name
	}
	sort.Strings(out)
	return out
}

// uncovered lists the Tx methods no test declares.
func uncovered() []string {
	cov := covered()
	var out []string
	for _, m := range txMethods() {
		if !cov[m] {
			out = append(out, m)
		}
	}
	return out
}

// unknownCovered lists declared names that are not Tx methods: a test
// left behind by a renamed or removed method.
func unknownCovered() []string {
	all := txMethods()
	var out []string
	for m := range covered() {
		if !slices.Contains(all, m) {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}
