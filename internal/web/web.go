// Package web serves the pages behind roster's links, for people who have
// a browser and not roster: accepting an invitation, setting a password
// with a reset link, signing in (with a password or a mailed link) and
// their own account page. The pages are server-rendered html/template
// with one stylesheet and no script; the core checks every rule, exactly
// as for the command line.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/idp"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/roster.css
var stylesheet []byte

// Backend is what the pages need of the core; *core.Core satisfies it.
type Backend interface {
	Public() core.Public
	CheckLink(ctx context.Context, kind store.LinkKind, tok string) (core.LinkInfo, error)
	StartSession(ctx context.Context, email, password string) (string, error)
	LinkSession(ctx context.Context, tok string) (string, error)
	SignInLinks(ctx context.Context) (time.Duration, error)
	SendSignInLink(ctx context.Context, email string) error
	Session(ctx context.Context, secret string) (core.Session, error)
	EndSession(ctx context.Context, secret string) error
	OrgName(ctx context.Context) string
	// SignInMethods are the sign-in methods the organisation of ctx
	// offers: password, link, provider names.
	SignInMethods(ctx context.Context) ([]string, error)
	// ProviderSession signs in the user an identity provider vouches for
	// and returns the new session's secret.
	ProviderSession(ctx context.Context, id roster.Identity) (string, error)
	// ProviderRefused audits a provider's answer refused before it
	// named anyone.
	ProviderRefused(ctx context.Context, provider, why string) error
	// DeviceInfo shows the device request a user code names in the
	// organisation of ctx; DecideDevice approves or denies it as s.
	DeviceInfo(ctx context.Context, userCode string) (roster.DeviceInfo, error)
	DecideDevice(ctx context.Context, s core.Session, userCode string, approve bool) error
	// OrgContext is ctx acting in the organisation slug names ("" the
	// system organisation); an unknown slug is roster.ErrNotFound.
	OrgContext(ctx context.Context, slug string) (context.Context, error)
	// ManyOrgs reports whether the store holds more than one organisation.
	ManyOrgs(ctx context.Context) (bool, error)
	Now() time.Time
}

var _ Backend = (*core.Core)(nil)

// Guard is the server's failure budgets, which the pages share with the
// API, so that a guesser gains nothing by switching between them.
// *api.Server satisfies it.
type Guard interface {
	// Client is the address of r's client, as counted and audited.
	Client(r *http.Request) string
	// Guess runs check, a check of account's password, within the
	// client's budgets; past them check is not run and wait is how long
	// to wait.
	Guess(r *http.Request, account string, check func() error) (wait time.Duration, err error)
	// Charge counts a failed link, or a request for a sign-in link,
	// against the client; past the budget wait is how long to wait.
	Charge(r *http.Request) (wait time.Duration)
	// Secure reports whether r reached the server over TLS, directly or
	// through a trusted proxy that says so.
	Secure(r *http.Request) bool
}

// Patterns are the paths the pages take on the server's mux: each page
// is also served under /o/<slug>/, in that organisation.
var Patterns = []string{"GET /{$}", "/invite/", "/invite", "/reset/", "/reset", "/signin", "/signin/",
	"/account", "/account/", "/signout", "GET /static/", "/o/", "/oidc/", "/device", "/device/"}

// Cookie names. The session's lives on its organisation's pages (every
// path, for the system organisation's own); a link's only on its page,
// and briefly.
const (
	sessionCookie = "roster_session"
	linkCookie    = "roster_link"
	linkCookieAge = 15 * time.Minute
)

type pages struct {
	b       Backend
	guard   Guard
	log     *slog.Logger
	tmpl    *template.Template
	mux     *http.ServeMux
	sending sync.WaitGroup // sign-in links being mailed
	// providers are the identity providers people may sign in with.
	providers idp.Set
}

// Handler is the pages' handler.
type Handler struct {
	http.Handler
	p *pages
}

// Wait waits for the sign-in links being mailed, which go out after the
// answer: a server shutting down calls it, and so do tests.
func (h *Handler) Wait() { h.p.sending.Wait() }

