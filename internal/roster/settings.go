package roster

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SettingSpec describes one settings key: its default and how its values
// are checked.
type SettingSpec struct {
	Key      string
	Default  string
	Describe string
	// Host marks a host setting (R16): where mail goes and how it
	// authenticates, what links point to, or a file, program, host,
	// address or URL. It comes from roster serve's flags, environment or
	// config file, or is set in local mode by the store file's OS user;
	// through the server nobody sets or reads it, owners included.
	Host  bool
	check func(string) error
}

// Check validates a value for the key.
func (s SettingSpec) Check(v string) error {
	if err := checkVisible("value for "+s.Key, v); err != nil {
		return err
	}
	if s.check == nil {
		return nil
	}
	if err := s.check(v); err != nil {
		return Errorf(ErrInvalid, "invalid value %q for %s: %v", v, s.Key, err)
	}
	return nil
}

type checkErr string

func (e checkErr) Error() string { return string(e) }

func intBetween(lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return checkErr("want a whole number from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi))
		}
		return nil
	}
}

// Link lifetimes: a link is a credential, so it lives a minute at least
// (it must outlive being printed) and 90 days at most.
const (
	MinLinkTTL = time.Minute
	MaxLinkTTL = 90 * 24 * time.Hour
)

func duration(v string) error {
	d, err := ParseDuration(v)
	if err != nil || d < MinLinkTTL || d > MaxLinkTTL {
		return checkErr("want a duration from 1m to 90d, such as 30m, 24h or 7d")
	}
	return nil
}

func tokenTTL(v string) error {
	d, err := ParseDuration(v)
	if err != nil || d < time.Minute || d > MaxTokenTTL {
		return checkErr("want a duration from 1m to 3650d, such as 24h or 90d")
	}
	return nil
}

func oneOf(vals ...string) func(string) error {
	return func(v string) error {
		for _, x := range vals {
			if v == x {
				return nil
			}
		}
		return checkErr("want one of " + strings.Join(vals, ", "))
	}
}

func baseURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return checkErr("want an http or https URL")
	}
	return nil
}

// retention is how long audit events are kept: forever, or a day at least.
func retention(v string) error {
	if v == "forever" {
		return nil
	}
	if d, err := ParseDuration(v); err != nil || d < 24*time.Hour {
		return checkErr("want forever or a duration of a day or more, such as 90d")
	}
	return nil
}

func oneLine(v string) error {
	if strings.ContainsAny(v, "\r\n") || len(v) > 500 {
		return checkErr("want one line of at most 500 characters")
	}
	return nil
}

func optionalEmail(v string) error {
	if v == "" {
		return nil
	}
	if _, err := NormalizeEmail(v); err != nil {
		return checkErr("want an email address")
	}
	return nil
}

// SettingSpecs are all settings keys, sorted by key.
var SettingSpecs = []SettingSpec{
	{Key: "audit.retention", Default: "forever", Describe: "audit prune deletes events older than this; forever keeps them", check: retention},
	{Key: "base_url", Default: "", Describe: "base URL used in links", Host: true, check: baseURL},
	{Key: "invite.resend_ttl", Default: "24h", Describe: "lifetime of a resent invitation", check: duration},
	{Key: "invite.ttl", Default: "7d", Describe: "lifetime of an invitation", check: duration},
	{Key: "mail.from", Default: "", Describe: "sender address of mail", Host: true, check: optionalEmail},
	{Key: "mail.host", Default: "", Describe: "SMTP host", Host: true, check: oneLine},
	{Key: "mail.password_file", Default: "", Describe: "file holding the SMTP password (local mode only)", Host: true, check: oneLine},
	{Key: "mail.port", Default: "587", Describe: "SMTP port", Host: true, check: intBetween(1, 65535)},
	{Key: "mail.tls", Default: "starttls", Describe: "none, starttls or tls", Host: true, check: oneOf("none", "starttls", "tls")},
	{Key: "mail.username", Default: "", Describe: "SMTP user name", Host: true, check: oneLine},
	{Key: "org.name", Default: "", Describe: "organisation name", check: oneLine},
	{Key: "password.min_length", Default: "8", Describe: "minimum password length in characters", check: intBetween(8, 256)},
	{Key: "reset.ttl", Default: "24h", Describe: "lifetime of a reset link", check: duration},
	{Key: "seats", Default: "0", Describe: "most active users allowed; 0 means no limit", check: intBetween(0, 1<<30)},
	{Key: "session.idle", Default: "12h", Describe: "a browser session ends after this long unused", check: duration},
	{Key: "session.ttl", Default: "7d", Describe: "a browser session ends this long after sign-in", check: duration},
	{Key: "signin.methods", Default: AllMethods, Describe: "how people sign in on the pages: password, link and provider names, comma-separated; * for every method the host offers", check: signInMethods},
	{Key: "signin.ttl", Default: "30m", Describe: "lifetime of a self-requested sign-in link", check: duration},
	{Key: "tokens.max_ttl", Default: "365d", Describe: "longest lifetime a new or rotated API token may have", check: tokenTTL},
}

// IsHostSetting reports whether key is a host setting (R16).
func IsHostSetting(key string) bool {
	spec, ok := LookupSetting(key)
	return ok && spec.Host
}

// LookupSetting finds a key's spec.
func LookupSetting(key string) (SettingSpec, bool) {
	i := sort.Search(len(SettingSpecs), func(i int) bool { return SettingSpecs[i].Key >= key })
	if i < len(SettingSpecs) && SettingSpecs[i].Key == key {
		return SettingSpecs[i], true
	}
	return SettingSpec{}, false
}

// Int returns an integer setting, or its default.
func (s Settings) Int(key string) int {
	n, err := strconv.Atoi(s[key])
	if err != nil {
		spec, _ := LookupSetting(key)
		n, _ = strconv.Atoi(spec.Default)
	}
	return n
}

// ParseDuration accepts Go durations plus a day unit: "7d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil || days < 0 || days > 3650 {
			return 0, checkErr("bad day count")
		}
		d := time.Duration(days) * 24 * time.Hour
		if rest := s[i+1:]; rest != "" {
			r, err := time.ParseDuration(rest)
			if err != nil {
				return 0, err
			}
			d += r
		}
		return d, nil
	}
	return time.ParseDuration(s)
}

// FormatDuration writes d as ParseDuration reads it, in whole days when
// it is some: "400d", "36h0m0s".
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}
