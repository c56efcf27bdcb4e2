package records

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
)

// TestBadLinesCounted: past MaxLineErrors the bad lines are still
// counted, and those listed are the first by line number, whatever order
// they were found in (issue 22: 1,500 bad lines were "1000 bad lines").
func TestBadLinesCounted(t *testing.T) {
	var csv strings.Builder
	csv.WriteString("email\n")
	for i := range 1500 {
		fmt.Fprintf(&csv, "not-an-email-%d\n", i)
	}
	_, bad, err := ReadUsers(strings.NewReader(csv.String()), "csv")
	if err != nil {
		t.Fatal(err)
	}
	if bad.Len() != 1500 {
		t.Fatalf("Len = %d, want 1500", bad.Len())
	}
	// A later check (the rules') finds an earlier line: it is listed, and
	// the last line listed before is not.
	bad.Add(1, roster.Errorf(roster.ErrInvalid, "header trouble"))
	lines := bad.Lines()
	if len(lines) != MaxLineErrors || lines[0].Line != 1 || lines[1].Line != 2 || lines[len(lines)-1].Line != MaxLineErrors {
		t.Fatalf("lines kept: %d, first %v, second %v, last %v", len(lines), lines[0], lines[1], lines[len(lines)-1])
	}
	var ie *roster.InputErrors
	err = bad.Err("import", roster.ErrInvalid)
	if !asInput(err, &ie) || ie.Count() != 1501 || ie.More() != 501 {
		t.Fatalf("Err = %v (%+v)", err, ie)
	}
	if got, want := err.Error(), "import: 1501 bad lines; nothing was written"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if got, want := ie.MoreText(), "… and 501 more bad lines"; got != want {
		t.Errorf("MoreText %q, want %q", got, want)
	}
}

func asInput(err error, ie **roster.InputErrors) bool {
	e, ok := err.(*roster.InputErrors)
	*ie = e
	return ok
}

// TestJSONLByteOrderMark: a JSON-lines file may start with a UTF-8 BOM,
// as CSV and YAML files may.
func TestJSONLByteOrderMark(t *testing.T) {
	recs, bad, err := ReadUsers(strings.NewReader("\ufeff{\"email\":\"a@example.com\"}\n{\"email\":\"b@example.com\"}\n"), "jsonl")
	if err != nil || bad.Len() != 0 || len(recs) != 2 {
		t.Fatalf("ReadUsers = %d records, %v, %v", len(recs), bad.Lines(), err)
	}
	m, bad, err := ReadManifest(strings.NewReader("\ufeffusers:\n- email: a@example.com\n"))
	if err != nil || bad.Len() != 0 || len(m.Users) != 1 {
		t.Fatalf("ReadManifest = %+v, %v, %v", m, bad.Lines(), err)
	}
}

