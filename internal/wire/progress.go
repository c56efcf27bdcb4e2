package wire

import (
	"fmt"
	"strconv"
	"strings"
)

// ProgressHeader asks for, and carries, the progress of a long import or
// apply (docs/api.md, "Progress"). A request sent with it (any value but
// an empty one) asks the server to send, while the work runs,
// informational 102 Processing responses before the final one; each
// carries the header again, saying how far the work has got when the
// server knows:
//
//	Roster-Progress: stage=applying, done=12000, total=100000
//
// It is asked for, not sent to everyone, because a client or a proxy
// that cannot relay 1xx responses would take the first 102 for the
// answer.
const ProgressHeader = "Roster-Progress"

// FormatProgress is the value of ProgressHeader on a 102: done of total
// rows through stage (total 0: not known).
func FormatProgress(stage string, done, total int) string {
	s := fmt.Sprintf("stage=%s, done=%d", stage, done)
	if total > 0 {
		s += fmt.Sprintf(", total=%d", total)
	}
	return s
}

// ParseProgress reads a value FormatProgress wrote; ok is false when it
// names no stage. Members it does not know are ignored, so that the
// server may add some.
func ParseProgress(v string) (stage string, done, total int, ok bool) {
	for _, member := range strings.Split(v, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(member), "=")
		switch name {
		case "stage":
			stage = value
		case "done":
			done, _ = strconv.Atoi(value)
		case "total":
			total, _ = strconv.Atoi(value)
		}
	}
	return stage, done, total, stage != ""
}
