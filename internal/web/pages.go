package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/password"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

func (p *pages) routes() {
	p.handle("GET /{$}", p.home)
	// An organisation's address as people type it, without the last slash.
	p.mux.HandleFunc("GET /o/{org}", p.inPathOrg(p.home))
	p.handle("GET /invite/{token}", p.linkEntry(store.LinkInvite, "/invite"))
	p.handle("GET /invite", p.inviteForm)
	p.handle("POST /invite", p.inviteAccept)
	p.handle("GET /reset/{token}", p.linkEntry(store.LinkReset, "/reset"))
	p.handle("GET /reset", p.resetForm)
	p.handle("POST /reset", p.resetSet)
	p.handle("GET /signin/{token}", p.linkEntry(store.LinkSignIn, "/signin/link"))
	p.handle("GET /signin/link", p.signInLinkForm)
	p.handle("POST /signin/link", p.signInLinkUse)
	p.handle("GET /signin", p.signInForm)
	p.handle("POST /signin", p.signInPassword)
	p.handle("POST /signin/email", p.signInEmail)
	p.handle("GET /account", p.account)
	p.handle("POST /account/profile", p.profile)
	p.handle("POST /account/password", p.password)
	p.handle("POST /account/notices/seen", p.noticesSeen)
	p.handle("POST /account/tokens/{id}/revoke", p.revokeToken)
	p.handle("POST /signout", p.signOut)
	p.deviceRoutes()
	p.handle("GET /oidc/{name}/start", p.oidcStart)
	// One callback for every organisation: the address registered with
	// the provider. The flow's cookie names the organisation.
	p.mux.HandleFunc("GET /oidc/{name}/callback", p.oidcCallback)
}

// flashes are the confirmations a redirect may ask a page to show, by key:
// never text from the request.
var flashes = map[string]string{
	"welcome":   "Welcome: your account is ready and you are signed in.",
	"reset":     "Your new password is set, and you are signed in.",
	"password":  "Your password was changed.",
	"saved":     "Saved.",
	"revoked":   "The token was revoked.",
	"seen":      "Marked as seen.",
	"signedout": "You are signed out.",
}

func (p *pages) home(w http.ResponseWriter, r *http.Request) { redirect(w, r, "/account") }

// linkPages says, per kind of link, where its page is and what it is.
var linkPages = map[store.LinkKind]struct{ path, what string }{
	store.LinkInvite: {"/invite", "invitation"},
	store.LinkReset:  {"/reset", "reset link"},
	store.LinkSignIn: {"/signin", "sign-in link"},
}

// linkEntry is the first GET of a link: it checks the token without using
// it, keeps it in a short-lived cookie of the link's page and redirects to
// that page's clean address, so that the token leaves the address bar
// (and the history, and any Referer) at once.
func (p *pages) linkEntry(kind store.LinkKind, clean string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.PathValue("token")
		if _, err := p.b.CheckLink(r.Context(), kind, tok); err != nil {
			p.deadLink(w, r, kind, err)
			return
		}
		p.setCookie(w, r, linkCookie, tok, linkPages[kind].path, linkCookieAge)
		redirect(w, r, clean)
	}
}

// heldLink checks the link kept in the page's cookie. On failure it has
// answered.
func (p *pages) heldLink(w http.ResponseWriter, r *http.Request, kind store.LinkKind) (string, core.LinkInfo, bool) {
	tok := cookie(r, linkCookie)
	if tok == "" {
		p.message(w, r, http.StatusBadRequest, "Open the link from your mail", &next{"/signin", "Sign in instead"},
			"This page works with the link you were sent: open it from the mail again.",
			"If it has expired, ask an administrator for a new one.")
		return "", core.LinkInfo{}, false
	}
	info, err := p.b.CheckLink(r.Context(), kind, tok)
	if err != nil {
		p.deadLink(w, r, kind, err)
		return "", info, false
	}
	return tok, info, true
}

// deadLink answers a link that cannot be used (unknown, expired, used,
// revoked, or its account no longer fits) with what to do next. Unknown
// tokens are charged to the client, as the API charges them.
func (p *pages) deadLink(w http.ResponseWriter, r *http.Request, kind store.LinkKind, err error) {
	var re *roster.Error
	if !errors.As(err, &re) {
		p.failure(w, r, err)
		return
	}
	if errors.Is(err, roster.ErrNotFound) {
		if wait := p.guard.Charge(r); wait > 0 {
			p.tooMany(w, r, wait)
			return
		}
	}
	p.setCookie(w, r, linkCookie, "", linkPages[kind].path, -1)
	status, nx := http.StatusGone, &next{"/signin", "Sign in"}
	if errors.Is(err, roster.ErrNotFound) {
		status = http.StatusNotFound
	}
	if kind == store.LinkSignIn {
		nx = &next{"/signin", "Ask for a new sign-in link"}
	}
	p.message(w, r, status, "This "+linkPages[kind].what+" cannot be used", nx, re.Message, re.Hint)
}

