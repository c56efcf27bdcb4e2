package sqlite

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestSharedValues: rows inserted with their shared columns bound once
// are the rows, value and type, that binding every value inserts; and a
// column the rows share is bound once.
func TestSharedValues(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	const width = 5
	for _, table := range []string{"plain", "shared"} {
		if _, err := db.Exec(`CREATE TABLE ` + table + ` (c0, c1, c2, c3, c4)`); err != nil {
			t.Fatal(err)
		}
	}
	pool := []any{nil, int64(0), int64(7), "", "a", "a'b", "é", true, false, 1.5, []byte{}, []byte{1, 2}, []byte("a")}
	rng := rand.New(rand.NewPCG(1, 2))
	sharedOnce := 0
	for round := range 300 {
		rows := 1 + rng.IntN(40)
		vals := make([]any, rows*width)
		constant := make([]bool, width)
		for c := range width {
			constant[c] = rng.IntN(2) == 0
			v := pool[rng.IntN(len(pool))]
			for r := range rows {
				if !constant[c] {
					v = pool[rng.IntN(len(pool))]
				}
				vals[r*width+c] = v
			}
		}
		if _, err := db.Exec(`INSERT INTO plain `+"VALUES "+values(rows, width), vals...); err != nil {
			t.Fatal(err)
		}
		q, args := sharedValues(vals, width)
		if _, err := db.Exec(`INSERT INTO shared `+q, args...); err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, q)
		}
		if len(args) < len(vals) {
			sharedOnce++
		}
		for c := 1; c < width && rows > 1; c++ {
			if _, blob := vals[c].([]byte); constant[c] && !blob && len(args) > len(vals)-(rows-1) {
				t.Fatalf("round %d: column %d holds one value in %d rows, bound %d values of %d", round, c, rows, len(args), len(vals))
			}
		}
		if got, want := dump(t, db, "shared"), dump(t, db, "plain"); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: shared rows\n%v\nplain rows\n%v", round, got, want)
		}
		db.Exec(`DELETE FROM plain`)
		db.Exec(`DELETE FROM shared`)
	}
	if sharedOnce < 100 {
		t.Errorf("a column was shared in %d rounds of 300", sharedOnce)
	}
}

func dump(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT quote(c0), quote(c1), quote(c2), quote(c3), quote(c4), typeof(c0) || typeof(c1) || typeof(c2) || typeof(c3) || typeof(c4) FROM ` + table + ` ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, b, c, d, e, types string
		if err := rows.Scan(&a, &b, &c, &d, &e, &types); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(a, b, c, d, e, types))
	}
	return out
}
