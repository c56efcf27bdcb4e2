package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	for _, tc := range []struct {
		file string
		want wrkResult
	}{
		// Captured from wrk 4.1.0 (Debian) against roster serve.
		{"testdata/wrk-latency.txt", wrkResult{Requests: 4475, RPS: 2231.26,
			P50: 5950 * time.Microsecond, P99: 71790 * time.Microsecond}},
		// A bad token: every answer a 401 or 429, latencies in µs.
		{"testdata/wrk-errors.txt", wrkResult{Requests: 27095, RPS: 27072.45,
			P50: 104 * time.Microsecond, P99: 3470 * time.Microsecond, Non2xx: 27095}},
	} {
		out, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseWrk(string(out))
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.file, got, tc.want)
		}
	}
}

func TestParseWrkSocketErrors(t *testing.T) {
	out := `  Latency Distribution
     50%    1.50s
     99%    2.00m
  10 requests in 10.00s, 1.00KB read
  Socket errors: connect 1, read 2, write 3, timeout 4
Requests/sec:      1.00
`
	got, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 10, RPS: 1, P50: 1500 * time.Millisecond, P99: 2 * time.Minute, SocketErrors: 10}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestParseWrkIncomplete(t *testing.T) {
	// Without --latency wrk prints no distribution.
	out, err := os.ReadFile("testdata/wrk-latency.txt")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for line := range strings.Lines(string(out)) {
		if !strings.Contains(line, "%  ") {
			kept = append(kept, line)
		}
	}
	if _, err := parseWrk(strings.Join(kept, "")); err == nil {
		t.Error("parsed output without latencies; want an error")
	}
}
