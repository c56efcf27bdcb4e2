package main

import (
	"strings"
	"testing"
)

// TestSummarize: package lines pass through, a failed test's output is
// shown whole, a skip is listed with its reason, and the closing line
// counts them.
func TestSummarize(t *testing.T) {
	in := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestOK"}
{"Action":"output","Package":"p","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"p","Test":"TestOK"}
{"Action":"output","Package":"p","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"p","Test":"TestBad","Output":"    bad_test.go:9: want 2, got 3\n"}
{"Action":"output","Package":"p","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"p","Test":"TestBad"}
{"Action":"output","Package":"p","Test":"TestPG","Output":"=== RUN   TestPG\n"}
{"Action":"output","Package":"p","Test":"TestPG","Output":"    pg_test.go:20: ROSTER_TEST_POSTGRES is not set\n"}
{"Action":"output","Package":"p","Test":"TestPG","Output":"--- SKIP: TestPG (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestPG"}
{"Action":"output","Package":"p","Output":"FAIL\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.01s\n"}
{"Action":"fail","Package":"p"}
go: downloading example.com/x v1.0.0
`
	var out strings.Builder
	s, err := summarize(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if s.passed != 1 || s.failed != 1 || len(s.skipped) != 1 || !s.pkgFailed {
		t.Errorf("summary %+v", s)
	}
	for _, want := range []string{
		"    bad_test.go:9: want 2, got 3\n--- FAIL: TestBad",
		"FAIL\tp\t0.01s\n",
		"  p TestPG: ROSTER_TEST_POSTGRES is not set\n",
		"go: downloading example.com/x v1.0.0\n",
		"\n1 passed, 1 failed, 1 skipped\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "TestOK") {
		t.Errorf("a passing test's output is shown:\n%s", out.String())
	}
	if _, err := summarize(strings.NewReader(""), &out); err == nil {
		t.Error("no events: no error")
	}
}
