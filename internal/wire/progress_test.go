package wire

import "testing"

// TestProgress: what FormatProgress writes, ParseProgress reads back;
// members it does not know are ignored, and a value naming no stage is
// no progress.
func TestProgress(t *testing.T) {
	for _, tt := range []struct {
		v           string
		stage       string
		done, total int
		ok          bool
	}{
		{FormatProgress("applying", 12000, 100000), "applying", 12000, 100000, true},
		{FormatProgress("checking", 7, 0), "checking", 7, 0, true},
		{"stage=applying, done=3, total=9, eta=12", "applying", 3, 9, true},
		{"done=3, total=9", "", 3, 9, false},
		{"", "", 0, 0, false},
	} {
		stage, done, total, ok := ParseProgress(tt.v)
		if stage != tt.stage || done != tt.done || total != tt.total || ok != tt.ok {
			t.Errorf("ParseProgress(%q) = %q %d %d %v; want %q %d %d %v", tt.v, stage, done, total, ok, tt.stage, tt.done, tt.total, tt.ok)
		}
	}
	if v := FormatProgress("checking", 7, 0); v != "stage=checking, done=7" {
		t.Errorf("FormatProgress without a total = %q", v)
	}
}
