package output

import (
	"bytes"
	"testing"
)

type item struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// TestStreamMatchesList: a list printed in pages reads the same as the
// list printed at once, in every format.
func TestStreamMatchesList(t *testing.T) {
	all := []item{{"a", []string{"x"}}, {"b", nil}, {"c", []string{}}}
	rows := func(items []item) Rows {
		r := Rows{Header: []string{"NAME", "TAGS"}}
		for _, it := range items {
			r.Add(it.Name, it.Name, "t")
		}
		return r
	}
	for _, f := range Formats {
		for _, pages := range [][][]item{{all}, {all[:1], all[1:]}, {all[:1], nil, all[1:2], all[2:]}, {}} {
			var want, got bytes.Buffer
			var flat []item
			for _, p := range pages {
				flat = append(flat, p...)
			}
			if flat == nil {
				flat = []item{}
			}
			if err := (&Printer{W: &want, Format: f}).List(flat, rows(flat)); err != nil {
				t.Fatal(err)
			}
			s := (&Printer{W: &got, Format: f}).Stream([]string{"NAME", "TAGS"})
			for _, p := range pages {
				anys := make([]any, len(p))
				for i := range p {
					anys[i] = p[i]
				}
				if err := s.Page(anys, rows(p)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%s in %d pages:\n got %q\nwant %q", f, len(pages), got.String(), want.String())
			}
		}
	}
}

// TestTerminalTextIsVisible: a value holding an escape sequence or a bidi
// override (stored before roster refused them) cannot drive the terminal
// through a table or tab-separated lines.
func TestTerminalTextIsVisible(t *testing.T) {
	evil := "eve\x1b[2J\u202etxt.exe\u200b"
	for _, f := range []Format{Table, TSV} {
		var b bytes.Buffer
		rows := Rows{Header: []string{"NAME"}}
		rows.Add(evil, evil)
		if err := (&Printer{W: &b, Format: f}).List([]item{{Name: evil}}, rows); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"\x1b", "\u202e", "\u200b"} {
			if bytes.Contains(b.Bytes(), []byte(bad)) {
				t.Errorf("%s output holds %q: %q", f, bad, b.String())
			}
		}
		if !bytes.Contains(b.Bytes(), []byte("eve\ufffd[2J\ufffdtxt.exe")) {
			t.Errorf("%s output lost the visible text: %q", f, b.String())
		}
	}
}
