package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

// marshalSum is the hash as chaining first computed it, through
// json.Marshal: stores hold hashes made so, which sum must reproduce.
func marshalSum(t *testing.T, e ChainedEvent, details json.RawMessage) []byte {
	t.Helper()
	fields, err := json.Marshal([]any{e.ID, e.Org, e.At.UnixMicro(), e.Actor, e.ActorID, e.Via, e.Action,
		e.Target, e.TargetID, details})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	h.Write(e.Prev)
	h.Write(fields)
	return h.Sum(nil)
}

// TestSumEncodesAsMarshal holds sum's hand-written encoding to
// json.Marshal's, on texts that need no escaping and texts that do:
// quotes, backslashes, HTML, control characters, U+2028, invalid UTF-8.
func TestSumEncodesAsMarshal(t *testing.T) {
	texts := []string{"", "ann@example.com", "user.create", "cli", `a"b`, `a\b`, "<script>", "a&b", "tab\there",
		"new\nline", "\x00\x1f\x7f", "é", "line\u2028sep\u2029", "bad\xffutf8", "\xe2\x80", "emoji 🙂"}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() string {
		if r.IntN(4) > 0 {
			return texts[r.IntN(len(texts))]
		}
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	for i := range 2000 {
		d, err := json.Marshal(map[string]any{"roles": []string{pick()}, "source": pick(), "n": r.Int64()})
		if err != nil {
			t.Fatal(err)
		}
		e := ChainedEvent{ID: int64(i) + 1, Org: r.Int64N(5), At: time.UnixMicro(r.Int64()), Actor: pick(),
			ActorID: r.Int64N(100) - 1, Via: pick(), Action: pick(), Target: pick(), TargetID: r.Int64()}
		if i%2 == 1 {
			e.Prev = marshalSum(t, e, d)
		}
		if got, want := e.sum(d), marshalSum(t, e, d); !bytes.Equal(got, want) {
			t.Fatalf("event %+v, details %s: sum %x, json.Marshal's %x", e, d, got, want)
		}
	}
}

// TestMarshalDetailsAsMarshal holds MarshalDetails to json.Marshal, byte
// for byte, on the types it writes itself and on others it leaves to
// json.Marshal.
func TestMarshalDetailsAsMarshal(t *testing.T) {
	texts := []string{"", "member", "ann@example.com", `a"b`, "<b>&", "tab\there", "é", "line\u2028", "bad\xffutf8", "🙂"}
	r := rand.New(rand.NewPCG(3, 4))
	values := func() any {
		switch r.IntN(11) {
		case 0:
			return texts[r.IntN(len(texts))]
		case 1:
			return r.IntN(2) == 0
		case 2:
			return r.IntN(1000) - 500
		case 3:
			return r.Int64()
		case 4:
			return []string(nil)
		case 5:
			return []string{}
		case 6:
			return []string{texts[r.IntN(len(texts))], texts[r.IntN(len(texts))]}
		case 7:
			return map[string]any{"from": texts[r.IntN(len(texts))], "to": 1.5}
		case 8:
			if r.IntN(2) == 0 {
				return roster.Status(texts[r.IntN(len(texts))])
			}
			return roster.KindService
		case 9:
			return nil
		default:
			return time.UnixMicro(r.Int64N(1 << 50)).UTC()
		}
	}
	for range 3000 {
		details := map[string]any{}
		for range r.IntN(5) {
			details[texts[r.IntN(len(texts))]+"k"] = values()
		}
		want, err := json.Marshal(details)
		if len(details) == 0 {
			want = []byte("{}")
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := MarshalDetails(details)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("MarshalDetails(%#v) = %s, %v; json.Marshal: %s", details, got, err, want)
		}
	}
}
