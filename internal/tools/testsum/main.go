// Command testsum reads go test -json on stdin and prints what make test
// shows: each package's ok or FAIL line as go test prints them, the whole
// output of every failed test, every skipped test with its reason, and a
// closing count. Plain go test hides skips behind "ok"; the README
// promises that the tests that skip say why.
//
//	go test -json ./... | go run ./internal/tools/testsum
//
// It exits 1 when a test or package failed, or when there was nothing to
// read.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// skip is a skipped test and why.
type skip struct{ pkg, test, why string }

// summary is what testsum has seen.
type summary struct {
	passed, failed int
	skipped        []skip
	pkgFailed      bool
	events         int
}

func main() {
	s, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(1)
	}
	if s.failed > 0 || s.pkgFailed || s.events == 0 {
		os.Exit(1)
	}
}

// reason finds the message of a t.Skip in a test's output:
// "    file_test.go:12: why".
var reason = regexp.MustCompile(`^\s+\S+\.go:\d+: (.+)$`)

func summarize(in io.Reader, out io.Writer) (summary, error) {
	var s summary
	buffered := map[string][]string{} // package and test -> output so far
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(out, "%s\n", line) // not an event: pass it on
			continue
		}
		s.events++
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(out, e.Output)
		case e.Action == "build-fail":
			s.pkgFailed = true
		case e.Test == "":
			// The package's own lines: ok, FAIL, a panic or a timeout.
			switch e.Action {
			case "output":
				if e.Output != "PASS\n" && e.Output != "FAIL\n" {
					fmt.Fprint(out, e.Output)
				}
			case "fail":
				s.pkgFailed = true
			}
		case e.Action == "output":
			buffered[key] = append(buffered[key], e.Output)
		case e.Action == "pass":
			s.passed++
			delete(buffered, key)
		case e.Action == "fail":
			s.failed++
			fmt.Fprint(out, strings.Join(buffered[key], ""))
			delete(buffered, key)
		case e.Action == "skip":
			why := "(no reason given)"
			for _, l := range buffered[key] {
				if m := reason.FindStringSubmatch(strings.TrimRight(l, "\n")); m != nil {
					why = m[1]
					break
				}
			}
			s.skipped = append(s.skipped, skip{e.Package, e.Test, why})
			delete(buffered, key)
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if len(s.skipped) > 0 {
		fmt.Fprintf(out, "\nskipped, and why:\n")
		for _, k := range s.skipped {
			fmt.Fprintf(out, "  %s %s: %s\n", strings.TrimPrefix(k.pkg, "github.com/roster-dev/roster/"), k.test, k.why)
		}
	}
	if s.events == 0 {
		return s, fmt.Errorf("no go test -json events on stdin")
	}
	fmt.Fprintf(out, "\n%d passed, %d failed, %d skipped\n", s.passed, s.failed, len(s.skipped))
	return s, nil
}
