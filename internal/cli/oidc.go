package cli

import (
	"os"
	"sort"
	"strings"

	"github.com/roster-dev/roster/internal/idp"
)

// Identity providers are host settings (R16): roster serve's --oidc
// NAME=ISSUER (repeatable), else the config file's oidc: {NAME: ISSUER};
// each one's client id and secret come from the environment, or the
// secret from a file the environment names, never from argv.

// oidcEnv is the environment variable of a provider's item: the client
// id of google is ROSTER_OIDC_GOOGLE_CLIENT_ID.
func oidcEnv(name, item string) string {
	return "ROSTER_OIDC_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_" + item
}

// oidcProviders reads the providers of flags (NAME=ISSUER), which win,
// and of the config file's map.
func oidcProviders(flags []string, file map[string]string) ([]idp.Config, error) {
	issuers := map[string]string{}
	for name, issuer := range file {
		issuers[strings.ToLower(name)] = issuer
	}
	if len(flags) > 0 {
		issuers = map[string]string{}
	}
	for _, f := range flags {
		name, issuer, ok := strings.Cut(f, "=")
		if !ok {
			return nil, usagef("invalid --oidc %q", f).withHint("give NAME=ISSUER, such as google=https://accounts.google.com")
		}
		if _, dup := issuers[name]; dup {
			return nil, usagef("--oidc %s is given twice", name)
		}
		issuers[name] = issuer
	}
	names := make([]string, 0, len(issuers))
	for n := range issuers {
		names = append(names, n)
	}
	sort.Strings(names)
	var cfgs []idp.Config
	for _, name := range names {
		// The name and the issuer first: a hint about the client id
		// would mislead when the name is what is wrong.
		c := idp.Config{Name: name, Issuer: issuers[name], ClientID: "unchecked yet"}
		if err := c.Check(); err != nil {
			return nil, usagef("identity provider: %v", err).
				withHint("give --oidc NAME=ISSUER (or oidc: {NAME: ISSUER} in the config file), NAME such as google, ISSUER an https URL")
		}
		c.ClientID = os.Getenv(oidcEnv(name, "CLIENT_ID"))
		secret, err := oidcSecret(name)
		if err != nil {
			return nil, err
		}
		c.ClientSecret = secret
		if err := c.Check(); err != nil {
			return nil, usagef("identity provider: %v", err).
				withHint("give the client id in $%s and the secret in $%s or a file named by $%s",
					oidcEnv(name, "CLIENT_ID"), oidcEnv(name, "CLIENT_SECRET"), oidcEnv(name, "CLIENT_SECRET_FILE"))
		}
		cfgs = append(cfgs, c)
	}
	return cfgs, nil
}

// oidcSecret is a provider's client secret: from the file
// ..._CLIENT_SECRET_FILE names, read once at start, else from
// ..._CLIENT_SECRET; a public client has none.
func oidcSecret(name string) (string, error) {
	file := os.Getenv(oidcEnv(name, "CLIENT_SECRET_FILE"))
	if file == "" {
		return os.Getenv(oidcEnv(name, "CLIENT_SECRET")), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usagef("read $%s: %v", oidcEnv(name, "CLIENT_SECRET_FILE"), err)
	}
	// An empty file is a mistake (a secret not yet written out), not a
	// public client, which has no file at all.
	secret := trimNewline(string(b))
	if secret == "" {
		return "", usagef("identity provider %s: the client secret file %s ($%s) is empty", name, file, oidcEnv(name, "CLIENT_SECRET_FILE")).
			withHint("write the secret to it, or unset $%s for a public client, which has no secret", oidcEnv(name, "CLIENT_SECRET_FILE"))
	}
	return secret, nil
}
