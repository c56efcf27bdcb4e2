package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/roster-dev/roster/internal/roster"
)

// The audit log's tamper evidence (DESIGN.md, "The audit log as a
// stream"). Each event carries the SHA-256 of its fields and of the hash
// of the event before it in its organisation, so that an event changed,
// removed or inserted by hand breaks the chain where it happened. The
// adapters compute the hash inside the write transaction that records the
// event; writes are serialised, so each organisation's chain is a line.
// The hash is not keyed: it shows what was done behind roster's back, not
// who could have rewritten the whole log from the first event on.

// ChainedEvent is an audit event as stored, with its place in the chain.
type ChainedEvent struct {
	ID       int64
	Org      int64
	At       time.Time
	Actor    string
	ActorID  int64
	Via      string
	Action   string
	Target   string
	TargetID int64
	Details  json.RawMessage // as stored: SQLite's text, PostgreSQL's jsonb
	Prev     []byte          // the hash of the event before; empty for the first
	Hash     []byte
}

// Chain makes the event e recorded as id in org, after the event whose
// hash is prev, with its hash.
func Chain(e AuditEntry, org, id int64, prev []byte) (ChainedEvent, error) {
	details, err := MarshalDetails(e.Details)
	if err != nil {
		return ChainedEvent{}, fmt.Errorf("audit details: %w", err)
	}
	c := ChainedEvent{ID: id, Org: org, At: e.At.Truncate(time.Microsecond), Actor: e.Actor, ActorID: e.ActorID,
		Via: e.Via, Action: e.Action, Target: e.Target, TargetID: e.TargetID, Details: details, Prev: prev}
	// Go's encoding is already canonical (sorted keys, numbers as
	// written): Sum's decoding again is for details read back.
	c.Hash = c.sum(details)
	return c, nil
}

// Sum is the hash e should carry: SHA-256 over its previous event's hash
// and a canonical JSON array of its fields. Details are decoded and
// encoded again so that PostgreSQL's jsonb, which keeps no key order nor
// spacing, hashes as SQLite's text does.
func (e ChainedEvent) Sum() ([]byte, error) {
	var details any
	dec := json.NewDecoder(bytes.NewReader(e.Details))
	dec.UseNumber()
	if err := dec.Decode(&details); err != nil {
		return nil, fmt.Errorf("audit event %d: details: %w", e.ID, err)
	}
	canonical, err := json.Marshal(details)
	if err != nil {
		return nil, fmt.Errorf("audit event %d: details: %w", e.ID, err)
	}
	return e.sum(canonical), nil
}

// sum is Sum over details already in canonical form: as json.Marshal
// writes them (compact, HTML characters escaped). The fields are written
// as json.Marshal would write them, []any{ID, Org, At in µs, Actor,
// ActorID, Via, Action, Target, TargetID, details}, byte for byte (see
// TestSumEncodesAsMarshal), without its reflection: an import of 100,000
// users spent a tenth of its time chaining its events, most of it there.
func (e ChainedEvent) sum(details json.RawMessage) []byte {
	// On the stack for most events: an import hashes one per user.
	var buf [512]byte
	b := append(buf[:0], e.Prev...)
	b = append(b, '[')
	b = strconv.AppendInt(b, e.ID, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, e.Org, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, e.At.UnixMicro(), 10)
	b = appendJSONString(b, e.Actor)
	b = append(b, ',')
	b = strconv.AppendInt(b, e.ActorID, 10)
	b = appendJSONString(b, e.Via)
	b = appendJSONString(b, e.Action)
	b = appendJSONString(b, e.Target)
	b = append(b, ',')
	b = strconv.AppendInt(b, e.TargetID, 10)
	b = append(b, ',')
	b = append(b, details...)
	b = append(b, ']')
	h := sha256.Sum256(b)
	return h[:]
}

// MarshalDetails is json.Marshal(details), byte for byte ("{}" for
// none), written by hand for the values events hold most (texts, lists
// of texts, booleans, integers), and by json.Marshal for any other: an
// import of 100,000 users spent a twentieth of its CPU in json.Marshal's
// reflection over its events' details.
func MarshalDetails(details map[string]any) ([]byte, error) {
	if len(details) == 0 {
		return []byte("{}"), nil
	}
	b := make([]byte, 0, 64)
	// The keys sorted in an array on the stack: slices.Sorted(maps.Keys)
	// took most of the time here, in an import of users into projects.
	var array [8]string
	keys := array[:0]
	for k := range details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(appendQuoted(b, k), ':')
		var ok bool
		if b, ok = appendJSONValue(b, details[k]); !ok {
			return json.Marshal(details)
		}
	}
	return append(b, '}'), nil
}

// appendJSONValue appends v as json.Marshal writes it, if v is of a type
// it knows; ok is false if not.
func appendJSONValue(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case string:
		return appendQuoted(b, v), true
	case roster.Status: // no marshaler of its own: a string to json.Marshal
		return appendQuoted(b, string(v)), true
	case roster.Kind:
		return appendQuoted(b, string(v)), true
	case bool:
		return strconv.AppendBool(b, v), true
	case int:
		return strconv.AppendInt(b, int64(v), 10), true
	case int64:
		return strconv.AppendInt(b, v, 10), true
	case []string:
		if v == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendQuoted(b, s)
		}
		return append(b, ']'), true
	}
	return b, false
}

// appendJSONString appends a comma and s as json.Marshal writes a
// string.
func appendJSONString(b []byte, s string) []byte {
	return appendQuoted(append(b, ','), s)
}

