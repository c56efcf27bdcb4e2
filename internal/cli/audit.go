package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
)

// The audit log as a stream: tail, export, verify, prune (DESIGN.md, "The
// audit log as a stream"). audit list is in admin.go.

// eventWriter writes audit events one at a time as they come: JSON lines,
// CSV, or the tab-separated lines of audit list.
type eventWriter struct {
	w      io.Writer
	format string
	csv    *csv.Writer
}

func newEventWriter(w io.Writer, format string, allowed ...string) (*eventWriter, error) {
	if !slices.Contains(allowed, format) {
		return nil, usagef("invalid -o %q", format).withHint("use %s", joinOr(allowed))
	}
	ew := &eventWriter{w: w, format: format}
	if format == "csv" {
		ew.csv = csv.NewWriter(w)
		if err := ew.csv.Write([]string{"id", "at", "actor", "via", "action", "target", "details"}); err != nil {
			return nil, err
		}
	}
	return ew, nil
}

func joinOr(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := s[0]
	for _, x := range s[1 : len(s)-1] {
		out += ", " + x
	}
	return out + " or " + s[len(s)-1]
}

// write writes one event, flushed: a tail is read as it comes.
func (ew *eventWriter) write(e roster.AuditEvent) error {
	switch ew.format {
	case "jsonl":
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = ew.w.Write(append(b, '\n'))
		return err
	case "csv":
		details, err := json.Marshal(e.Details)
		if err != nil {
			return err
		}
		if err := ew.csv.Write([]string{strconv.FormatInt(e.ID, 10), formatTime(&e.At), e.Actor, e.Via, e.Action,
			e.Target, string(details)}); err != nil {
			return err
		}
		ew.csv.Flush()
		return ew.csv.Error()
	}
	p := &output.Printer{W: ew.w}
	return p.List(nil, auditRows([]roster.AuditEvent{e}))
}

// stopped is err, or nil when it only says the command was interrupted
// (Ctrl-C ends a tail --follow; it is how one stops it).
func stopped(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func newCmdAuditTail(f *Factory) *cobra.Command {
	var n int
	var follow bool
	var format string
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Show the newest audit events, then new ones as they happen",
		Long: `Show the newest audit events, oldest first, then with --follow each new
event as it is written, until interrupted. Locally the store is read every
half second (sooner for this process's own writes); through a server the
events come as a stream that resumes after the last event shown if the
connection is lost, so none is missed or shown twice. Needs audit.view.

-o jsonl writes one JSON object per line; -o text (the default) the
columns of audit list.`,
		Example: `  roster audit tail -n 20
  roster audit tail --follow -o jsonl | ship-to-siem`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			ew, err := newEventWriter(f.IO.Out, format, "text", "jsonl")
			if err != nil {
				return err
			}
			if n < 0 || n > 100000 {
				return usagef("invalid -n %d", n).withHint("use 0 to 100000")
			}
			var after int64
			if n > 0 {
				newest, err := svc.ListAudit(cmd.Context(), roster.AuditFilter{Limit: n})
				if err != nil {
					return err
				}
				for i := len(newest) - 1; i >= 0; i-- {
					if err := ew.write(newest[i]); err != nil {
						return err
					}
				}
				if len(newest) > 0 {
					after = newest[0].ID
				}
			}
			if !follow {
				return nil
			}
			if n == 0 { // from now on: after the newest event there is
				newest, err := svc.ListAudit(cmd.Context(), roster.AuditFilter{Limit: 1})
				if err != nil {
					return err
				}
				if len(newest) > 0 {
					after = newest[0].ID
				}
			}
			ctx := cmd.Context()
			return stopped(ctx, svc.StreamAudit(ctx, roster.AuditStream{After: after, Follow: true}, ew.write))
		}),
	}
	fs := cmd.Flags()
	fs.IntVarP(&n, "lines", "n", 10, "show the newest `N` events first")
	fs.BoolVarP(&follow, "follow", "f", false, "then show new events as they are written, until interrupted")
	fs.StringVarP(&format, "output", "o", "text", "`format`: text or jsonl")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion("text", "jsonl"))
	return cmd
}

