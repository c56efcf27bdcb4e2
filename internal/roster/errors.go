package roster

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors. Every error a Service returns wraps one of these, so the
// CLI maps it to an exit code, and the API to a status, in one place each.
var (
	ErrInvalid         = errors.New("invalid input")
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrForbidden       = errors.New("forbidden")
	ErrUnauthenticated = errors.New("not authenticated")
	ErrUnavailable     = errors.New("unavailable")
)

// Error is a domain error: a sentinel kind, a message for people, and an
// optional hint saying what to do next.
type Error struct {
	Kind    error
	Message string
	Hint    string
}

func (e *Error) Error() string { return e.Message }

// Unwrap lets errors.Is match the sentinel kind.
func (e *Error) Unwrap() error { return e.Kind }

// Errorf builds an Error of the given kind. Its string arguments pass
// through Quote: messages reach terminals, logs and other people.
func Errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, quoteArgs(args)...)}
}

// WithHint returns a copy of e carrying a hint.
func (e *Error) WithHint(format string, args ...any) *Error {
	c := *e
	c.Hint = fmt.Sprintf(format, quoteArgs(args)...)
	return &c
}

func quoteArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = Quote(s)
		}
		out[i] = a
	}
	return out
}

// MaxQuoted is how many characters of a value a message shows.
const MaxQuoted = 200

// tokenPrefixes start every roster secret (see package token).
var tokenPrefixes = []string{"roster_pat_", "roster_inv_", "roster_rst_"}

// Quote makes a value given by someone safe to show in a message: a
// roster token is withheld, hidden characters become U+FFFD, and at most
// MaxQuoted characters are kept.
func Quote(s string) string {
	for _, p := range tokenPrefixes {
		if strings.Contains(s, p) {
			return "(a " + strings.TrimSuffix(p, "_") + " token, not shown)"
		}
	}
	s = Visible(s)
	if utf8.RuneCountInString(s) > MaxQuoted {
		s = string([]rune(s)[:MaxQuoted]) + "…"
	}
	return s
}

// Hint returns the hint carried anywhere in err's chain, or "".
func Hint(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}

// ErrPasswordRequired is returned when an operation needs a password and
// was given no source for one.
var ErrPasswordRequired = &Error{Kind: ErrInvalid, Message: "a password is required",
	Hint: "give --password-stdin, --password-file FILE or --random-password"}