// New returns the pages' handler. Every response carries the security
// headers; every POST is refused unless it comes from the pages' own
// origin (net/http's CrossOriginProtection, by Sec-Fetch-Site or Origin).
func New(b Backend, guard Guard, log *slog.Logger, opts ...Option) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &pages{b: b, guard: guard, log: log, mux: http.NewServeMux(),
		tmpl: template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))}
	for _, o := range opts {
		o(p)
	}
	p.mux.HandleFunc("GET /static/roster.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(stylesheet) // a failed write means the client left
	})
	p.routes()
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(p.crossOrigin))
	return &Handler{Handler: headers(csrf.Handler(p.mux)), p: p}
}

// handle serves h at pattern ("METHOD /path") in the system organisation,
// and at /o/{org}/path in the organisation {org} names. Either names its
// organisation to the core, so that a link of another one is unknown
// there (R21): each is used at its own organisation's address.
func (p *pages) handle(pattern string, h http.HandlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	p.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h(w, r.WithContext(store.WithOrg(r.Context(), store.SystemOrg)))
	})
	p.mux.HandleFunc(method+" /o/{org}"+path, p.inPathOrg(h))
}

// inPathOrg serves h in the organisation the path's {org} names.
func (p *pages) inPathOrg(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r, ok := p.enter(w, r, r.PathValue("org")); ok {
			h(w, r)
		}
	}
}

// enter is r acting in the organisation slug names. An unknown
// organisation is answered as an unknown path is, and then ok is false:
// it exists nowhere.
func (p *pages) enter(w http.ResponseWriter, r *http.Request, slug string) (_ *http.Request, ok bool) {
	in, err := p.inOrg(r, slug)
	switch {
	case errors.Is(err, roster.ErrNotFound):
		http.NotFound(w, r)
	case err != nil:
		p.failure(w, r, err)
	}
	return in, err == nil
}

// baseKey carries the path an organisation's pages live under.
type baseKey struct{}

// inOrg is r acting in the organisation slug names, with its pages under
// /o/<slug>.
func (p *pages) inOrg(r *http.Request, slug string) (*http.Request, error) {
	ctx, err := p.b.OrgContext(r.Context(), slug)
	if err != nil {
		return r, fmt.Errorf("organisation %q: %w", slug, err)
	}
	return r.WithContext(context.WithValue(ctx, baseKey{}, "/o/"+slug)), nil
}

// base is the path r's pages live under: "" for the system
// organisation's own, "/o/<slug>" for an organisation's. Every form,
// link, redirect and cookie of a page keeps to it.
func base(r *http.Request) string {
	b, _ := r.Context().Value(baseKey{}).(string)
	return b
}

// headers sets what every page response carries: a CSP that allows only
// the own stylesheet (no inline anything, no frames, forms only to
// self), no referrer (a link's token must not leak), no caching (pages
// hold personal data), no framing.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// page is everything a template may show.
type page struct {
	Title, Org, Flash string
	// Base is the path the pages live under (see base); Slug names the
	// organisation when it is in the path.
	Base, Slug string
	// AskOrg asks for the organisation on the sign-in forms: a store with
	// many, at an address that names none.
	AskOrg bool
	// On are the sign-in methods offered, by name; Providers the
	// identity providers among them.
	On        map[string]bool
	Providers []string
	// ManyOrgs says that the store holds more than one organisation, so
	// the account page names its own.
	ManyOrgs  bool
	Problem   *roster.Error
	Fields    map[string]string // errors next to fields
	Values    map[string]string // what to refill (never a password)
	Link      core.LinkInfo
	Me        *roster.User
	MinLength int
	Notices   []roster.Notice
	Tokens    []roster.APIToken
	Lines     []string
	Next      *next
	Device    *roster.DeviceInfo // a device request to approve
}

// next is the one thing a message page suggests doing.
type next struct{ URL, Text string }

// fieldView is one labelled input.
type fieldView struct {
	Name, Label, Type, Auto, Hint, Value, Error string
	Required                                    bool
}