func newCmdAuditExport(f *Factory) *cobra.Command {
	var since, until, format string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write audit events, oldest first, streamed: JSON lines or CSV",
		Long: `Write the audit events recorded between --since and --until (a duration
back from now, such as 24h or 7d, or an RFC 3339 time; both optional),
oldest first, read a page at a time: a log of millions of events takes no
more memory than one page. Through a server the events come as a stream
that resumes after the last event written if the connection is lost.
Needs audit.view.`,
		Example: `  roster audit export --since 30d > audit.jsonl
  roster audit export --since 2026-01-01T00:00:00Z --until 2026-02-01T00:00:00Z -o csv > january.csv`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ew, err := newEventWriter(f.IO.Out, format, "jsonl", "csv")
			if err != nil {
				return err
			}
			q := roster.AuditStream{}
			now := f.now()
			if q.Since, err = parseWhen(since, now, "--since"); err != nil {
				return err
			}
			if q.Until, err = parseWhen(until, now, "--until"); err != nil {
				return err
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			return svc.StreamAudit(cmd.Context(), q, ew.write)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&since, "since", "", "only events since `when` (24h, 7d or RFC 3339)")
	fs.StringVar(&until, "until", "", "only events until `when` (24h, 7d or RFC 3339)")
	fs.StringVarP(&format, "output", "o", "jsonl", "`format`: jsonl or csv")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion("jsonl", "csv"))
	return cmd
}

func newCmdAuditVerify(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Check that no audit event was changed, removed or inserted",
		Long: `Check the audit log's hash chain: each event carries a SHA-256 over its
contents and the hash of the event before it in the organisation, made
when it was written. An event changed, removed or inserted since, by
anything but roster (an UPDATE, DELETE or INSERT straight in the
database), breaks the chain: verify names the first such event and exits
1, as db check does for a store that fails its check. After audit prune
the chain is checked from its new first event, which the audit.prune
event vouches for. Needs audit.view.

The hash is not keyed: it shows tampering by someone who did not
recompute every hash after the change, so keep a copy of the newest
event's id and hash (audit export) somewhere the store's admins cannot
write.`,
		Example: `  roster audit verify
  roster audit verify -o json`,
		Args: exactArgs(0),
		RunE: f.withService(func(cmd *cobra.Command, svc roster.Service, args []string) error {
			v, err := svc.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			p, err := f.Printer()
			if err != nil {
				return err
			}
			rows := output.Rows{Header: []string{"INTACT", "EVENTS", "FIRST_ID", "LAST_ID", "BROKEN_AT", "PROBLEM"}}
			broken := ""
			if v.BrokenAt != 0 {
				broken = strconv.FormatInt(v.BrokenAt, 10)
			}
			rows.Add("", strconv.FormatBool(v.Intact), strconv.Itoa(v.Events), strconv.FormatInt(v.FirstID, 10),
				strconv.FormatInt(v.LastID, 10), broken, v.Problem)
			if err := p.One(v, rows); err != nil {
				return err
			}
			if !v.Intact {
				return fmt.Errorf("the audit log was tampered with: %s", v.Message)
			}
			return nil
		}),
	}
}

func newCmdAuditPrune(f *Factory) *cobra.Command {
	var before string
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete old audit events, keeping the chain verifiable",
		Long: `Delete the audit events recorded before --before (a duration back from
now, such as 365d, or an RFC 3339 time), or, without it, older than the
organisation's audit.retention setting (forever by default: nothing is
deleted then). The newest event is always kept. An audit.prune event
records how many went and the hash the first event kept chains to, so
audit verify checks the chain from there. Needs settings.manage and
audit.view; asks for confirmation on a terminal, and needs --yes
otherwise.`,
		Example: `  roster audit prune --before 365d --yes
  roster settings set audit.retention 400d && roster audit prune --yes`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseWhen(before, f.now(), "--before")
			if err != nil {
				return err
			}
			if err := f.confirm("delete old audit events?"); err != nil {
				return err
			}
			svc, err := f.Service(cmd.Context())
			if err != nil {
				return err
			}
			res, err := svc.PruneAudit(cmd.Context(), t)
			if err != nil {
				return err
			}
			p, err := f.Printer()
			if err != nil {
				return err
			}
			rows := output.Rows{Header: []string{"BEFORE", "DELETED", "ANCHOR"}}
			rows.Add("", res.Before.UTC().Format(time.RFC3339), strconv.Itoa(res.Deleted), res.Anchor)
			return p.One(res, rows)
		},
	}
	cmd.Flags().StringVar(&before, "before", "", "delete events before `when` (365d or RFC 3339); default: audit.retention")
	return cmd
}
