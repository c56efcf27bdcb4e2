package storetest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Benchmarks of the store, shared by both adapters as the conformance
// suite is. They assert nothing; figures are in docs/benchmarks.md.

// BenchUsers is how many users a benchmark's store holds: 100,000, or
// ROSTER_BENCH_USERS (ROSTER_BENCH_USERS=1000000 for the performance
// targets' store of a million).
func BenchUsers(b *testing.B) int {
	b.Helper()
	n := 100_000
	if v := os.Getenv("ROSTER_BENCH_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("ROSTER_BENCH_USERS=%q: not a number of users", v)
		}
	}
	return n
}

// benchFirst and benchLast make the names and emails of benchmark users:
// first names open the email, so that the users a first name finds are
// next to each other in email order, as real ones are.
var (
	benchFirst = []string{"ada", "alan", "barbara", "claude", "donald", "edsger", "frances", "grace", "john",
		"ken", "leslie", "margaret", "niklaus", "radia", "shafi", "tony"}
	benchLast = []string{"lovelace", "turing", "liskov", "shannon", "knuth", "dijkstra", "allen", "hopper",
		"backus", "thompson", "lamport", "hamilton", "wirth", "perlman", "goldwasser", "hoare"}
)

// SeedSearch fills s with n users, first.last<i>@<domain> named
// "First Last", 10,000 to a transaction through InsertUsers, as import
// writes them.
func SeedSearch(b *testing.B, s store.Store, n int) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	domains := []string{"example.com", "example.org", "corp.example", "mail.example.net"}
	const chunk = 10_000
	for start := 0; start < n; start += chunk {
		users := make([]store.UserRow, 0, chunk)
		for i := start; i < min(n, start+chunk); i++ {
			first, last := benchFirst[r.IntN(len(benchFirst))], benchLast[r.IntN(len(benchLast))]
			u := member(fmt.Sprintf("%s.%s%d@%s", first, last, i, domains[r.IntN(len(domains))]))
			u.Name = upper(first) + " " + upper(last)
			users = append(users, u)
		}
		if err := s.Write(b.Context(), func(tx store.Tx) error {
			_, err := tx.InsertUsers(b.Context(), users)
			return err
		}); err != nil {
			b.Fatalf("seed users %d…: %v", start, err)
		}
	}
}

func upper(s string) string { return string(s[0]-'a'+'A') + s[1:] }

// BenchSearch measures the first page (50) of ListUsers with a search,
// over a store of BenchUsers users from SeedSearch. The searches go from
// a user of their own to most of the store:
//   - one: the number in one user's email, found once;
//   - few: a number found in about a dozen emails;
//   - first-name: a first name, about one user in 16, the emails it
//     finds next to each other in email order;
//   - domain: an email domain, a quarter of the users, everywhere;
//   - none: text nobody holds;
//   - short: two letters, which no trigram index serves.
//
// settle, when not nil, runs after the store is filled: what the
// database would do on its own before long (PostgreSQL's autovacuum).
// A store holding users already is taken to be one SeedSearch filled
// with BenchUsers users (a store kept from an earlier run, so that two
// builds are measured on the same users without a seeding of minutes
// each): it is searched as it is.
func BenchSearch(b *testing.B, s store.Admin, settle func()) {
	n := BenchUsers(b)
	var held int
	if err := s.Read(b.Context(), func(tx store.Tx) error {
		var err error
		held, err = tx.UserCount(b.Context())
		return err
	}); err != nil {
		b.Fatal(err)
	}
	if held == 0 {
		SeedSearch(b, s, n)
		if settle != nil {
			settle()
		}
	}
	for _, c := range []struct{ name, search string }{
		{"one", fmt.Sprintf("%d@", n*2/3)},
		{"few", strconv.Itoa(n / 3)[:len(strconv.Itoa(n))-2]},
		{"first-name", "grace."},
		{"domain", "@corp.example"},
		{"none", "nobody-at-all"},
		{"short", "zq"},
	} {
		b.Run(c.name, func(b *testing.B) {
			found := 0
			search := func() {
				err := s.Read(b.Context(), func(tx store.Tx) error {
					page, err := tx.ListUsers(b.Context(), roster.UserFilter{Search: c.search, Limit: 50})
					found = len(page.Items)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			// Once untimed: the first search reads its pages from disk
			// (a first search for a rare text on PostgreSQL took 129 ms,
			// the next ones 2 ms), which would otherwise weigh on a
			// mean of 20.
			search()
			cpu := cpuTime()
			for b.Loop() {
				search()
			}
			b.ReportMetric(float64(found), "users/page")
			// This process's CPU time, which other work on the machine
			// moves less than wall time: SQLite's work, not PostgreSQL's.
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}
