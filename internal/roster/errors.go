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

// secretPrefix finds the first string in s shaped like a roster secret,
// "roster_" then three lowercase letters and "_" (roster_pat_, roster_sgn_,
// roster_ses_, and any kind added later: see package token), and returns
// its prefix without the last "_".
func secretPrefix(s string) (string, bool) {
	const lead = "roster_"
	for i := 0; ; {
		j := strings.Index(s[i:], lead)
		if j < 0 {
			return "", false
		}
		k := i + j + len(lead)
		if k+4 <= len(s) && s[k+3] == '_' && lower(s[k]) && lower(s[k+1]) && lower(s[k+2]) {
			return s[i+j : k+3], true
		}
		i = k
	}
}

func lower(c byte) bool { return 'a' <= c && c <= 'z' }

// Quote makes a value given by someone safe to show in a message: a
// string shaped like a roster secret is withheld, whatever its kind,
// hidden characters become U+FFFD, and at most MaxQuoted characters are
// kept.
func Quote(s string) string {
	if p, ok := secretPrefix(s); ok {
		return "(a " + p + " token, not shown)"
	}
	s = Visible(s)
	if utf8.RuneCountInString(s) > MaxQuoted {
		s = string([]rune(s)[:MaxQuoted]) + "…"
	}
	return s
}

// Withhold replaces every string in a message shaped like a roster secret
// by a mention of its kind: the last guard before a message reaches a
// terminal, a log or a response, for messages not built with Errorf.
func Withhold(msg string) string {
	for {
		p, ok := secretPrefix(msg)
		if !ok {
			return msg
		}
		i := strings.Index(msg, p)
		end := i + len(p)
		for end < len(msg) && secretByte(msg[end]) {
			end++
		}
		msg = msg[:i] + "(a " + p + " token, not shown)" + msg[end:]
	}
}

// secretByte reports whether c may be part of a roster secret's text.
func secretByte(c byte) bool {
	return c == '_' || c == '-' || lower(c) || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
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
