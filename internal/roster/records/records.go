// Package records reads and writes the files of provisioning: the users
// of roster import (CSV with a header, or JSON lines), the manifest of
// roster apply (YAML or JSON) and the users of roster export. Readers
// check every record on its own and report every bad line, never only the
// first; the rules that need the store are the core's.
package records

import (
	"cmp"
	"container/heap"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/password"
	"github.com/roster-dev/roster/internal/roster"
)

// MaxLineErrors bounds the bad lines one file lists: past it, the rest of
// a file that is not what it should be is counted, not listed.
const MaxLineErrors = 1000

// Columns are the fields of a user record, in the order export writes them.
var Columns = []string{"email", "name", "username", "roles", "projects", "links", "status", "expires", "kind", "password_hash"}

// ListSeparator joins roles, projects and links inside one CSV field.
const ListSeparator = ";"

// Errors collects bad lines: every one is counted, and the MaxLineErrors
// of the lowest line numbers are kept, whatever order they were found in
// (the file's own checks first, the rules' later).
type Errors struct {
	kept  lineHeap
	total int
	seq   int
}

// Add records what is wrong with line; a domain error keeps its message.
func (e *Errors) Add(line int, err error) { e.add(line, err.Error()) }

func (e *Errors) add(line int, message string) {
	e.total++
	e.seq++
	if len(e.kept) >= MaxLineErrors {
		if line >= e.kept[0].Line {
			return
		}
		heap.Pop(&e.kept)
	}
	heap.Push(&e.kept, keptLine{LineError: roster.LineError{Line: line, Message: message}, seq: e.seq})
}

// Merge adds o's bad lines to e, as if each had been added after e's.
func (e *Errors) Merge(o *Errors) {
	for _, l := range o.Lines() {
		e.add(l.Line, l.Message)
	}
	e.total += o.total - len(o.kept) // counted by o, not listed
}

// Len is how many bad lines were added, listed or not.
func (e *Errors) Len() int { return e.total }

// Lines are the bad lines kept, in line order (for one line, in the
// order they were found).
func (e *Errors) Lines() []roster.LineError {
	k := slices.Clone(e.kept)
	slices.SortFunc(k, func(a, b keptLine) int { return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.seq, b.seq)) })
	out := make([]roster.LineError, len(k))
	for i, l := range k {
		out[i] = l.LineError
	}
	return out
}

// Clone returns a copy that adding to leaves e as it is.
func (e *Errors) Clone() *Errors {
	return &Errors{kept: slices.Clone(e.kept), total: e.total, seq: e.seq}
}

// Err is every bad line as one error of kind, or nil.
func (e *Errors) Err(what string, kind error) error {
	if e.total == 0 {
		return nil
	}
	return &roster.InputErrors{Kind: kind, What: what, Lines: e.Lines(), Total: e.total}
}

// keptLine is a bad line and when it was found.
type keptLine struct {
	roster.LineError
	seq int
}

// lineHeap keeps the highest line on top, to be dropped first.
type lineHeap []keptLine

