package records

import (
	"bytes"
	"errors"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/roster-dev/roster/internal/roster"
)

// MaxManifest bounds an apply file, which is read whole: a manifest of
// 100,000 users is about 15 MiB.
const MaxManifest = 64 << 20

// ReadManifest reads an apply file, YAML or JSON (JSON is YAML), checks
// each record on its own, and returns it with every bad line. The error
// is for reading itself failing.
//
// The users of a file as roster export -o yaml writes it, a block
// sequence under a top-level users key, are parsed one at a time, so
// that memory holds the records and not the whole document's syntax
// tree (about 10 KB a user). Any other shape is parsed whole.
func ReadManifest(r io.Reader) (roster.Manifest, *Errors, error) {
	return ReadManifestWith(r, nil)
}

// ReadManifestWith is ReadManifest telling progress, when not nil, how
// many of how many users it has read, as it reads them one at a time.
func ReadManifestWith(r io.Reader, progress func(done, total int)) (roster.Manifest, *Errors, error) {
	var m roster.Manifest
	bad := &Errors{}
	data, err := io.ReadAll(io.LimitReader(r, MaxManifest+1))
	if err != nil {
		return m, nil, err
	}
	if len(data) > MaxManifest {
		bad.Add(0, invalidf("the file is over %d MiB", MaxManifest>>20).WithHint("split it, or use roster import for users"))
		return m, bad, nil
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte-order mark, as import takes one
	if head, items, ok := splitUsers(data); ok {
		if progress == nil {
			progress = func(int, int) {}
		}
		if m, bad, ok := readByItem(head, data, items, progress); ok {
			return m, bad, nil
		}
		// A syntax the items alone do not parse: whole, then.
	}
	m, bad = readWhole(data)
	return m, bad, nil
}

// readWhole reads a manifest parsed as one document.
func readWhole(data []byte) (roster.Manifest, *Errors) {
	var m roster.Manifest
	bad := &Errors{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		addYAMLError(bad, err, 0)
		return m, bad
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// A field the records do not have, or of the wrong type, is a bad
	// line, and the rest of the file is still checked: the error does
	// not hide the others.
	var typeErr *yaml.TypeError
	if err := dec.Decode(&m); err != nil && err != io.EOF {
		if !errors.As(err, &typeErr) {
			addYAMLError(bad, err, 0)
			return roster.Manifest{}, bad
		}
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		bad.Add(lineOf(&more), invalidf("a second YAML document: an apply file holds one"))
		return roster.Manifest{}, bad
	}
	setLines(&doc, &m)
	var drop map[int]bool
	if typeErr != nil {
		drop = badItems(&doc, addYAMLError(bad, typeErr, 0))
	}
	checkManifest(&m, bad)
	dropItems(&m, drop)
	return m, bad
}

// item is one user of a users block sequence: its bytes and first line.
type item struct {
	start, end, line int
}

// splitUsers finds the users of a manifest written as roster export -o
// yaml writes one: a top-level "users:" whose items are lines starting
// "- " at one indentation. It returns the document with those lines
// blanked (so that line numbers hold) and where each item is; ok is
// false for any other shape, or anything the split could misread.
func splitUsers(data []byte) (head []byte, items []item, ok bool) {
	type line struct{ start, end int }
	var lines []line
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			j = len(data) - i
		} else {
			j++
		}
		lines = append(lines, line{i, i + j})
		i += j
	}
	text := func(l line) []byte { return bytes.TrimRight(data[l.start:l.end], "\r\n") }
	blank := func(b []byte) bool {
		t := bytes.TrimLeft(b, " ")
		return len(t) == 0 || t[0] == '#'
	}
	usersAt := -1
	for i, l := range lines {
		t := text(l)
		switch {
		case len(t) > 0 && (t[0] == '\t' || t[0] == '%' || bytes.HasPrefix(t, []byte("---")) || bytes.HasPrefix(t, []byte("..."))):
			return nil, nil, false // tabs, directives, documents: parsed whole
		case usersAt < 0 && bytes.HasPrefix(t, []byte("users:")) && blank(t[len("users:"):]):
			usersAt = i
		}
	}
	if usersAt < 0 {
		return nil, nil, false
	}
	indent := -1
	end := len(lines)
	for i := usersAt + 1; i < len(lines); i++ {
		t := text(lines[i])
		if blank(t) {
			continue
		}
		n := len(t) - len(bytes.TrimLeft(t, " "))
		dash := len(t) > n && t[n] == '-' && (len(t) == n+1 || t[n+1] == ' ')
		if indent < 0 {
			if !dash {
				return nil, nil, false
			}
			indent = n
		}
		switch {
		case n == 0 && !(indent == 0 && dash):
			end = i // the next top-level key
		case n == indent && dash:
			items = append(items, item{start: lines[i].start, line: i + 1})
			continue
		case n <= indent:
			return nil, nil, false
		default:
			continue
		}
		break
	}
	if len(items) == 0 {
		return nil, nil, false
	}
	last := lines[end-1].end
	for i := range items {
		if i+1 < len(items) {
			items[i].end = items[i+1].start
		} else {
			items[i].end = last
		}
	}
	// The document without the items: the same lines, those of the users
	// blank.
	head = make([]byte, 0, lines[usersAt].end+(end-usersAt)+len(data)-last)
	head = append(head, data[:lines[usersAt].end]...)
	for range end - usersAt - 1 {
		head = append(head, '\n')
	}
	head = append(head, data[last:]...)
	return head, items, true
}

