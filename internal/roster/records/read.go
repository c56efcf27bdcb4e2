package records

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/roster-dev/roster/internal/roster"
)

// ReadUsers reads an import file of format "csv" or "jsonl" as it
// streams in. It returns the good records, every bad line, and an error
// only when the reading itself failed (a body too large, a connection
// lost).
func ReadUsers(r io.Reader, format string) ([]roster.UserRecord, *Errors, error) {
	return readUsers(r, format, nil)
}

// readUsers is ReadUsers, passing each good record to add, if given,
// instead of returning it; add returning false stops the reading.
func readUsers(r io.Reader, format string, add func(roster.UserRecord) bool) ([]roster.UserRecord, *Errors, error) {
	switch format {
	case "csv":
		return readCSV(r, add)
	case "jsonl":
		return readJSONL(r, add)
	}
	return nil, nil, ErrFormat(format)
}

func readCSV(r io.Reader, add func(roster.UserRecord) bool) ([]roster.UserRecord, *Errors, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked here, so that the message names the line
	cr.ReuseRecord = true
	var readErr error
	header, err := cr.Read()
	if err != nil {
		bad := &Errors{}
		var pe *csv.ParseError
		switch {
		case err == io.EOF:
			bad.Add(1, invalidf("the file is empty: a header line naming the columns is needed"))
		case errors.As(err, &pe):
			bad.Add(pe.StartLine, invalidf("malformed CSV: %v", pe.Err))
		default:
			return nil, nil, err
		}
		return nil, bad, nil
	}
	cols, herr := columns(slices.Clone(header))
	if herr != nil {
		bad := &Errors{}
		bad.Add(1, herr)
		return nil, bad, nil
	}
	next := func() (roster.UserRecord, int, bool, error) {
		rec, err := cr.Read()
		line := 0
		if err == nil && len(rec) > 0 {
			line, _ = cr.FieldPos(0)
		}
		var pe *csv.ParseError
		switch {
		case err == io.EOF:
			return roster.UserRecord{}, 0, false, nil
		case errors.As(err, &pe):
			return roster.UserRecord{}, pe.StartLine, true, invalidf("malformed CSV: %v", pe.Err)
		case err != nil:
			readErr = err
			return roster.UserRecord{}, 0, false, nil
		case len(rec) != len(cols):
			return roster.UserRecord{}, line, true, invalidf("%d fields, but the header names %d", len(rec), len(cols))
		}
		u, err := userFromFields(cols, rec)
		return u, line, true, err
	}
	out, bad := collect(next, add)
	return out, bad, readErr
}

// columns checks a CSV header: known names, each once, email among them.
func columns(header []string) ([]string, error) {
	var unknown []string
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // a byte-order mark from a spreadsheet
		}
		header[i] = h
		switch {
		case !slices.Contains(Columns, h):
			unknown = append(unknown, roster.Quote(h))
		case seen[h]:
			return nil, invalidf("column %s is named twice in the header", h)
		}
		seen[h] = true
	}
	if len(unknown) > 0 {
		return nil, roster.Errorf(roster.ErrInvalid, "unknown column %s in the header", strings.Join(unknown, ", ")).
			WithHint("the columns are %s", strings.Join(Columns, ", "))
	}
	if !seen["email"] && !seen["kind"] {
		return nil, invalidf("the header has no email column").WithHint("the columns are %s", strings.Join(Columns, ", "))
	}
	return header, nil
}

// userFromFields builds a record from one CSV row; lists are separated
// by ';' and links are kind=value.
func userFromFields(cols, rec []string) (roster.UserRecord, error) {
	var u roster.UserRecord
	for i, c := range cols {
		v := strings.TrimSpace(rec[i])
		switch c {
		case "email":
			u.Email = v
		case "name":
			u.Name = v
		case "username":
			u.Username = v
		case "roles":
			u.Roles = splitList(v)
		case "projects":
			u.Projects = splitList(v)
		case "links":
			links, err := parseLinks(v)
			if err != nil {
				return u, err
			}
			u.Links = links
		case "status":
			u.Status = roster.Status(v)
		case "expires":
			u.Expires = v
		case "kind":
			u.Kind = roster.Kind(v)
		case "password_hash":
			u.PasswordHash = v
		}
	}
	return u, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ListSeparator) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func parseLinks(v string) (map[string]string, error) {
	links := map[string]string{}
	for _, l := range splitList(v) {
		k, val, ok := strings.Cut(l, "=")
		if !ok {
			return nil, invalidf("invalid link %q: want kind=value, such as github=alice", l)
		}
		if _, dup := links[k]; dup {
			return nil, invalidf("link %s given twice", k)
		}
		links[k] = val
	}
	return links, nil
}

// maxJSONLine bounds one JSON line: a user record is a few hundred bytes.
const maxJSONLine = 64 << 10

func readJSONL(r io.Reader, add func(roster.UserRecord) bool) ([]roster.UserRecord, *Errors, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxJSONLine)
	line, tooLong := 0, 0
	var readErr error
	next := func() (roster.UserRecord, int, bool, error) {
		for sc.Scan() {
			line++
			b := sc.Bytes()
			if line == 1 {
				b = bytes.TrimPrefix(b, []byte("\ufeff")) // a byte-order mark, as CSV and YAML take one
			}
			b = bytes.TrimSpace(b)
			if len(b) == 0 {
				continue
			}
			u, err := decodeLine(b)
			return u, line, true, err
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				line++
				tooLong = line
			} else {
				readErr = err
			}
		}
		return roster.UserRecord{}, 0, false, nil
	}
	out, bad := collect(next, add)
	if tooLong > 0 {
		bad.Add(tooLong, invalidf("line longer than %d KiB", maxJSONLine>>10))
	}
	return out, bad, readErr
}

// decodeLine reads one JSON object strictly: no unknown field, nothing after it.
func decodeLine(b []byte) (roster.UserRecord, error) {
	var u roster.UserRecord
	if b[0] != '{' {
		return u, invalidf("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return u, invalidf("invalid JSON: %s", jsonReason(err))
	}
	if dec.More() {
		return u, invalidf("invalid JSON: unexpected data after the object")
	}
	return u, nil
}

// jsonReason says what is wrong without quoting the value, which may be
// a secret.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "malformed JSON"
	case errors.As(err, &typ):
		return "field " + roster.Quote(typ.Field) + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + roster.Quote(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	return "not valid JSON"
}
