package cli

import (
	"encoding/json"
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
// first failure's exit code.
func eachTarget[T any](f *Factory, cmdPath string, targets []string, fn func(string) (T, error)) ([]T, error) {
	var out []T
	var first error
	for _, t := range targets {
		v, err := fn(t)
		if err == nil {
			out = append(out, v)
			continue
		}
		if len(targets) == 1 {
			return nil, err
		}
		printError(f.IO.ErrOut, err, cmdPath)
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return out, &silentError{code: ExitCode(first)}
	}
	return out, nil
}

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
	p, err := f.Printer()
	if err != nil {
		return err
	}
	changes := make([]userChange, len(results))
	var users []roster.User
	var secrets []string
	for i, r := range results {
		changes[i] = userChange{User: r.User, Changed: r.Changed, Password: r.Password}
		users = append(users, r.User)
		if r.Changed {
			f.infof("%s %s", did, r.User.Email)
		} else {
			f.infof("%s: %s, unchanged", r.User.Email, already)
		}
		if r.Password != "" {
			secrets = append(secrets, r.Password)
			f.infof("the generated password of %s is shown once; store it now", r.User.Email)
		}
	}
	if len(secrets) > 0 && p.Format != output.JSON && p.Format != output.YAML {
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
