package records

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/roster-dev/roster/internal/roster"
)

// MaxManifest bounds an apply file, which is parsed whole: a manifest of
// 100,000 users is about 15 MiB.
const MaxManifest = 64 << 20

// ReadManifest reads an apply file, YAML or JSON (JSON is YAML), checks
// each record on its own, and returns it with every bad line. The error
// is for reading itself failing.
func ReadManifest(r io.Reader) (roster.Manifest, *Errors, error) {
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
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		addYAMLError(bad, err)
		return m, bad, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil && err != io.EOF {
		addYAMLError(bad, err)
		return roster.Manifest{}, bad, nil
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		bad.Add(lineOf(&more), invalidf("a second YAML document: an apply file holds one"))
		return roster.Manifest{}, bad, nil
	}
	setLines(&doc, &m)
	checkManifest(&m, bad)
	return m, bad, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// addYAMLError turns the parser's messages ("line 4: field x not found in
// type ...") into bad lines, one per message.
func addYAMLError(bad *Errors, err error) {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
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
	}
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