// appendQuoted appends s as json.Marshal writes a string: as it is
// between quotes when every byte is printable ASCII that JSON and
// json.Marshal's HTML escaping leave alone (an email, an action),
// otherwise through json.Marshal itself.
func appendQuoted(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// PruneAction is the action of the event audit prune records. Its details
// name, as "anchor", the hash the first event kept chains to: the chain
// is verifiable from there.
const PruneAction = "audit.prune"

// ChainProblem is the first break in a chain: which event, and what
// became of it.
type ChainProblem struct {
	ID   int64  // the event where the chain breaks
	Kind string // "changed", "removed" (events before ID are missing) or "inserted"
	Text string
}

// ChainCheck verifies an organisation's chain, fed its events in id order.
type ChainCheck struct {
	n        int
	first    ChainedEvent
	last     ChainedEvent // the last event accepted
	pending  *ChainedEvent
	anchors  map[string]bool
	problem  *ChainProblem
	lastID   int64
	firstSet bool
}

// Add feeds the next event; it returns false once a problem is found.
func (c *ChainCheck) Add(e ChainedEvent) bool {
	if c.problem != nil {
		return false
	}
	c.n++
	c.lastID = e.ID
	if e.Action == PruneAction {
		c.noteAnchor(e)
	}
	if c.pending != nil {
		// The event before did not hash right: if this one chains to the
		// event before that, the other was slipped in between.
		p := *c.pending
		if len(p.Hash) == 0 || c.n > 2 && bytes.Equal(e.Prev, c.last.Hash) || c.n == 2 && len(e.Prev) == 0 {
			c.fail(p.ID, "inserted", "event %d was inserted: the event after it chains to the one before it", p.ID)
		} else {
			c.fail(p.ID, "changed", "event %d was changed: its hash does not match its contents", p.ID)
		}
		return false
	}
	sum, err := e.Sum()
	if err != nil || !bytes.Equal(sum, e.Hash) {
		c.pending = &e
		return true
	}
	switch {
	case !c.firstSet:
		c.first, c.firstSet = e, true
	case !bytes.Equal(e.Prev, c.last.Hash):
		c.fail(e.ID, "removed", "events were removed between %d and %d: event %d does not chain to event %d", c.last.ID, e.ID, e.ID, c.last.ID)
		return false
	}
	c.last = e
	return true
}

func (c *ChainCheck) noteAnchor(e ChainedEvent) {
	var d struct {
		Anchor string `json:"anchor"`
	}
	if json.Unmarshal(e.Details, &d) == nil && d.Anchor != "" {
		if c.anchors == nil {
			c.anchors = map[string]bool{}
		}
		c.anchors[d.Anchor] = true
	}
}

func (c *ChainCheck) fail(id int64, kind, format string, args ...any) {
	c.problem = &ChainProblem{ID: id, Kind: kind, Text: fmt.Sprintf(format, args...)}
}

// Result ends the check: how many events were read, the first and last
// ids, and the first problem, if any.
func (c *ChainCheck) Result() (n int, first, last int64, problem *ChainProblem) {
	if c.problem == nil && c.pending != nil {
		if p := *c.pending; len(p.Hash) == 0 {
			c.fail(p.ID, "inserted", "event %d was inserted: it has no hash", p.ID)
		} else {
			c.fail(p.ID, "changed", "event %d was changed: its hash does not match its contents", p.ID)
		}
	}
	if c.problem == nil && c.firstSet && len(c.first.Prev) > 0 && !c.anchors[hex.EncodeToString(c.first.Prev)] {
		// The log starts after its beginning, and no prune says so.
		c.fail(c.first.ID, "removed", "events were removed before %d: it chains to an event that is gone and no audit prune recorded", c.first.ID)
	}
	return c.n, c.first.ID, c.lastID, c.problem
}

// Rechain gives an organisation's events, read a page at a time by next,
// the hashes that chain them in id order, and writes each with update:
// the migration that brings the chain to events recorded before it.
func Rechain(ctx context.Context, org int64, next func(afterID int64) ([]ChainedEvent, error), update func(ChainedEvent) error) error {
	var prev []byte
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := next(after)
		if err != nil || len(page) == 0 {
			return err
		}
		for _, c := range page {
			c.Prev = prev
			if c.Hash, err = c.Sum(); err != nil {
				return err
			}
			if err := update(c); err != nil {
				return err
			}
			prev, after = c.Hash, c.ID
		}
	}
}

// chainPage is how many events VerifyAudit reads at a time.
const chainPage = 1000

// VerifyAudit checks the chain of tx's organisation, a page at a time.
func VerifyAudit(ctx context.Context, tx Tx) (roster.AuditVerification, error) {
	var c ChainCheck
	var after int64
	for {
		page, err := tx.AuditChain(ctx, after, chainPage)
		if err != nil {
			return roster.AuditVerification{}, err
		}
		for _, e := range page {
			if !c.Add(e) {
				break
			}
			after = e.ID
		}
		if len(page) < chainPage || c.problem != nil {
			break
		}
	}
	n, first, last, p := c.Result()
	v := roster.AuditVerification{Events: n, FirstID: first, LastID: last, Intact: p == nil}
	if p != nil {
		v.BrokenAt, v.Problem, v.Message = p.ID, p.Kind, p.Text
	}
	return v, nil
}

// Event is e as the audit log shows it.
func (e ChainedEvent) Event() (roster.AuditEvent, error) {
	ev := roster.AuditEvent{ID: e.ID, At: e.At, Actor: e.Actor, Via: e.Via, Action: e.Action, Target: e.Target,
		Details: map[string]any{}}
	if err := json.Unmarshal(e.Details, &ev.Details); err != nil {
		return ev, fmt.Errorf("audit event %d: details: %w", e.ID, err)
	}
	return ev, nil
}