func (p *pages) inviteForm(w http.ResponseWriter, r *http.Request) {
	if _, info, ok := p.heldLink(w, r, store.LinkInvite); ok {
		pg := &page{Title: "Accept your invitation", Link: info,
			Values: map[string]string{"name": info.Name, "username": info.Username}}
		if p.askOrg(w, r, pg) {
			pg.AskOrg, pg.On = false, nil // the invitation names its organisation
			p.render(w, r, http.StatusOK, "invite", pg)
		}
	}
}

func (p *pages) inviteAccept(w http.ResponseWriter, r *http.Request) {
	tok, info, ok := p.heldLink(w, r, store.LinkInvite)
	if !ok {
		return
	}
	name, username, pw := r.PostFormValue("name"), r.PostFormValue("username"), r.PostFormValue("password")
	pg := &page{Title: "Accept your invitation", Link: info, Values: map[string]string{"name": name, "username": username}}
	pg.check("name", roster.ValidateName(name))
	if username != "" {
		pg.check("username", roster.ValidateUsername(username))
	}
	pg.checkPassword("password", pw, info.Email, info.MinLength)
	if pg.Fields != nil {
		p.render(w, r, http.StatusUnprocessableEntity, "invite", pg)
		return
	}
	_, err := p.b.Public().AcceptInvitation(p.ctx(r), roster.AcceptInvitation{Token: tok, Name: name, Username: username, Password: pw})
	p.redeemed(w, r, store.LinkInvite, "invite", pg, err, info.Email, pw, "welcome")
}

func (p *pages) resetForm(w http.ResponseWriter, r *http.Request) {
	if _, info, ok := p.heldLink(w, r, store.LinkReset); ok {
		p.render(w, r, http.StatusOK, "reset", &page{Title: "Set a new password", Link: info})
	}
}

func (p *pages) resetSet(w http.ResponseWriter, r *http.Request) {
	tok, info, ok := p.heldLink(w, r, store.LinkReset)
	if !ok {
		return
	}
	pw := r.PostFormValue("password")
	pg := &page{Title: "Set a new password", Link: info}
	if pg.checkPassword("password", pw, info.Email, info.MinLength); pg.Fields != nil {
		p.render(w, r, http.StatusUnprocessableEntity, "reset", pg)
		return
	}
	_, err := p.b.Public().RedeemResetLink(p.ctx(r), tok, pw)
	p.redeemed(w, r, store.LinkReset, "reset", pg, err, info.Email, pw, "reset")
}

// redeemed finishes the use of an invitation or reset link: on success
// the link's cookie goes and the person is signed in with the password
// they just chose; a link that died meanwhile gets its page; any other
// refusal is shown above the form.
func (p *pages) redeemed(w http.ResponseWriter, r *http.Request, kind store.LinkKind, form string, pg *page, err error, email, pw, flash string) {
	switch {
	case errors.Is(err, roster.ErrNotFound), errors.Is(err, roster.ErrConflict) && !errors.Is(err, roster.ErrInvalid):
		if _, checkErr := p.b.CheckLink(r.Context(), kind, cookie(r, linkCookie)); checkErr != nil {
			p.deadLink(w, r, kind, checkErr)
			return
		}
		fallthrough
	case err != nil:
		pg.Problem = problem(err)
		p.render(w, r, statusOf(err), form, pg)
		return
	}
	p.setCookie(w, r, linkCookie, "", linkPages[kind].path, -1)
	secret, err := p.b.StartSession(p.ctx(r), email, pw)
	if err != nil {
		p.log.Warn("sign-in after a link failed", "error", err)
		redirect(w, r, "/signin")
		return
	}
	p.setCookie(w, r, sessionCookie, secret, "/", 0)
	redirect(w, r, "/account?m="+flash)
}

func (p *pages) signInForm(w http.ResponseWriter, r *http.Request) {
	if _, _, err := p.session(r); err == nil {
		redirect(w, r, "/account")
		return
	}
	pg := &page{Title: "Sign in", Flash: flashes[r.URL.Query().Get("m")]}
	if p.askOrg(w, r, pg) {
		p.render(w, r, http.StatusOK, "signin", pg)
	}
}

