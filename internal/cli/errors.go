package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// Exit codes of the command-line contract.
const (
	ExitOK           = 0
	ExitError        = 1
	ExitInvalid      = 2
	ExitNotFound     = 3
	ExitConflict     = 4
	ExitForbidden    = 5
	ExitUnauthorized = 6
	ExitUnavailable  = 7
	// ExitDrift is apply --dry-run --exit-code's answer when the plan is
	// not empty: not a failure, a difference.
	ExitDrift = 10
)

// exitCodesHelp documents the exit codes in --help and the man page.
const exitCodesHelp = `Exit codes:
  0  success, including "already so, nothing changed"
  1  internal error; for roster can: not allowed
  2  invalid input: usage, flag or value (bad email, weak password); a
     --db that names no store, or a file that is not a roster store; a
     confirmation declined, or not possible (no terminal, no --yes)
  3  not found
  4  conflict with current state (already exists, seat limit, user has activity)
  5  forbidden by a rule or a missing permission
  6  not authenticated
  7  unavailable: server unreachable, store locked past the timeout,
     store file unreadable or unwritable, disk full
  10 apply --dry-run --exit-code only: the plan is not empty (drift)`

// usageError is a mistake in the command line itself; it exits 2 and
// points at --help.
type usageError struct {
	msg  string
	hint string
	// helpOf is the command whose --help to point at, when not the one
	// that ran: roster help nosuch points at roster --help.
	helpOf string
}

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return roster.ErrInvalid }

func usagef(format string, args ...any) *usageError {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func (e *usageError) withHint(format string, args ...any) *usageError {
	e.hint = fmt.Sprintf(format, args...)
	return e
}

// silentError carries an exit code for a failure already reported, such as
// a multi-target command whose failures were printed one by one, or a
// "no" from roster can.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// ExitCode maps an error to the contract's exit code: the one place that
// does.
func ExitCode(err error) int {
	var silent *silentError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &silent):
		return silent.code
	case errors.Is(err, roster.ErrInvalid):
		return ExitInvalid
	case errors.Is(err, roster.ErrNotFound):
		return ExitNotFound
	case errors.Is(err, roster.ErrConflict):
		return ExitConflict
	case errors.Is(err, roster.ErrForbidden):
		return ExitForbidden
	case errors.Is(err, roster.ErrUnauthenticated):
		return ExitUnauthorized
	case errors.Is(err, roster.ErrUnavailable):
		return ExitUnavailable
	}
	return ExitError
}

// printError writes err and its hint to stderr as "roster: …" lines, or,
// with asJSON (-o json), as one line of the API's error shape, so that a
// script can branch on the code in both modes alike.
func printError(w io.Writer, err error, cmdPath string, asJSON bool) {
	var silent *silentError
	if errors.As(err, &silent) {
		return
	}
	// No message carries a roster secret, however it was made.
	msg, hint := roster.Withhold(err.Error()), roster.Withhold(roster.Hint(err))
	var ue *usageError
	if errors.As(err, &ue) {
		if ue.helpOf != "" {
			cmdPath = ue.helpOf
		}
		hint = roster.Withhold(ue.hint)
		if hint != "" {
			hint += "; "
		}
		hint += fmt.Sprintf("run '%s --help' for usage", strings.TrimSpace(cmdPath))
	}
	if asJSON {
		_, code := wire.Status(err)
		b, _ := json.Marshal(struct {
			Error wire.ErrorDetail `json:"error"`
		}{wire.ErrorDetail{Code: code, Message: msg, Hint: hint, Lines: wire.Detail(err).Lines, MoreLines: wire.Detail(err).MoreLines}})
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "roster: %s\n", msg)
	// Every bad line of an import or apply file, each on its own line.
	var ie *roster.InputErrors
	if errors.As(err, &ie) {
		for _, l := range ie.Lines {
			fmt.Fprintf(w, "roster: %s\n", roster.Withhold(fmt.Sprint(l)))
		}
		if more := ie.MoreText(); more != "" {
			fmt.Fprintf(w, "roster: %s\n", more)
		}
	}
	if ue != nil {
		if ue.hint != "" {
			fmt.Fprintf(w, "roster: hint: %s\n", roster.Withhold(ue.hint))
		}
		fmt.Fprintf(w, "roster: hint: run '%s --help' for usage\n", strings.TrimSpace(cmdPath))
		return
	}
	if hint != "" {
		fmt.Fprintf(w, "roster: hint: %s\n", hint)
	}
}
