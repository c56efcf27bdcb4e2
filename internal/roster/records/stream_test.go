package records

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
)

// TestStartUsersAsReadUsers: the records and bad lines a file gives as it
// is read are those ReadUsers gives, in both formats, and a chunk is
// there as soon as its records are, before the file ends.
func TestStartUsersAsReadUsers(t *testing.T) {
	var csv, jsonl strings.Builder
	csv.WriteString("email,name,roles\n")
	for i := range 3000 {
		if i%700 == 0 {
			fmt.Fprintf(&csv, "bad-%d,,\n", i)
			fmt.Fprintf(&jsonl, "{\"email\": \"bad-%d\"}\n", i)
			continue
		}
		fmt.Fprintf(&csv, "u%d@example.com,User %d,member\n", i, i)
		fmt.Fprintf(&jsonl, "{\"email\": \"u%d@example.com\", \"name\": \"User %d\", \"roles\": [\"member\"]}\n", i, i)
	}
	fmt.Fprintf(&csv, "u1@example.com,again,\n") // the file's own duplicate
	for format, text := range map[string]string{"csv": csv.String(), "jsonl": jsonl.String()} {
		want, wantBad, err := ReadUsers(strings.NewReader(text), format)
		if err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe()
		u, err := StartUsers(pr, format)
		if err != nil {
			t.Fatal(err)
		}
		// The first half of the file, then its first records, before the
		// rest is written.
		half := strings.Index(text[len(text)/2:], "\n") + len(text)/2 + 1
		if _, err := io.WriteString(pw, text[:half]); err != nil {
			t.Fatal(err)
		}
		first := u.Chunk(0, 500)
		if !reflect.DeepEqual(first, want[:500]) {
			t.Fatalf("%s: the first chunk differs from ReadUsers' records", format)
		}
		if n, all := u.Count(); all || n < 500 {
			t.Fatalf("%s: Count = %d, %v before the file ended", format, n, all)
		}
		go func() {
			io.WriteString(pw, text[half:])
			pw.Close()
		}()
		var got []roster.UserRecord
		for i := 0; ; i += 1000 {
			c := u.Chunk(i, 1000)
			if len(c) == 0 {
				break
			}
			got = append(got, c...)
		}
		bad, err := u.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d records, ReadUsers %d, or they differ", format, len(got), len(want))
		}
		if !reflect.DeepEqual(bad.Lines(), wantBad.Lines()) || bad.Len() != wantBad.Len() || bad.Len() == 0 {
			t.Errorf("%s: bad lines %v, ReadUsers %v", format, bad.Lines(), wantBad.Lines())
		}
		if n, all := u.Count(); !all || n != len(want) {
			t.Errorf("%s: Count = %d, %v at the end", format, n, all)
		}
		u.Stop()
	}
}

// TestStartUsersStops: Stop ends a reading that has not ended, and a
// reading that failed says why.
func TestStartUsersStops(t *testing.T) {
	pr, pw := io.Pipe()
	u, err := StartUsers(pr, "csv")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		io.WriteString(pw, "email\n")
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(pw, "u%d@example.com\n", i); err != nil {
				return // the reader stopped and closed its end
			}
		}
	}()
	if c := u.Chunk(0, 10); len(c) != 10 {
		t.Fatalf("Chunk = %d records", len(c))
	}
	u.Stop() // returns: the endless file is no longer read
	pr.Close()

	failing, w := io.Pipe()
	u, _ = StartUsers(failing, "csv")
	go func() {
		io.WriteString(w, "email\nu1@example.com\n")
		w.CloseWithError(fmt.Errorf("connection lost"))
	}()
	if _, err := u.Wait(); err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Errorf("Wait = %v, want the reading's error", err)
	}
	if _, err := StartUsers(strings.NewReader(""), "xml"); err == nil {
		t.Error("an unknown format was started")
	}

	// A reading that panics fails, and does not take the process down.
	u, _ = StartUsers(panicking{}, "csv")
	if c := u.Chunk(0, 10); len(c) != 0 {
		t.Errorf("Chunk = %d records", len(c))
	}
	if _, err := u.Wait(); err == nil || !strings.Contains(err.Error(), "reading the file failed") {
		t.Errorf("Wait = %v, want the panic as an error", err)
	}
}

type panicking struct{}

func (panicking) Read([]byte) (int, error) { panic("a bug") }

// TestMergeErrors: merged bad lines are counted whole and listed by line,
// the lowest MaxLineErrors of both.
func TestMergeErrors(t *testing.T) {
	a, b := &Errors{}, &Errors{}
	for i := range MaxLineErrors + 200 {
		a.Add(2*i+2, fmt.Errorf("file %d", i)) // even lines from 2
		b.Add(2*i+1, fmt.Errorf("rule %d", i)) // odd lines from 1
	}
	a.Merge(b)
	if a.Len() != 2*(MaxLineErrors+200) {
		t.Fatalf("Len = %d", a.Len())
	}
	lines := a.Lines()
	if len(lines) != MaxLineErrors {
		t.Fatalf("%d lines kept", len(lines))
	}
	for i, l := range lines {
		if l.Line != i+1 {
			t.Fatalf("line %d listed as the %dth", l.Line, i+1)
		}
	}
	if lines[0].Message != "rule 0" || lines[1].Message != "file 0" {
		t.Errorf("messages %q, %q", lines[0].Message, lines[1].Message)
	}
}

// TestUsersChunks: chunks of any size, within a block or across blocks,
// give back the records in order, from a file being read and from
// records already read.
func TestUsersChunks(t *testing.T) {
	var csv strings.Builder
	csv.WriteString("email\n")
	for i := range 2*usersBlock + 452 {
		fmt.Fprintf(&csv, "u%d@example.com\n", i)
	}
	want, _, err := ReadUsers(strings.NewReader(csv.String()), "csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 700, usersBlock, usersBlock + 1, 1500, len(want), len(want) + 1} {
		read, err := StartUsers(strings.NewReader(csv.String()), "csv")
		if err != nil {
			t.Fatal(err)
		}
		for name, u := range map[string]*Users{"read": read, "given": UsersOf(want)} {
			var got []roster.UserRecord
			for i := 0; ; i += size {
				c := u.Chunk(i, size)
				if len(c) == 0 {
					break
				}
				if len(c) != min(size, len(want)-i) {
					t.Fatalf("%s, chunks of %d: Chunk(%d) = %d records", name, size, i, len(c))
				}
				got = append(got, c...)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s, chunks of %d: %d records, or not those read", name, size, len(got))
			}
			if c := u.Chunk(len(want)+5, size); len(c) != 0 {
				t.Errorf("%s: %d records past the end", name, len(c))
			}
		}
		read.Stop()
	}
}