// askOrg sets whether the sign-in forms ask for the organisation: when
// the store holds more than one and r's address names none. On failure
// it has answered.
//
// It also sets the sign-in methods the forms offer: the organisation's,
// or, asking for one, password and link, whose forms name it.
func (p *pages) askOrg(w http.ResponseWriter, r *http.Request, pg *page) bool {
	if base(r) == "" {
		many, err := p.b.ManyOrgs(r.Context())
		if err != nil {
			p.failure(w, r, err)
			return false
		}
		pg.AskOrg = many
	}
	on := []string{roster.MethodPassword, roster.MethodLink}
	if !pg.AskOrg {
		var err error
		if on, err = p.b.SignInMethods(r.Context()); err != nil {
			p.failure(w, r, err)
			return false
		}
	}
	pg.On = map[string]bool{}
	for _, m := range on {
		pg.On[m] = true
		if p.providers[m] != nil {
			pg.Providers = append(pg.Providers, m)
		}
	}
	return true
}

func (p *pages) signInPassword(w http.ResponseWriter, r *http.Request) {
	email, pw, slug := r.PostFormValue("email"), r.PostFormValue("password"), r.PostFormValue("org")
	pg := &page{Title: "Sign in", Values: map[string]string{"email": email}}
	if !p.askOrg(w, r, pg) {
		return
	}
	if pg.AskOrg {
		pg.Values["org"] = slug
		if slug == "" {
			pg.field("org", "Enter your organisation.")
		}
	}
	if email == "" {
		pg.field("email", "Enter your email address.")
	}
	if pw == "" {
		pg.field("password", "Enter your password.")
	}
	if pg.Fields != nil {
		p.render(w, r, http.StatusUnprocessableEntity, "signin", pg)
		return
	}
	var secret string
	in := r // the request acting in the organisation signed in to
	wait, err := p.guard.Guess(r, email, func() (err error) {
		if pg.AskOrg {
			if in, err = p.inOrg(r, slug); errors.Is(err, roster.ErrNotFound) {
				// An organisation that does not exist fails as a wrong
				// password does, with the core's words and after the
				// same work: a sign-in without an email, which cannot
				// succeed and runs the one hash of an unknown account.
				// Nothing tells which organisations an address belongs
				// to, or which exist.
				_, err = p.b.StartSession(p.ctx(r), "", pw)
				return err
			} else if err != nil {
				return err
			}
		}
		secret, err = p.b.StartSession(p.ctx(in), email, pw)
		return err
	})
	switch {
	case wait > 0:
		p.tooMany(w, r, wait)
	case err != nil:
		// Answered at the address asked, not the organisation's: its
		// name would tell that it exists.
		pg.Problem = problem(err)
		p.render(w, r, statusOf(err), "signin", pg)
	default:
		p.setCookie(w, in, sessionCookie, secret, "/", 0)
		redirect(w, in, "/account")
	}
}

func (p *pages) signInEmail(w http.ResponseWriter, r *http.Request) {
	email, slug := r.PostFormValue("link-email"), r.PostFormValue("link-org")
	pg := &page{Title: "Sign in", Values: map[string]string{"link-email": email}}
	if !p.askOrg(w, r, pg) {
		return
	}
	if pg.AskOrg {
		pg.Values["link-org"] = slug
		if slug == "" {
			pg.field("link-org", "Enter your organisation.")
		}
	}
	if email == "" {
		pg.field("link-email", "Enter your email address.")
	}
	if pg.Fields != nil {
		p.render(w, r, http.StatusUnprocessableEntity, "signin", pg)
		return
	}
	// Every request counts: a mailed link costs the server a mail and the
	// recipient an interruption.
	if wait := p.guard.Charge(r); wait > 0 {
		p.tooMany(w, r, wait)
		return
	}
	life, err := p.b.SignInLinks(r.Context())
	if err != nil {
		pg.Problem = problem(err)
		p.render(w, r, statusOf(err), "signin", pg)
		return
	}
	// The link is made and mailed after the answer, which is therefore
	// the same, and as quick, whether or not the address has an account,
	// or the organisation asked for exists: neither its words nor its
	// timing tell.
	ctx := context.WithoutCancel(p.ctx(r))
	p.sending.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := p.sendSignInLink(ctx, pg.AskOrg, slug, email); err != nil {
			p.log.Error("send a sign-in link", "error", err)
		}
	})
	lines := []string{"If " + email + " has an account here, a sign-in link is on its way to it.",
		"The link works once, within " + core.Lifetime(life) + ". You can close this page."}
	if pg.AskOrg {
		// The lifetime is the organisation's, which only the mail tells.
		lines = []string{"If " + email + " has an account in that organisation, a sign-in link is on its way to it.",
			"The link works once, for as long as the mail says. You can close this page."}
	}
	p.message(w, r, http.StatusOK, "Check your mail", &next{"/signin", "Back to sign-in"}, lines...)
}