// readByItem reads a manifest split by splitUsers: the document without
// its users whole, then each user alone. ok is false when something does
// not parse, for the whole document to be parsed and its errors told
// as they are.
func readByItem(head, data []byte, items []item, progress func(done, total int)) (roster.Manifest, *Errors, bool) {
	var m roster.Manifest
	bad := &Errors{}
	var doc yaml.Node
	if err := yaml.Unmarshal(head, &doc); err != nil {
		return m, nil, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(head))
	dec.KnownFields(true)
	var typeErr *yaml.TypeError
	if err := dec.Decode(&m); err != nil && err != io.EOF && !errors.As(err, &typeErr) {
		return m, nil, false
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		return m, nil, false
	}
	setLines(&doc, &m)
	var drop map[int]bool
	if typeErr != nil {
		drop = badItems(&doc, addYAMLError(bad, typeErr, 0))
	}
	m.Users = make([]roster.UserRecord, 0, len(items))
	var one []roster.UserRecord
	var q Uniques
	for i, it := range items {
		if i%1024 == 0 {
			progress(i, len(items))
		}
		one = one[:0]
		dec := yaml.NewDecoder(bytes.NewReader(data[it.start:it.end]))
		dec.KnownFields(true)
		err := dec.Decode(&one)
		if err != nil && !errors.As(err, &typeErr) {
			return m, nil, false
		}
		if len(one) != 1 {
			return m, nil, false
		}
		u := one[0]
		u.Line = it.line
		if t := bytes.TrimLeft(data[it.start:it.end], " -"); len(t) > 0 && (t[0] == '\n' || t[0] == '\r' || t[0] == '#') {
			// "-" alone on its line: the record starts below.
			var n yaml.Node
			if yaml.Unmarshal(data[it.start:it.end], &n) == nil && len(n.Content) > 0 && len(n.Content[0].Content) > 0 {
				u.Line = it.line + n.Content[0].Content[0].Line - 1
			}
		}
		if err != nil {
			// Its fields' errors are its bad lines; it is checked, but
			// not applied.
			addYAMLError(bad, err, it.line-1)
			if err := CheckUser(&u); err != nil {
				bad.Add(u.Line, err)
			}
			_ = q.Check(u)
			continue
		}
		if err := CheckUser(&u); err != nil {
			bad.Add(u.Line, err)
			continue
		}
		if err := q.Check(u); err != nil {
			bad.Add(u.Line, err)
			continue
		}
		m.Users = append(m.Users, u)
	}
	users := m.Users
	m.Users = nil
	checkManifest(&m, bad)
	dropItems(&m, drop)
	m.Users = users
	return m, bad, true
}

// badItems returns the first lines of the records holding a line in
// lines, which the decoder could not read whole: they are bad lines
// already, and are checked but not applied.
func badItems(doc *yaml.Node, lines []int) map[int]bool {
	drop := map[int]bool{}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return drop
	}
	// Each item spans the lines from its own to the next item's, or the
	// next section's.
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		items := top[i+1].Content
		next := math.MaxInt
		if i+2 < len(top) {
			next = top[i+2].Line
		}
		for j, it := range items {
			from, to := it.Line, next
			if j+1 < len(items) {
				to = items[j+1].Line
			}
			// Items of one line (flow style) share it: each holds its
			// errors, as the line tells no more.
			to = max(to, from+1)
			for _, l := range lines {
				if l >= from && l < to {
					drop[from] = true
				}
			}
		}
	}
	return drop
}

// dropItems drops the records starting on a line of drop.
func dropItems(m *roster.Manifest, drop map[int]bool) {
	if len(drop) == 0 {
		return
	}
	m.Permissions = dropIndexed(m.Permissions, func(i int) bool { return drop[m.Permissions[i].Line] })
	m.Roles = dropIndexed(m.Roles, func(i int) bool { return drop[m.Roles[i].Line] })
	m.Projects = dropIndexed(m.Projects, func(i int) bool { return drop[m.Projects[i].Line] })
	m.Users = dropIndexed(m.Users, func(i int) bool { return drop[m.Users[i].Line] })
}

