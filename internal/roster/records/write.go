package records

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/roster-dev/roster/internal/roster"
)

// Writer writes users as they stream from the store, one at a time, so
// that exporting a million users holds one in memory.
type Writer interface {
	// Begin writes what precedes the users: for YAML, the manifest's
	// permissions, roles and projects, so that apply can read the file.
	Begin(m roster.Manifest) error
	Write(u roster.UserRecord) error
	// Close flushes what is buffered.
	Close() error
}

// ExportFormats are the formats NewWriter knows.
var ExportFormats = []string{"jsonl", "csv", "yaml"}

// NewWriter returns a writer of format "jsonl", "csv" or "yaml".
func NewWriter(w io.Writer, format string) (Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case "jsonl":
		return &jsonlWriter{bw: bw, enc: json.NewEncoder(bw)}, nil
	case "csv":
		return &csvWriter{bw: bw, cw: csv.NewWriter(bw)}, nil
	case "yaml":
		return &yamlWriter{bw: bw}, nil
	}
	return nil, roster.Errorf(roster.ErrInvalid, "unknown export format %q", format).WithHint("use -o jsonl, csv or yaml")
}

// exported is u as export shows it: never a secret, and lists rather
// than nulls.
func exported(u roster.UserRecord) roster.UserRecord {
	u.PasswordHash = ""
	if u.Roles == nil {
		u.Roles = []string{}
	}
	if u.Projects == nil {
		u.Projects = []string{}
	}
	if u.Links == nil {
		u.Links = map[string]string{}
	}
	return u
}

type jsonlWriter struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

func (w *jsonlWriter) Begin(roster.Manifest) error { return nil }
func (w *jsonlWriter) Write(u roster.UserRecord) error {
	return w.enc.Encode(exported(u))
}
func (w *jsonlWriter) Close() error { return w.bw.Flush() }

type csvWriter struct {
	bw *bufio.Writer
	cw *csv.Writer
}

// exportColumns are the CSV columns: every import column but the hash.
var exportColumns = Columns[:len(Columns)-1]

func (w *csvWriter) Begin(roster.Manifest) error { return w.cw.Write(exportColumns) }
func (w *csvWriter) Write(u roster.UserRecord) error {
	var links []string
	for _, k := range slices.Sorted(maps.Keys(u.Links)) {
		links = append(links, k+"="+u.Links[k])
	}
	return w.cw.Write([]string{u.Email, u.Name, u.Username, strings.Join(u.Roles, ListSeparator),
		strings.Join(u.Projects, ListSeparator), strings.Join(links, ListSeparator), string(u.Status), u.Expires, string(u.Kind)})
}
func (w *csvWriter) Close() error {
	w.cw.Flush()
	if err := w.cw.Error(); err != nil {
		return err
	}
	return w.bw.Flush()
}

type yamlWriter struct {
	bw *bufio.Writer
}

func (w *yamlWriter) Begin(m roster.Manifest) error {
	m.Users = nil
	if len(m.Permissions)+len(m.Roles)+len(m.Projects) > 0 {
		b, err := yaml.Marshal(m)
		if err != nil {
			return err
		}
		if _, err := w.bw.Write(b); err != nil {
			return err
		}
	}
	_, err := w.bw.WriteString("users:\n")
	return err
}

// Write appends one item to the users sequence: marshalled alone, as a
// one-item list, it is exactly that item's text.
func (w *yamlWriter) Write(u roster.UserRecord) error {
	b, err := yaml.Marshal([]roster.UserRecord{exported(u)})
	if err != nil {
		return err
	}
	_, err = w.bw.Write(b)
	return err
}
func (w *yamlWriter) Close() error { return w.bw.Flush() }