// sendSignInLink mails email a sign-in link in the organisation of ctx,
// or, inOrg, in the one slug names: none when it does not exist.
func (p *pages) sendSignInLink(ctx context.Context, inOrg bool, slug, email string) error {
	if inOrg {
		var err error
		if ctx, err = p.b.OrgContext(ctx, slug); errors.Is(err, roster.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
	}
	return p.b.SendSignInLink(ctx, email)
}

func (p *pages) signInLinkForm(w http.ResponseWriter, r *http.Request) {
	// A click, not the GET, uses the link: mail scanners that fetch every
	// link they see must not sign anyone in, or use the link up.
	if _, info, ok := p.heldLink(w, r, store.LinkSignIn); ok {
		p.render(w, r, http.StatusOK, "signin-link", &page{Title: "Sign in", Link: info})
	}
}

func (p *pages) signInLinkUse(w http.ResponseWriter, r *http.Request) {
	tok := cookie(r, linkCookie)
	secret, err := p.b.LinkSession(p.ctx(r), tok)
	if err != nil {
		p.deadLink(w, r, store.LinkSignIn, err)
		return
	}
	p.setCookie(w, r, linkCookie, "", linkPages[store.LinkSignIn].path, -1)
	p.setCookie(w, r, sessionCookie, secret, "/", 0)
	redirect(w, r, "/account")
}

// session is the request's signed-in session in the organisation of its
// pages. A browser may hold one session cookie per organisation, each on
// its pages' path, and sends the system organisation's, on "/", to every
// page: a session of another organisation is not signed in here (R21).
// It returns the session's secret too, from its cookie.
func (p *pages) session(r *http.Request) (core.Session, string, error) {
	for i, c := range r.CookiesNamed(sessionCookie) {
		if i == maxSessionCookies {
			break
		}
		s, err := p.b.Session(r.Context(), c.Value)
		if errors.Is(err, roster.ErrUnauthenticated) || err == nil && s.Org != store.OrgOf(r.Context()) {
			continue
		}
		return s, c.Value, err
	}
	return core.Session{}, "", roster.ErrUnauthenticated
}

// maxSessionCookies is how many session cookies of one request are tried:
// the organisation's own and the system organisation's, and a few
// mistaken ones.
const maxSessionCookies = 4

// signedIn is the request's session; without one it has redirected to
// the sign-in page.
func (p *pages) signedIn(w http.ResponseWriter, r *http.Request) (core.Session, bool) {
	s, _, err := p.session(r)
	if err != nil {
		if cookie(r, sessionCookie) != "" {
			p.setCookie(w, r, sessionCookie, "", "/", -1)
		}
		redirect(w, r, "/signin")
		return s, false
	}
	return s, true
}

func (p *pages) account(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	pg := &page{Flash: flashes[r.URL.Query().Get("m")]}
	p.accountPage(w, r, s, http.StatusOK, pg)
}

// accountPage renders the account page of s, or, while the user must
// change their password, only the password form (R17). Looking at it
// changes nothing (R20): notices are marked seen by a POST, noticesSeen.
func (p *pages) accountPage(w http.ResponseWriter, r *http.Request, s core.Session, status int, pg *page) {
	ctx := p.ctx(r)
	me, err := s.Service.Whoami(ctx)
	if err != nil {
		p.failure(w, r, err)
		return
	}
	pg.Me, pg.MinLength = me.User, me.PasswordPolicy.MinLength
	if me.User.MustChangePassword {
		pg.Title = "Choose a new password"
		p.render(w, r, status, "password", pg)
		return
	}
	pg.Title = "Your account"
	if pg.ManyOrgs, err = p.b.ManyOrgs(ctx); err != nil {
		p.failure(w, r, err)
		return
	}
	if pg.Values == nil {
		pg.Values = map[string]string{"name": me.User.Name, "username": me.User.Username}
	}
	tokens, err := s.Service.ListTokens(ctx, roster.TokenFilter{})
	if err != nil {
		p.failure(w, r, err)
		return
	}
	for _, t := range tokens {
		if !t.Revoked && (t.ExpiresAt == nil || t.ExpiresAt.After(p.b.Now())) {
			pg.Tokens = append(pg.Tokens, t)
		}
	}
	if pg.Notices, err = s.Service.Notices(ctx, false); err != nil {
		p.failure(w, r, err)
		return
	}
	p.render(w, r, status, "account", pg)
}

// noticesSeen marks the signed-in person's notices seen.
func (p *pages) noticesSeen(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	if _, err := s.Service.Notices(p.ctx(r), true); err != nil {
		p.failure(w, r, err)
		return
	}
	redirect(w, r, "/account?m=seen")
}

func (p *pages) profile(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	name, username := r.PostFormValue("name"), r.PostFormValue("username")
	pg := &page{Values: map[string]string{"name": name, "username": username}}
	pg.check("name", roster.ValidateName(name))
	if username != "" {
		pg.check("username", roster.ValidateUsername(username))
	}
	if pg.Fields != nil {
		p.accountPage(w, r, s, http.StatusUnprocessableEntity, pg)
		return
	}
	change := roster.UpdateUser{Name: &name}
	if username != s.User.Username {
		change.Username = &username
	}
	if _, err := s.Service.UpdateUser(p.ctx(r), s.User.Email, change); err != nil {
		pg.Problem = problem(err)
		p.accountPage(w, r, s, statusOf(err), pg)
		return
	}
	redirect(w, r, "/account?m=saved")
}

func (p *pages) password(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	current, pw := r.PostFormValue("current"), r.PostFormValue("password")
	pg := &page{}
	if current == "" {
		pg.field("current", "Enter your current password.")
	}
	me, err := s.Service.Whoami(r.Context())
	if err != nil {
		p.failure(w, r, err)
		return
	}
	pg.checkPassword("password", pw, s.User.Email, me.PasswordPolicy.MinLength)
	if pg.Fields != nil {
		p.accountPage(w, r, s, http.StatusUnprocessableEntity, pg)
		return
	}
	// A wrong current password is a failed sign-in: whoever holds the
	// session may be guessing it.
	wait, err := p.guard.Guess(r, s.User.Email, func() error {
		_, err := s.Service.ChangePassword(p.ctx(r), roster.ChangePassword{Current: current, New: pw, RevokeTokens: r.PostFormValue("revoke-tokens") != ""})
		return err
	})
	switch {
	case wait > 0:
		p.tooMany(w, r, wait)
	case errors.Is(err, roster.ErrUnauthenticated):
		pg.field("current", "That is not your current password.")
		p.accountPage(w, r, s, http.StatusUnprocessableEntity, pg)
	case err != nil:
		pg.Problem = problem(err)
		p.accountPage(w, r, s, statusOf(err), pg)
	default:
		redirect(w, r, "/account?m=password")
	}
}

func (p *pages) revokeToken(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		p.message(w, r, http.StatusNotFound, "No such token", &next{"/account", "Back to your account"}, "There is no such token.")
		return
	}
	if _, err := s.Service.RevokeToken(p.ctx(r), id); err != nil {
		p.failure(w, r, err)
		return
	}
	redirect(w, r, "/account?m=revoked")
}