func dropIndexed[T any](s []T, drop func(int) bool) []T {
	out := s[:0:0]
	for i := range s {
		if !drop(i) {
			out = append(out, s[i])
		}
	}
	return out
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// addYAMLError turns the parser's messages ("line 4: field x not found in
// type ...") into bad lines, one per message, their line numbers moved
// by offset; it returns those line numbers.
func addYAMLError(bad *Errors, err error, offset int) []int {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var lines []int
	for _, msg := range msgs {
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			line += offset
			msg = m[2]
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		// "field foo not found in type roster.UserRecord" is Go talking.
		if i := strings.Index(msg, " not found in type "); i >= 0 {
			msg = "unknown " + msg[:i]
		}
		if i := strings.Index(msg, " into "); i >= 0 && strings.HasPrefix(msg, "cannot unmarshal") {
			msg = "wrong type: " + msg[len("cannot unmarshal "):i]
		}
		bad.Add(line, invalidf("%s", msg))
		lines = append(lines, line)
	}
	return lines
}

func lineOf(n *yaml.Node) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0].Line
	}
	return n.Line
}

// setLines gives every record the line it starts on, from the parsed
// document: decoding into structs forgets them.
func setLines(doc *yaml.Node, m *roster.Manifest) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return
	}
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		items := top[i+1].Content
		set := func(n int, line func(int) *int) {
			for j := 0; j < n && j < len(items); j++ {
				*line(j) = items[j].Line
			}
		}
		switch top[i].Value {
		case "permissions":
			set(len(m.Permissions), func(j int) *int { return &m.Permissions[j].Line })
		case "roles":
			set(len(m.Roles), func(j int) *int { return &m.Roles[j].Line })
		case "projects":
			set(len(m.Projects), func(j int) *int { return &m.Projects[j].Line })
		case "users":
			set(len(m.Users), func(j int) *int { return &m.Users[j].Line })
		}
	}
}

// checkManifest checks every record on its own and drops the bad ones,
// so that the core plans only what could be right.
func checkManifest(m *roster.Manifest, bad *Errors) {
	names := map[string]int{}
	dup := func(kind, name string, line int) error {
		key := kind + " " + name
		if first, ok := names[key]; ok {
			return invalidf("duplicate %s: already on line %d", key, first)
		}
		names[key] = line
		return nil
	}
	m.Permissions = keep(m.Permissions, bad, func(p *roster.PermissionRecord) (int, error) {
		if err := roster.ValidatePermissionName(p.Name); err != nil {
			return p.Line, err
		}
		if err := checkDescription(p.Description); err != nil {
			return p.Line, err
		}
		p.Implies = sortedSet(p.Implies)
		return p.Line, dup("permission", p.Name, p.Line)
	})
	m.Roles = keep(m.Roles, bad, func(r *roster.RoleRecord) (int, error) {
		if err := roster.ValidateRoleName(r.Name); err != nil {
			return r.Line, err
		}
		if roster.IsBuiltinRole(r.Name) {
			return r.Line, roster.Errorf(roster.ErrInvalid, "%s is a built-in role; declare only custom roles", r.Name)
		}
		if err := checkDescription(r.Description); err != nil {
			return r.Line, err
		}
		if len(r.Permissions) == 0 {
			return r.Line, invalidf("role %s needs at least one permission", r.Name)
		}
		r.Permissions = sortedSet(r.Permissions)
		return r.Line, dup("role", r.Name, r.Line)
	})
	m.Projects = keep(m.Projects, bad, func(p *roster.ProjectRecord) (int, error) {
		if err := roster.ValidateSlug(p.Slug); err != nil {
			return p.Line, err
		}
		if err := roster.ValidateName(p.Name); err != nil {
			return p.Line, err
		}
		return p.Line, dup("project", p.Slug, p.Line)
	})
	var q Uniques
	m.Users = keep(m.Users, bad, func(u *roster.UserRecord) (int, error) {
		if err := CheckUser(u); err != nil {
			return u.Line, err
		}
		return u.Line, q.Check(*u)
	})
}

func checkDescription(d string) error {
	if n := utf8.RuneCountInString(d); n > 200 {
		return invalidf("invalid description: %d characters, at most 200", n)
	}
	if err := roster.ValidateName(d); err != nil {
		return invalidf("invalid description: use one line of at most 200 characters")
	}
	return nil
}

// keep returns the records check finds good, adding the others to bad.
func keep[T any](recs []T, bad *Errors, check func(*T) (int, error)) []T {
	out := recs[:0]
	for i := range recs {
		if line, err := check(&recs[i]); err != nil {
			bad.Add(line, err)
			continue
		}
		out = append(out, recs[i])
	}
	return out
}
