package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/idp"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Option configures the pages.
type Option func(*pages)

// WithProviders offers sign-in with the identity providers of set.
func WithProviders(set idp.Set) Option { return func(p *pages) { p.providers = set } }

// The cookie that binds a provider's flow to the browser that started it:
// its state, nonce and PKCE verifier, and the organisation signed in to.
// It lives on the callback's path, which is one for every organisation
// (the address registered with the provider), for as long as a person
// may take at the provider.
const (
	flowCookie    = "roster_oidc"
	flowCookieAge = 10 * time.Minute
)

// flowPath is the path of a provider's flow cookie.
func flowPath(name string) string { return "/oidc/" + name + "/" }

// oidcStart sends the browser to the provider to sign in, with a fresh
// flow kept in a cookie.
func (p *pages) oidcStart(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	prov := p.providers[name]
	if prov == nil || !p.methodOn(w, r, name) {
		if prov == nil {
			http.NotFound(w, r)
		}
		return
	}
	flow := idp.NewFlow()
	to, err := prov.Start(r.Context(), flow)
	if err != nil {
		p.log.Error("start a provider's sign-in", "provider", name, "error", err)
		p.message(w, r, http.StatusBadGateway, "The sign-in service did not answer", &next{"/signin", "Back to sign-in"},
			"Signing in with "+name+" is not possible just now. Try again in a moment, or sign in another way.")
		return
	}
	value := strings.Join([]string{flow.State, flow.Nonce, flow.Verifier, strings.TrimPrefix(base(r), "/o/")}, ".")
	p.setCookieAt(w, r, flowCookie, value, flowPath(name), flowCookieAge)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// methodOn reports whether the organisation of r offers method; when it
// does not, or cannot tell, it has answered.
func (p *pages) methodOn(w http.ResponseWriter, r *http.Request, method string) bool {
	on, err := p.b.SignInMethods(r.Context())
	switch {
	case err != nil:
		p.failure(w, r, err)
	case !contains(on, method):
		p.message(w, r, http.StatusForbidden, "Not offered here", &next{"/signin", "Back to sign-in"},
			"This organisation does not sign people in with "+method+".")
	default:
		return true
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// oidcCallback ends a provider's flow: the flow's cookie, used once, must
// match the answer, whose ID token is verified; then the core signs in
// the person it names, in the organisation the flow started in.
func (p *pages) oidcCallback(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	prov := p.providers[name]
	if prov == nil {
		http.NotFound(w, r)
		return
	}
	held := cookie(r, flowCookie)
	p.setCookieAt(w, r, flowCookie, "", flowPath(name), -1) // one use, whatever happens
	parts := strings.Split(held, ".")
	if len(parts) != 4 {
		if p.refused(w, r, name, "the callback carries no flow of this browser (replayed, or too late)") {
			p.message(w, r, http.StatusBadRequest, "Start again", &next{"/signin", "Back to sign-in"},
				"This sign-in was not started in this browser, or took too long, or was already used.")
		}
		return
	}
	in := r.WithContext(store.WithOrg(r.Context(), store.SystemOrg))
	if parts[3] != "" {
		var ok bool
		if in, ok = p.enter(w, r, parts[3]); !ok {
			return
		}
	}
	id, err := prov.Finish(r.Context(), idp.Flow{State: parts[0], Nonce: parts[1], Verifier: parts[2]}, r.URL.Query())
	if err != nil {
		p.log.Warn("a provider's sign-in was refused", "provider", name, "client", p.guard.Client(r), "error", err)
		if !p.refused(w, in, name, err.Error()) {
			return
		}
		p.message(w, in, http.StatusUnauthorized, "Sign-in refused", &next{"/signin", "Back to sign-in"},
			"The answer from "+name+" could not be accepted, so you are not signed in.", "Start again from the sign-in page.")
		return
	}
	secret, err := p.b.ProviderSession(p.ctx(in), id)
	if err != nil {
		var re *roster.Error
		if !errors.As(err, &re) {
			p.failure(w, in, err)
			return
		}
		p.message(w, in, statusOf(err), "You are not signed in", &next{"/signin", "Back to sign-in"}, re.Message, re.Hint)
		return
	}
	p.setCookie(w, in, sessionCookie, secret, "/", 0)
	redirect(w, in, "/account")
}

// refused charges the client for a provider's answer that was refused
// and audits it, in the organisation of r; past the client's budget it
// answers 429 and reports false, without auditing: a flood of refusals
// does not fill the log.
func (p *pages) refused(w http.ResponseWriter, r *http.Request, provider, why string) bool {
	if wait := p.guard.Charge(r); wait > 0 {
		p.tooMany(w, r, wait)
		return false
	}
	if err := p.b.ProviderRefused(p.ctx(r), provider, why); err != nil {
		p.log.Error("audit a refused sign-in", "provider", provider, "error", err)
	}
	return true
}