var funcs = template.FuncMap{
	"field": func(p *page, name, label, typ, auto, hint string, required bool) fieldView {
		return fieldView{Name: name, Label: label, Type: typ, Auto: auto, Hint: hint, Required: required,
			Value: p.Values[name], Error: p.Fields[name]}
	},
	"join": func(s []string) string { return strings.Join(s, ", ") },
	"policy": func(min int) string {
		return "At least " + strconv.Itoa(min) + " characters; not a common password, nor your email."
	},
	"when": func(v any) string {
		var t time.Time
		switch v := v.(type) {
		case time.Time:
			t = v
		case *time.Time:
			if v == nil {
				return ""
			}
			t = *v
		}
		return t.UTC().Format("2 Jan 2006, 15:04 UTC")
	},
	"lifetime": core.Lifetime,
	"method": func(m string) string {
		switch m {
		case "link":
			return "with a mailed link"
		case "password":
			return "with a password"
		}
		return "with " + m // an identity provider
	},
}

// render writes a page with status.
func (p *pages) render(w http.ResponseWriter, r *http.Request, status int, name string, pg *page) {
	if pg.Org == "" {
		pg.Org = p.b.OrgName(r.Context())
	}
	pg.Base = base(r)
	pg.Slug = strings.TrimPrefix(pg.Base, "/o/")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := p.tmpl.ExecuteTemplate(w, name, pg); err != nil {
		p.log.Error("render page", "page", name, "error", err)
	}
}

// message renders a page of a few sentences and what to do next.
func (p *pages) message(w http.ResponseWriter, r *http.Request, status int, title string, nx *next, lines ...string) {
	p.render(w, r, status, "message", &page{Title: title, Lines: lines, Next: nx})
}

// crossOrigin answers a POST from another site: nothing is done. It is
// refused before the pages' routes are, so an organisation's address is
// read here, for the answer to keep to its pages.
func (p *pages) crossOrigin(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/o/"); ok {
		slug, _, _ := strings.Cut(rest, "/")
		if r, ok = p.enter(w, r, slug); !ok {
			return
		}
	}
	p.message(w, r, http.StatusForbidden, "Request refused", &next{"/account", "Go to your account"},
		"This form was sent from another site, so nothing was done.",
		"If you meant to do this, open the page here and send the form again.")
}

// failure renders a page for an error the core returned that no form can
// show next to a field.
func (p *pages) failure(w http.ResponseWriter, r *http.Request, err error) {
	var re *roster.Error
	if !errors.As(err, &re) {
		// The route, not the path: a path may hold a link's token.
		p.log.Error("page request failed", "route", r.Pattern, "error", err)
		p.message(w, r, http.StatusInternalServerError, "Something went wrong", &next{"/account", "Try again"},
			"The server could not do this. Nothing was changed; try again in a moment.")
		return
	}
	p.message(w, r, statusOf(err), "That did not work", &next{"/account", "Back to your account"}, re.Message, re.Hint)
}

// statusOf is the HTTP status of a core error.
func statusOf(err error) int {
	switch {
	case errors.Is(err, roster.ErrInvalid):
		return http.StatusUnprocessableEntity
	case errors.Is(err, roster.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, roster.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, roster.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, roster.ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, roster.ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// problem is err as a form shows it above its fields.
func problem(err error) *roster.Error {
	var re *roster.Error
	if errors.As(err, &re) {
		return re
	}
	return &roster.Error{Message: "The server could not do this; nothing was changed.", Hint: "Try again in a moment."}
}

// tooMany renders the refusal of a client past its failure budget.
func (p *pages) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := max(1, int(wait.Round(time.Second)/time.Second))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	p.message(w, r, http.StatusTooManyRequests, "Too many attempts", nil,
		"There were too many failed attempts from your address.",
		"Wait "+strconv.Itoa(secs)+" seconds, then try again.")
}

// ctx is r's context carrying the client's address, for the audit log.
func (p *pages) ctx(r *http.Request) context.Context {
	return core.WithClient(r.Context(), p.guard.Client(r))
}

// setCookie sets an HttpOnly, SameSite=Lax cookie, Secure under TLS
// (also when a trusted proxy ends it), on path under r's base; maxAge < 0
// deletes it.
func (p *pages) setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge time.Duration) {
	p.setCookieAt(w, r, name, value, base(r)+path, maxAge)
}

// setCookieAt is setCookie on path itself, whatever r's base.
func (p *pages) setCookieAt(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: p.guard.Secure(r)}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

func cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// redirect answers with a 303 to a path of r's pages.
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, base(r)+path, http.StatusSeeOther)
}