func (p *pages) signOut(w http.ResponseWriter, r *http.Request) {
	// Only this organisation's session: the system organisation's cookie
	// reaches every organisation's pages.
	_, secret, err := p.session(r)
	if err == nil {
		err = p.b.EndSession(p.ctx(r), secret)
	}
	if err != nil && !errors.Is(err, roster.ErrUnauthenticated) {
		p.failure(w, r, err)
		return
	}
	p.setCookie(w, r, sessionCookie, "", "/", -1)
	redirect(w, r, "/signin?m=signedout")
}

// field shows msg next to a form's field.
func (pg *page) field(name, msg string) {
	if pg.Fields == nil {
		pg.Fields = map[string]string{}
	}
	pg.Fields[name] = msg
}

// check shows err, a validation's, next to its field, as a sentence.
func (pg *page) check(name string, err error) {
	if err != nil {
		msg := problem(err).Message
		if r, size := utf8.DecodeRuneInString(msg); unicode.IsLower(r) {
			msg = string(unicode.ToUpper(r)) + msg[size:]
		}
		pg.field(name, strings.TrimSuffix(msg, ".")+".")
	}
}

// checkPassword applies R10 to a new password, to say what is wrong next
// to its field; the core applies it again when the password is set.
func (pg *page) checkPassword(name, pw, email string, minLen int) {
	if pw == "" {
		pg.field(name, "Choose a password.")
		return
	}
	pg.check(name, password.Check(pw, email, minLen))
}
