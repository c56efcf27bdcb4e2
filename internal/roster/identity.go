package roster

import (
	"slices"
	"strings"
)

// Identity is who an OpenID Connect provider says signed in, once its ID
// token is verified.
type Identity struct {
	Provider      string // the host's name for the provider
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
}

// ProviderLinkPrefix starts the link kind that binds a user to a
// provider's subject: oidc:NAME=SUBJECT.
const ProviderLinkPrefix = "oidc:"

// ProviderLink is the link kind of a provider's binding.
func ProviderLink(provider string) string { return ProviderLinkPrefix + provider }

// The sign-in methods of roster's own, besides the providers.
const (
	MethodPassword = "password"
	MethodLink     = "link"
	// AllMethods in signin.methods turns on every method the host offers.
	AllMethods = "*"
)

// MethodOn reports whether the signin.methods value on turns on method.
func MethodOn(on, method string) bool {
	for m := range strings.SplitSeq(on, ",") {
		if m = strings.TrimSpace(m); m == AllMethods || m == method {
			return true
		}
	}
	return false
}

// MethodsOn are the methods of offered that the signin.methods value on
// turns on, in offered's order.
func MethodsOn(on string, offered []string) []string {
	return slices.DeleteFunc(slices.Clone(offered), func(m string) bool { return !MethodOn(on, m) })
}

func signInMethods(v string) error {
	for m := range strings.SplitSeq(v, ",") {
		m = strings.TrimSpace(m)
		if m != AllMethods && !linkKindRE.MatchString(m) {
			return checkErr("want a comma-separated list of password, link and provider names, or *")
		}
	}
	return nil
}
