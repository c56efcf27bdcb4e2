package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
)

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// eachTarget runs fn for every target and keeps the results of those that
// succeed. Each failure is reported on stderr as it happens (a single
// target's is returned as it is); the error returned then carries the
// first failure's exit code. An interruption (ctx cancelled) or an
// unavailable store or server stops the batch at once: the rest would only
// fail the same way, one line each. One line then says how far it got, and
// the exit code is that of the stop.
func eachTarget[T any](ctx context.Context, f *Factory, cmdPath string, targets []string, fn func(string) (T, error)) ([]T, error) {
	var out []T
	var first error
	for i, t := range targets {
		if ctx.Err() != nil {
			return out, f.stopBatch(ctx, cmdPath, ctx.Err(), i, len(targets))
		}
		v, err := fn(t)
		if err == nil {
			out = append(out, v)
			continue
		}
		if len(targets) == 1 {
			return nil, err
		}
		if ctx.Err() != nil || errors.Is(err, roster.ErrUnavailable) {
			return out, f.stopBatch(ctx, cmdPath, err, i, len(targets))
		}
		f.printError(err, cmdPath)
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return out, &silentError{code: ExitCode(first)}
	}
	return out, nil
}

// stopBatch reports a batch stopped by err after done of total targets.
// The target in flight counts as not done: its change was rolled back, or,
// through a server, its answer was lost. The failure is printed now; the
// error returned says how far the batch got, printed last, after what was
// done.
func (f *Factory) stopBatch(ctx context.Context, cmdPath string, err error, done, total int) error {
	if ctx.Err() != nil {
		return &batchStopped{done: done, total: total, why: context.Canceled}
	}
	f.printError(err, cmdPath)
	return &batchStopped{done: done, total: total, why: roster.ErrUnavailable}
}

// batchStopped is a batch cut short. It unwraps to the bare reason, so the
// exit code is the reason's and no hint is printed twice.
type batchStopped struct {
	done, total int
	why         error // context.Canceled or roster.ErrUnavailable
}

func (e *batchStopped) Error() string {
	word := "stopped"
	if errors.Is(e.why, context.Canceled) {
		word = "interrupted"
	}
	return fmt.Sprintf("%s after %d of %d; %d not done", word, e.done, e.total, e.total-e.done)
}

func (e *batchStopped) Unwrap() error { return e.why }

// printThen prints what succeeded, if anything, and then returns the
// failure of the rest.
func printThen(n int, print func() error, failed error) error {
	if n > 0 {
		if err := print(); err != nil {
			return err
		}
	}
	return failed
}

// infof prints a message unless --quiet.
func (f *Factory) infof(format string, args ...any) {
	if cfg, err := f.Config(); err == nil && cfg.Quiet {
		return
	}
	f.IO.Infof(format, args...)
}

// printUserResults prints users after a change, and says on stderr what
// happened to each. A generated password is the result a text format
// prints: alone on stdout, shown once.
func (f *Factory) printUserResults(results []roster.UserResult, single bool, did, already string) error {
	return f.printUsers(results, single, did, already, false)
}

// printGenerated prints the results of a command given --random-password.
// In a text format stdout carries the generated passwords and nothing
// else: when none was generated (init run again, --if-not-exists finding
// the user) it stays empty, so that pw=$(roster …) never captures a user
// row for a password. json and yaml print the objects, "password" only
// when one was generated.
func (f *Factory) printGenerated(results []roster.UserResult, single bool, did, already string) error {
	return f.printUsers(results, single, did, already, true)
}

func (f *Factory) printUsers(results []roster.UserResult, single bool, did, already string, random bool) error {
	p, err := f.Printer()
	if err != nil {
		return err
	}
	changes := make([]userChange, len(results))
	var users []roster.User
	var secrets []string
	for i, r := range results {
		changes[i] = userChange{User: r.User, Changed: r.Changed, Password: r.Password, Differs: r.Differs}
		users = append(users, r.User)
		if r.Changed {
			f.infof("%s %s", did, r.User.Handle())
		} else {
			f.infof("%s: %s, unchanged", r.User.Handle(), already)
			f.differs(r.User.Handle(), r.Differs)
		}
		if r.Password != "" {
			secrets = append(secrets, r.Password)
			f.infof("the generated password of %s is shown once; store it now", r.User.Email)
		}
	}
	if (random || len(secrets) > 0) && p.Format != output.JSON && p.Format != output.YAML {
		for _, r := range results {
			if r.Password == "" {
				f.infof("%s keeps its password: none was generated", r.User.Email)
			}
		}
		for _, s := range secrets {
			fmt.Fprintln(f.IO.Out, s)
		}
		return nil
	}
	if single && len(changes) == 1 {
		return p.One(changes[0], userRows(users))
	}
	return p.List(changes, userRows(users))
}

// created reports what a create made, or, when --if-not-exists found it
// already there, that it is unchanged and where it differs from what was
// asked: the exit status stays 0 (R13), so scripts read the difference
// on stderr.
func (f *Factory) created(what string, e *roster.Existing) {
	if e == nil {
		f.infof("created %s", what)
		return
	}
	f.infof("%s: already exists, unchanged", what)
	f.differs(what, e.Differs)
}

func (f *Factory) differs(what string, differs []string) {
	for _, d := range differs {
		f.infof("%s exists with %s", what, d)
	}
}

// readSecretFile reads a password from a file, dropping one final newline.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usagef("read password file: %v", err)
	}
	return trimNewline(string(b)), nil
}

func trimNewline(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

// withService adapts a run function needing the service to cobra's RunE;
// the store is opened only when the command runs, never for --help.
func (f *Factory) withService(fn func(cmd *cobra.Command, svc roster.Service, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		svc, err := f.Service(cmd.Context())
		if err != nil {
			return err
		}
		return fn(cmd, svc, args)
	}
}

// printOne prints one item in the configured format.
func (f *Factory) printOne(v any, rows output.Rows) error {
	p, err := f.Printer()
	if err != nil {
		return err
	}
	return p.One(v, rows)
}

// printList prints a list in the configured format.
func (f *Factory) printList(v any, rows output.Rows) error {
	p, err := f.Printer()
	if err != nil {
		return err
	}
	return p.List(v, rows)
}