// TestUnknownFieldHidesNothing: a field the records lack is one bad
// line among the others (issue 22: it was the only one reported).
func TestUnknownFieldHidesNothing(t *testing.T) {
	for name, doc := range map[string]string{
		"by item": "users:\n- email: a@example.com\n  shoe: 1\n- email: not-an-email\n- email: c@example.com\n",
		"whole":   "users: [{email: a@example.com, shoe: 1}, {email: not-an-email}, {email: c@example.com}]\n",
		"head":    "projects:\n- slug: web\n  shoe: 1\n- slug: Not_A_Slug\nusers:\n- email: a@example.com\n",
	} {
		t.Run(name, func(t *testing.T) {
			m, bad, err := ReadManifest(strings.NewReader(doc))
			if err != nil {
				t.Fatal(err)
			}
			var msgs []string
			for _, l := range bad.Lines() {
				msgs = append(msgs, l.String())
			}
			text := strings.Join(msgs, "\n")
			if !strings.Contains(text, "unknown field shoe") || !strings.Contains(text, "invalid") || bad.Len() < 2 {
				t.Errorf("bad lines:\n%s", text)
			}
			for _, u := range m.Users {
				if u.Email == "a@example.com" && name != "head" {
					t.Errorf("the record with an unknown field is kept for the rules: %+v", u)
				}
			}
		})
	}
	_, bad, _ := ReadManifest(strings.NewReader("users:\n- email: a@example.com\n  shoe: 1\n- email: not-an-email\n"))
	want := []string{"line 3: unknown field shoe", `line 4: invalid email "not-an-email"`}
	var got []string
	for _, l := range bad.Lines() {
		got = append(got, l.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bad lines %q, want %q", got, want)
	}
}

// TestReadByItemAsWhole: a manifest read a user at a time gives what
// reading it whole gives, lines included, and anything the split might
// misread is read whole.
func TestReadByItemAsWhole(t *testing.T) {
	docs := []string{
		"users:\n- email: a@example.com\n  roles: [admin]\n  links: {github: a}\n- email: b@example.com\n  status: deactivated\n",
		"permissions:\n- {name: invoices.view, description: see invoices}\nusers:\n- email: a@example.com\n\n# a comment\n- email: b@example.com\n  projects: [web]\nroles:\n- {name: billing, permissions: [invoices.view]}\nprojects:\n- slug: web\n",
		"users:\n  - email: a@example.com\n    name: |\n      Ann\n  - email: b@example.com\n",
		"users:\n-\n  email: a@example.com\n- # first\n  email: b@example.com\n",
		"users: # everyone\n- &x {email: a@example.com, roles: [admin]}\n- email: b@example.com\n",
		"users:\n- {email: a@example.com,\nname: x}\n",
		"users:\n- email: \"a@example.com\n- email: b@example.com\"\n",
		"users:\n- email: a@example.com\n  name: *nope\n",
		"users:\n- email: a@example.com\n---\nusers: []\n",
		"users:\n- email: a@example.com\nusers:\n- email: b@example.com\n",
		"users:\n- email: a@example.com\n- email: a@example.com\n",
		"users:\n- email: a@example.com\n  username: ann\n- email: b@example.com\n  username: ANN\n",
		"users:\n- email: a@example.com\n  roles: admin\n",
	}
	for _, doc := range docs {
		whole, wholeBad := readWhole([]byte(doc))
		got, gotBad, err := ReadManifest(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if wholeBad.Len() > 0 || gotBad.Len() > 0 {
			if wholeBad.Len() == 0 || gotBad.Len() == 0 {
				t.Errorf("%q: bad lines %v read whole, %v by item", doc, wholeBad.Lines(), gotBad.Lines())
			}
			continue
		}
		if !reflect.DeepEqual(got, whole) {
			t.Errorf("%q:\nby item %+v\nwhole   %+v", doc, got, whole)
		}
	}
	if _, items, ok := splitUsers([]byte(docs[0])); !ok || len(items) != 2 {
		t.Errorf("an export's shape is not read by item: %v, %v", items, ok)
	}
}

// BenchmarkReadManifest100k reads a 100,000-user export; its B/op is
// what the reading allocates in all, not its peak.
func BenchmarkReadManifest100k(b *testing.B) {
	var doc bytes.Buffer
	w, _ := NewWriter(&doc, "yaml")
	w.Begin(roster.Manifest{Projects: []roster.ProjectRecord{{Slug: "web"}}})
	for i := range 100_000 {
		w.Write(roster.UserRecord{Email: fmt.Sprintf("u%07d@example.com", i), Name: fmt.Sprintf("User %d", i),
			Roles: []string{"member"}, Projects: []string{"web"}, Status: roster.StatusActive})
	}
	w.Close()
	for b.Loop() {
		m, bad, err := ReadManifest(bytes.NewReader(doc.Bytes()))
		if err != nil || bad.Len() > 0 || len(m.Users) != 100_000 {
			b.Fatal(err, bad.Lines())
		}
	}
}
