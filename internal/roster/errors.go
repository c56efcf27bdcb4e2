package roster

import (
	"errors"
	"fmt"
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

// Errorf builds an Error of the given kind.
func Errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// WithHint returns a copy of e carrying a hint.
func (e *Error) WithHint(format string, args ...any) *Error {
	c := *e
	c.Hint = fmt.Sprintf(format, args...)
	return &c
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
