// Package output prints command results in the formats of the command-line
// contract: table, tab-separated, json, yaml, csv and name.
package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"go.yaml.in/yaml/v3"

	"github.com/roster-dev/roster/internal/roster"
)

// Format is an output format.
type Format string

// The formats. TSV is the default when stdout is not a terminal.
const (
	Table Format = "table"
	TSV   Format = "tsv"
	JSON  Format = "json"
	YAML  Format = "yaml"
	CSV   Format = "csv"
	Name  Format = "name"
)

// Formats lists the accepted values of -o.
var Formats = []Format{Table, TSV, JSON, YAML, CSV, Name}

// ParseFormat checks a -o value.
func ParseFormat(s string) (Format, bool) {
	for _, f := range Formats {
		if string(f) == s {
			return f, true
		}
	}
	return "", false
}

// Rows is a result laid out for the text formats: a header, one row per
// item, and each item's identifier for -o name.
type Rows struct {
	Header []string
	Rows   [][]string
	Names  []string
}

// Add appends one item.
func (r *Rows) Add(name string, cells ...string) {
	r.Rows = append(r.Rows, cells)
	r.Names = append(r.Names, name)
}

// Printer writes results to w in one format.
type Printer struct {
	W      io.Writer
	Format Format
}

// List prints a list: v (a slice) for json and yaml, rows for the rest.
func (p *Printer) List(v any, rows Rows) error {
	switch p.Format {
	case JSON:
		return p.json(v)
	case YAML:
		return p.yaml(v)
	case Name:
		return p.names(rows.Names)
	case CSV:
		return p.csv(rows)
	case Table:
		return p.table(rows.Header, rows.Rows)
	default:
		return p.tsv(rows.Rows)
	}
}

// One prints a single item; on a table it is shown as FIELD VALUE pairs.
func (p *Printer) One(v any, rows Rows) error {
	if p.Format == Table && len(rows.Rows) == 1 {
		pairs := make([][]string, len(rows.Header))
		for i, h := range rows.Header {
			pairs[i] = []string{strings.ToLower(h), rows.Rows[0][i]}
		}
		return p.table(nil, pairs)
	}
	return p.List(v, rows)
}

func (p *Printer) json(v any) error {
	enc := json.NewEncoder(p.W)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// yaml prints v with the JSON field names: v goes through JSON, which YAML
// reads as a document, keeping field order, then prints in block style.
func (p *Printer) yaml(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(p.W)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode {
		n.Style = 0
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle && n.Tag == "!!str" {
		n.Style = 0
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

func (p *Printer) names(names []string) error {
	var b bytes.Buffer
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	_, err := p.W.Write(b.Bytes())
	return err
}

func (p *Printer) csv(rows Rows) error {
	w := csv.NewWriter(p.W)
	if err := w.Write(lower(rows.Header)); err != nil {
		return err
	}
	if err := w.WriteAll(rows.Rows); err != nil {
		return err
	}
	return w.Error()
}

func lower(h []string) []string {
	out := make([]string, len(h))
	for i, s := range h {
		out[i] = strings.ToLower(s)
	}
	return out
}

// tsvEscape keeps one item on one line: tabs and newlines in a value
// become spaces.
var tsvEscape = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

func (p *Printer) tsv(rows [][]string) error {
	var b bytes.Buffer
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				b.WriteByte('\t')
			}
			// Text stored before roster refused hidden characters, or written
			// by another program, must not move the cursor, recolour or
			// reorder what an admin reads.
			b.WriteString(roster.Visible(tsvEscape.Replace(c)))
		}
		b.WriteByte('\n')
	}
	_, err := p.W.Write(b.Bytes())
	return err
}

func (p *Printer) table(header []string, rows [][]string) error {
	t := tablewriter.NewTable(p.W,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.LinesNone},
		})),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
	)
	if header != nil {
		t.Header(anySlice(header)...)
	}
	for _, r := range rows {
		if err := t.Append(anySlice(r)...); err != nil {
			return fmt.Errorf("table: %w", err)
		}
	}
	return t.Render()
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = roster.Visible(v) // as in tsv
	}
	return out
}

// Stream prints a list that arrives in pages, so that listing a million
// users holds one page in memory, not all. A table needs every row to size
// its columns, so it alone is buffered until Close.
type Stream struct {
	p      *Printer
	n      int   // items printed so far
	header bool  // csv header written
	table  Rows  // buffered table rows
	err    error // first write error
}

// Stream starts a paged list whose text formats have this header.
func (p *Printer) Stream(header []string) *Stream {
	return &Stream{p: p, table: Rows{Header: header}}
}

// Page prints one page: items (a slice) for json and yaml, rows for the rest.
func (s *Stream) Page(items []any, rows Rows) error {
	if s.err != nil {
		return s.err
	}
	switch s.p.Format {
	case JSON:
		for _, it := range items {
			b, err := json.MarshalIndent(it, "  ", "  ")
			if err != nil {
				return err
			}
			sep := ",\n  "
			if s.n == 0 {
				sep = "[\n  "
			}
			s.n++
			if _, s.err = io.WriteString(s.p.W, sep+string(b)); s.err != nil {
				return s.err
			}
		}
		return nil
	case YAML:
		if len(items) == 0 {
			return nil
		}
		s.n += len(items)
		// Sequences printed one after another read as one sequence.
		s.err = s.p.yaml(items)
	case Table:
		s.table.Rows = append(s.table.Rows, rows.Rows...)
	case CSV:
		w := csv.NewWriter(s.p.W)
		if !s.header {
			s.header = true
			if err := w.Write(lower(s.table.Header)); err != nil {
				return err
			}
		}
		if err := w.WriteAll(rows.Rows); err != nil {
			return err
		}
		s.err = w.Error()
	case Name:
		s.err = s.p.names(rows.Names)
	default:
		s.err = s.p.tsv(rows.Rows)
	}
	return s.err
}

// Close ends the list.
func (s *Stream) Close() error {
	if s.err != nil {
		return s.err
	}
	switch s.p.Format {
	case JSON:
		end := "\n]\n"
		if s.n == 0 {
			end = "[]\n"
		}
		_, err := io.WriteString(s.p.W, end)
		return err
	case YAML:
		if s.n == 0 {
			_, err := io.WriteString(s.p.W, "[]\n")
			return err
		}
	case Table:
		return s.p.table(s.table.Header, s.table.Rows)
	case CSV:
		if !s.header {
			return s.Page(nil, s.table)
		}
	}
	return nil
}