func (h lineHeap) Len() int { return len(h) }
func (h lineHeap) Less(i, j int) bool {
	return h[i].Line > h[j].Line || (h[i].Line == h[j].Line && h[i].seq > h[j].seq)
}
func (h lineHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *lineHeap) Push(x any)   { *h = append(*h, x.(keptLine)) }
func (h *lineHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// CheckUser normalises and checks one user record on its own: email,
// name, username, role names, project slugs, links, status and an
// imported password hash.
func CheckUser(u *roster.UserRecord) error {
	if err := checkKind(u); err != nil {
		return err
	}
	if err := roster.ValidateName(u.Name); err != nil {
		return err
	}
	if u.Username != "" {
		if err := roster.ValidateUsername(u.Username); err != nil {
			return err
		}
	}
	for _, r := range u.Roles {
		if err := roster.ValidateRoleName(r); err != nil {
			return err
		}
	}
	for _, p := range u.Projects {
		if err := roster.ValidateSlug(p); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(u.Links)) {
		if err := roster.ValidateLink(k, u.Links[k]); err != nil {
			return err
		}
	}
	if u.Status != "" && !u.Status.Valid() {
		return roster.Errorf(roster.ErrInvalid, "invalid status %q", string(u.Status)).WithHint("use invited, active or deactivated")
	}
	if u.Expires != "" {
		// Its instant depends on the clock of the import; its form does not.
		if _, err := roster.ExpiryAt(u.Expires, time.Time{}); err != nil {
			return err
		}
	}
	if u.PasswordHash != "" {
		if err := password.CheckHash(u.PasswordHash); err != nil {
			return err
		}
	}
	u.Roles, u.Projects = sortedSet(u.Roles), sortedSet(u.Projects)
	if u.Links == nil {
		u.Links = map[string]string{}
	}
	return nil
}

// checkKind checks what a record's kind needs: a person an email; a
// service account a name (its username), and no email, password hash,
// invitation or provider's link.
func checkKind(u *roster.UserRecord) error {
	switch u.Kind {
	case "", roster.KindPerson:
		u.Kind = ""
		email, err := roster.NormalizeEmail(u.Email)
		u.Email = email
		return err
	case roster.KindService:
	default:
		return roster.Errorf(roster.ErrInvalid, "invalid kind %q", string(u.Kind)).WithHint("use person or service")
	}
	switch {
	case u.Username == "":
		return invalidf("a service account needs its name in username")
	case u.Email != "":
		return invalidf("a service account has a name, not an email").WithHint("leave email empty")
	case u.PasswordHash != "":
		return invalidf("a service account has no password").WithHint("leave password_hash empty; it acts only through tokens")
	case u.Status == roster.StatusInvited:
		return invalidf("a service account is never invited").WithHint("use active or deactivated")
	}
	for k := range u.Links {
		if strings.HasPrefix(k, roster.ProviderLinkPrefix) {
			return invalidf("a service account cannot sign in with %s", k)
		}
	}
	return nil
}

func sortedSet(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return slices.Compact(out)
}

// Uniques finds records that would share what R1 keeps unique: an email
// (in any letter case), a username, or a kind=value link.
type Uniques struct {
	seen map[string]int // key → first line
}

// Check reports a record that repeats an earlier one's email, username or
// link, naming the earlier line.
func (q *Uniques) Check(u roster.UserRecord) error {
	if q.seen == nil {
		q.seen = map[string]int{}
	}
	var keys []string
	if u.Email != "" {
		keys = append(keys, "email "+roster.EmailKey(u.Email))
	}
	if u.Username != "" {
		keys = append(keys, "username "+strings.ToLower(u.Username))
	}
	for _, k := range slices.Sorted(maps.Keys(u.Links)) {
		keys = append(keys, "link "+k+"="+u.Links[k])
	}
	for _, k := range keys {
		if first, dup := q.seen[k]; dup {
			return roster.Errorf(roster.ErrInvalid, "duplicate %s: already on line %d", k, first)
		}
	}
	for _, k := range keys {
		q.seen[k] = u.Line
	}
	return nil
}

// collect runs next until it reports the end, checking every record and
// collecting the good ones, passed to add, if given, as they come.
func collect(next func() (roster.UserRecord, int, bool, error), add func(roster.UserRecord) bool) ([]roster.UserRecord, *Errors) {
	var out []roster.UserRecord
	bad := &Errors{}
	var q Uniques
	for {
		u, line, ok, err := next()
		if !ok {
			break
		}
		if err == nil {
			u.Line = line
			err = CheckUser(&u)
		}
		if err == nil {
			err = q.Check(u)
		}
		if err != nil {
			bad.Add(line, err)
			continue
		}
		if add == nil {
			out = append(out, u)
		} else if !add(u) {
			break
		}
	}
	return out, bad
}

// invalidf is an error of kind invalid.
func invalidf(format string, args ...any) *roster.Error {
	return roster.Errorf(roster.ErrInvalid, format, args...)
}

// Format guesses an import file's format from its name: "csv", "jsonl"
// or "" when the name does not tell.
func Format(name string) string {
	switch {
	case strings.HasSuffix(name, ".csv"):
		return "csv"
	case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".ndjson"):
		return "jsonl"
	}
	return ""
}

// ErrFormat is the error of an unknown import format.
func ErrFormat(f string) error {
	return roster.Errorf(roster.ErrInvalid, "unknown import format %q", f).WithHint("use --format csv or --format jsonl")
}
