package roster

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lengths are checked apart from the patterns: a counted repetition such
// as {0,62} compiles into a program 62 times larger, paid at every start.
var (
	usernameRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)
	roleNameRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	permissionRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,3}$`)
	linkKindRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	// providerLinkRE is the link kind of a binding to an identity
	// provider's subject, oidc:NAME (NAME at most maxProviderName long):
	// the one kind with a colon.
	providerLinkRE = regexp.MustCompile(`^oidc:[a-z][a-z0-9-]*$`)
)

// maxProviderName is the longest name of an identity provider.
const maxProviderName = 31

// Hidden reports whether r changes how text around it is shown without
// showing itself: C0 and C1 controls (ESC among them), format characters
// (bidi overrides, zero-width spaces and joiners, the BOM) and the line
// and paragraph separators. Text holding one could forge a table on an
// admin's terminal or pass for another name.
func Hidden(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// Visible returns s with every hidden character, and every byte that is
// not UTF-8, replaced by U+FFFD, so that it is safe to show on a terminal.
func Visible(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, Hidden) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if Hidden(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
}

// checkVisible refuses text that is not valid UTF-8 or that holds a
// hidden character, naming the first one.
func checkVisible(what, s string) error {
	if !utf8.ValidString(s) {
		return Errorf(ErrInvalid, "invalid %s: not valid UTF-8", what)
	}
	if i := strings.IndexFunc(s, Hidden); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return Errorf(ErrInvalid, "invalid %s: it holds the invisible or control character %U", what, r).
			WithHint("remove control, zero-width and bidi characters; type the text plainly")
	}
	return nil
}

// NormalizeEmail validates an email address and returns it trimmed. The
// address must be bare (no display name) with a domain holding a dot.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkVisible("email", s); err != nil {
		return "", err
	}
	// The error is made only when needed: import checks every email of a
	// file, and formatting one per good email showed in its profile.
	bad := func() (string, error) {
		return "", Errorf(ErrInvalid, "invalid email %q", s).WithHint("give a bare address such as alice@example.com")
	}
	if len(s) > 254 {
		return "", tooLong("email", len(s), 254, "bytes")
	}
	if s == "" {
		return bad()
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return bad()
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if at <= 0 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return bad()
	}
	return s, nil
}

// EmailKey is the case-insensitive form of an email under which R1 holds.
func EmailKey(email string) string { return strings.ToLower(email) }

// ValidateUsername checks a username: a letter, then letters, digits, '.', '_'
// or '-'. Starting with a letter keeps usernames apart from numeric ids.
func ValidateUsername(s string) error {
	if !usernameRE.MatchString(s) {
		return Errorf(ErrInvalid, "invalid username %q", s).
			WithHint("start with a letter; use letters, digits, '.', '_' or '-'; at most 63 characters")
	}
	if len(s) > 63 {
		return tooLong("username", len(s), 63, "characters")
	}
	return nil
}

// tooLong is the error of a value over its limit: the message says both,
// and not the value, which may fill a screen.
func tooLong(what string, n, limit int, unit string) *Error {
	return Errorf(ErrInvalid, "invalid %s: %d %s, at most %d", what, n, unit, limit)
}

// ValidateRoleName checks a custom role's name.
func ValidateRoleName(s string) error {
	if roleNameRE.MatchString(s) && len(s) > 63 {
		return tooLong("role name", len(s), 63, "characters")
	}
	if !roleNameRE.MatchString(s) {
		return Errorf(ErrInvalid, "invalid role name %q", s).
			WithHint("use lower-case letters, digits, '_' or '-', starting with a letter; at most 63 characters")
	}
	return nil
}

// ValidatePermissionName checks a permission name such as invoices.manage.
func ValidatePermissionName(s string) error {
	if len(s) > 200 && permissionRE.MatchString(s) {
		return tooLong("permission name", len(s), 200, "characters")
	}
	if len(s) > 200 || !permissionRE.MatchString(s) {
		return Errorf(ErrInvalid, "invalid permission name %q", s).
			WithHint("use two to four dotted lower-case words such as invoices.manage, at most 200 characters")
	}
	return nil
}

// ValidateLink checks an external identity link kind=value.
func ValidateLink(kind, value string) error {
	if len(kind) > 32 && linkKindRE.MatchString(kind) {
		return tooLong("link kind", len(kind), 32, "characters")
	}
	provider := providerLinkRE.MatchString(kind) && len(kind) <= len("oidc:")+maxProviderName
	if !linkKindRE.MatchString(kind) && !provider {
		return Errorf(ErrInvalid, "invalid link kind %q", kind).
			WithHint("use a lower-case word such as github, gitlab or employee, or oidc:NAME for an identity provider's subject")
	}
	if err := checkVisible(kind+" link value", value); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(value); n > 256 {
		return tooLong(kind+" link value", n, 256, "characters")
	}
	if value == "" || strings.ContainsAny(value, " \t\r\n") {
		return Errorf(ErrInvalid, "invalid %s link value %q", kind, value).
			WithHint("give a non-empty value without spaces, at most 256 characters")
	}
	return nil
}

// ValidateName checks a display name, and any other one-line text a
// person gives: descriptions, token names, reasons.
func ValidateName(s string) error {
	if err := checkVisible("name", s); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(s); n > 200 {
		return tooLong("name", n, 200, "characters").WithHint("use one line of at most 200 characters")
	}
	return nil
}
