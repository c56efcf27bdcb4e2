// Package idp makes roster serve an OpenID Connect relying party: it
// starts a provider's authorization code flow (with PKCE, state and
// nonce) and verifies the ID token that ends it. Discovery, JWKS and
// signatures are go-oidc's; the exchange is x/oauth2's.
package idp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/roster-dev/roster/internal/roster"
)

// Config is one provider, as the host configures it (R16).
type Config struct {
	Name         string // roster's name for it: google, microsoft, …
	Issuer       string
	ClientID     string
	ClientSecret string
}

// nameRE is a provider's name: what follows oidc: in a user's link and
// /oidc/ in an address. Its length, at most 31, is checked apart: a
// counted repetition compiles into a program that many times larger, paid
// at every start of roster.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// reserved are names that are sign-in methods of roster's own.
var reserved = map[string]bool{roster.MethodPassword: true, roster.MethodLink: true}

// CheckName validates a provider's name.
func CheckName(name string) error {
	if len(name) > 31 || !nameRE.MatchString(name) || reserved[name] {
		return fmt.Errorf("invalid provider name %q: want a lower-case word of at most 31 letters, digits and dashes, not password or link", name)
	}
	return nil
}

// Check validates c, for roster serve to refuse a bad one at start.
func (c Config) Check() error {
	if err := CheckName(c.Name); err != nil {
		return err
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("provider %s: issuer %q is not an http or https URL", c.Name, c.Issuer)
	}
	if c.ClientID == "" {
		return fmt.Errorf("provider %s: no client id", c.Name)
	}
	return nil
}

// Flow is what a browser keeps between the start of a sign-in and its
// callback, bound to that browser by a cookie: the state the callback
// must bring back, the nonce the ID token must carry, the PKCE verifier.
type Flow struct {
	State, Nonce, Verifier string
}

// NewFlow makes a fresh flow's secrets.
func NewFlow() Flow {
	return Flow{State: oauth2.GenerateVerifier(), Nonce: oauth2.GenerateVerifier(), Verifier: oauth2.GenerateVerifier()}
}

// Provider is one configured provider. Its discovery document is fetched
// at first use and kept, so that a provider down when the server starts
// fails only its own sign-ins.
type Provider struct {
	cfg      Config
	redirect string

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// New returns a provider that sends people back to redirect.
func New(cfg Config, redirect string) *Provider { return &Provider{cfg: cfg, redirect: redirect} }

// Name is roster's name for the provider.
func (p *Provider) Name() string { return p.cfg.Name }

// discover fetches the issuer's discovery document, once it succeeds.
func (p *Provider) discover(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.oauth != nil {
		return p.oauth, p.verifier, nil
	}
	prov, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("provider %s: discovery: %w", p.cfg.Name, err)
	}
	p.oauth = &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: prov.Endpoint(),
		RedirectURL: p.redirect, Scopes: []string{oidc.ScopeOpenID, "email"}}
	// The verifier checks the signature against the issuer's JWKS, iss,
	// aud (this client) and exp; the nonce is checked by Finish.
	p.verifier = prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID})
	return p.oauth, p.verifier, nil
}

// Start is the provider's authorization URL for flow.
func (p *Provider) Start(ctx context.Context, flow Flow) (string, error) {
	oc, _, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	return oc.AuthCodeURL(flow.State, oidc.Nonce(flow.Nonce), oauth2.S256ChallengeOption(flow.Verifier)), nil
}

// ErrRefused is a sign-in the provider's answer does not support: a
// state that is not the flow's, an error from the provider, an ID token
// missing, forged, expired, for another client or of another flow.
var ErrRefused = errors.New("the identity provider's answer was refused")

// Finish ends flow with the callback's query: it checks the state,
// exchanges the code (with the PKCE verifier) and verifies the ID token.
func (p *Provider) Finish(ctx context.Context, flow Flow, query url.Values) (roster.Identity, error) {
	if flow.State == "" || query.Get("state") != flow.State {
		return roster.Identity{}, fmt.Errorf("%w: the state is not this browser's", ErrRefused)
	}
	if e := query.Get("error"); e != "" {
		return roster.Identity{}, fmt.Errorf("%w: the provider answered %.100q", ErrRefused, e)
	}
	oc, _, err := p.discover(ctx)
	if err != nil {
		return roster.Identity{}, err
	}
	tok, err := oc.Exchange(ctx, query.Get("code"), oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		return roster.Identity{}, fmt.Errorf("%w: exchange the code: %v", ErrRefused, exchangeError(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return roster.Identity{}, fmt.Errorf("%w: no ID token", ErrRefused)
	}
	return p.Verify(ctx, raw, flow.Nonce)
}

// exchangeError is what may be said, logged and audited of a failed
// exchange: of the provider's answer, its error code or else its HTTP
// status, never its description or body, which may echo what roster sent,
// the client secret too.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	if re.ErrorCode != "" {
		return fmt.Errorf("the provider answered %.100q", re.ErrorCode)
	}
	if re.Response != nil {
		return fmt.Errorf("the provider answered %s", re.Response.Status)
	}
	return errors.New("the provider refused the code")
}

// Verify verifies an ID token of this provider for this client, carrying
// nonce, and returns whom it names.
func (p *Provider) Verify(ctx context.Context, raw, nonce string) (roster.Identity, error) {
	_, v, err := p.discover(ctx)
	if err != nil {
		return roster.Identity{}, err
	}
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		return roster.Identity{}, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if nonce == "" || idt.Nonce != nonce {
		return roster.Identity{}, fmt.Errorf("%w: the ID token's nonce is not this flow's", ErrRefused)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		return roster.Identity{}, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	// Some providers send email_verified as the string "true".
	verified := claims.EmailVerified == true || claims.EmailVerified == "true"
	return roster.Identity{Provider: p.cfg.Name, Issuer: idt.Issuer, Subject: idt.Subject,
		Email: claims.Email, EmailVerified: verified}, nil
}

// Set is the providers a server offers, by name.
type Set map[string]*Provider

// NewSet makes the providers of cfgs, each sending people back to
// <base>/oidc/<name>/callback.
func NewSet(cfgs []Config, base string) (Set, error) {
	s := Set{}
	for _, c := range cfgs {
		if err := c.Check(); err != nil {
			return nil, err
		}
		if s[c.Name] != nil {
			return nil, fmt.Errorf("provider %s is given twice", c.Name)
		}
		s[c.Name] = New(c, CallbackURL(base, c.Name))
	}
	return s, nil
}

// CallbackURL is where a provider sends people back: one address per
// provider for every organisation, which the flow's cookie names.
func CallbackURL(base, name string) string {
	return strings.TrimSuffix(base, "/") + "/oidc/" + name + "/callback"
}

// Names are the providers' names, sorted.
func (s Set) Names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
