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
			b.WriteString(tsvEscape.Replace(c))
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
		out[i] = v
	}
	return out
}
