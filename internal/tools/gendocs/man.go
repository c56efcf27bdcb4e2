package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The man pages are written as man(7) roff by hand rather than through
// cobra's doc package, whose Markdown route puts tabs in filled text,
// prints an unparseable date and leaves lines of any length: mandoc -T
// lint (make lint) holds these pages to none of that.

// manWidth is the longest line written in filled text: mandoc's style
// check asks for at most 80 bytes.
const manWidth = 78

// manPage renders one command's page.
func manPage(cmd *cobra.Command) []byte {
	cmd.InitDefaultHelpFlag()
	var m manWriter
	title := strings.ToUpper(strings.ReplaceAll(cmd.CommandPath(), " ", "-"))
	m.req(fmt.Sprintf(`.TH "%s" "1" "%s" "roster" "roster manual"`, escape(title), docsDate.Format("2006-01-02")))

	m.req(".SH NAME")
	m.fill(strings.ReplaceAll(cmd.CommandPath(), " ", "-") + ` \- ` + escape(cmd.Short))

	m.req(".SH SYNOPSIS")
	path := cmd.CommandPath()
	use := strings.TrimSpace(strings.TrimPrefix(cmd.UseLine(), path))
	m.fill(`\fB` + escape(path) + `\fR ` + escape(use))

	m.req(".SH DESCRIPTION")
	desc := cmd.Long
	if desc == "" {
		desc = cmd.Short
	}
	m.text(desc)

	if fs := cmd.NonInheritedFlags(); fs.HasAvailableFlags() {
		m.req(".SH OPTIONS")
		m.flags(fs)
	}
	if fs := cmd.InheritedFlags(); fs.HasAvailableFlags() {
		m.req(".SH GLOBAL OPTIONS")
		m.flags(fs)
	}
	if cmd.Example != "" {
		m.req(".SH EXAMPLES")
		m.verbatim(strings.Split(strings.Trim(cmd.Example, "\n"), "\n"))
	}

	var see []string
	if cmd.HasParent() {
		see = append(see, strings.ReplaceAll(cmd.Parent().CommandPath(), " ", "-"))
	}
	children := cmd.Commands()
	sort.Slice(children, func(i, j int) bool { return children[i].Name() < children[j].Name() })
	for _, c := range children {
		if c.IsAvailableCommand() && !c.IsAdditionalHelpTopicCommand() {
			see = append(see, strings.ReplaceAll(c.CommandPath(), " ", "-"))
		}
	}
	if len(see) > 0 {
		m.req(".SH SEE ALSO")
		for i, s := range see {
			sep := ","
			if i == len(see)-1 {
				sep = ""
			}
			m.req(fmt.Sprintf(".BR %s (1)%s", s, sep))
		}
	}
	return []byte(m.b.String())
}

// manWriter accumulates roff: requests on their own lines, filled text
// wrapped at manWidth, verbatim blocks as they are.
type manWriter struct{ b strings.Builder }

func (m *manWriter) req(line string) { m.b.WriteString(line + "\n") }

// fill writes escaped text as filled lines of at most manWidth bytes.
func (m *manWriter) fill(s string) {
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > manWidth {
			m.textLine(line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		m.textLine(line)
	}
}

// textLine writes a line of text, guarded so that a leading . or ' is
// not read as a request.
func (m *manWriter) textLine(s string) {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	m.b.WriteString(s + "\n")
}

// text renders help text: paragraphs separated by blank lines are filled;
// indented lines (examples, lists of keys or codes) are kept as they are.
func (m *manWriter) text(s string) {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	var para, block []string
	first := true
	flush := func() {
		if len(para) > 0 {
			if !first {
				m.req(".PP")
			}
			m.fill(escape(strings.Join(para, " ")))
			para, first = nil, false
		}
		if len(block) > 0 {
			if !first {
				m.req(".PP")
			}
			m.verbatim(block)
			block, first = nil, false
		}
	}
	for _, l := range lines {
		switch {
		case strings.TrimSpace(l) == "":
			flush()
		case l[0] == ' ' || l[0] == '\t':
			if len(para) > 0 {
				flush()
			}
			block = append(block, l)
		default:
			if len(block) > 0 {
				flush()
			}
			para = append(para, strings.TrimSpace(l))
		}
	}
	flush()
}

// verbatim writes lines in no-fill mode, as they are.
func (m *manWriter) verbatim(lines []string) {
	m.req(".EX")
	for _, l := range lines {
		l = strings.TrimRight(strings.ReplaceAll(l, "\t", "    "), " ")
		if l == "" {
			m.req(".sp")
			continue
		}
		m.textLine(escape(l))
	}
	m.req(".EE")
}

// flags lists flags as tagged paragraphs, as --help shows them.
func (m *manWriter) flags(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Deprecated != "" {
			return
		}
		name, usage := pflag.UnquoteUsage(f)
		tag := `\fB\-\-` + strings.ReplaceAll(escape(f.Name), "-", `\-`) + `\fR`
		if f.Shorthand != "" && f.ShorthandDeprecated == "" {
			tag = `\fB\-` + escape(f.Shorthand) + `\fR, ` + tag
		}
		if name != "" {
			tag += ` \fI` + escape(name) + `\fR`
		}
		if !zeroDefault(f) {
			def := f.DefValue
			if f.Value.Type() == "string" {
				def = fmt.Sprintf("%q", def)
			}
			usage += " (default " + def + ")"
		}
		m.req(".TP")
		m.fill(tag)
		m.fill(escape(usage))
	})
}

// zeroDefault reports whether a flag's default is not worth printing, as
// pflag decides for --help.
func zeroDefault(f *pflag.Flag) bool {
	switch f.DefValue {
	case "", "false", "0", "[]", "<nil>", "0s":
		return true
	}
	return false
}

// escape makes text safe in roff: a backslash is written \e, and the few
// typographic characters roster's help uses get their roff names.
var escape = strings.NewReplacer(`\`, `\e`, "→", `\(->`, "…", `\&...`, "—", `\(em`).Replace
