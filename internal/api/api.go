// Package api is roster's JSON HTTP server over the core, as docs/api.md
// specifies: every route acts as the principal of the request's bearer
// token (or, for the few routes that need none, as nobody), the core
// enforces every rule, and errors cross the wire through package wire's
// one table of statuses and codes.
package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/token"
	"github.com/roster-dev/roster/internal/wire"
)

// Backend is what the server needs of the core; *core.Core satisfies it.
type Backend interface {
	Authenticate(ctx context.Context, bearer string) (roster.Service, error)
	// SignIn acts in the organisation of ctx, which OrgContext makes.
	SignIn(ctx context.Context, email, password, name string) (roster.APIToken, error)
	// OrgContext is ctx acting in the organisation slug ("" the system
	// organisation), for the requests that sign in.
	OrgContext(ctx context.Context, slug string) (context.Context, error)
	Public() core.Public
	Ready(ctx context.Context) error
	// StartDevice and PollDevice are the device authorization grant
	// (RFC 8628) of roster login --web; StartDevice acts in the
	// organisation of ctx.
	StartDevice(ctx context.Context, req roster.DeviceRequest) (roster.DeviceGrant, error)
	PollDevice(ctx context.Context, deviceCode string) (roster.APIToken, error)
	// Idempotent runs a write request sent with an Idempotency-Key (see
	// idempotency.go).
	Idempotent(ctx context.Context, svc roster.Service, key string, request []byte,
		do func(ctx context.Context) core.Answer) (core.Answer, bool, error)
}

var _ Backend = (*core.Core)(nil)

// Options tune the server; the zero value is a sensible default.
type Options struct {
	// Logger receives one line per request (method, path without the
	// query, status, duration, remote address) and the details of
	// internal errors. Bodies, tokens and passwords are never logged.
	// nil discards.
	Logger *slog.Logger
	// MaxBody caps a request body; 0 means 1 MiB. Larger bodies get 413.
	MaxBody int64
	// FailureRate is how many failures per second a client may make once
	// it has spent its burst: failed uses of a bearer or link token (a
	// burst of 10), failed password checks on one account (10), and failed
	// password checks on any account (100). 0 means 1 per second. Only
	// failures count, and a valid token is always served: see guard.
	FailureRate float64
	// TrustedProxies are the address ranges of the reverse proxies in
	// front of the server. A request whose peer is in one is counted
	// against the client X-Forwarded-For names; otherwise the header is
	// ignored, since any client can send it.
	TrustedProxies []netip.Prefix
	// Now is the limiter's clock; nil means time.Now.
	Now func() time.Time
	// Metrics are served at GET /metrics; nil makes a set of the
	// server's own. To have store transactions measured too, make them
	// with NewMetrics and give core.New the store wrapped by
	// Metrics.Store.
	Metrics *Metrics
	// RequestTimeout bounds each request but a streamed export, and an
	// import or apply sent progress: work not done by then is cancelled
	// and answered 503 (see withDeadline). roster serve sets it below its
	// WriteTimeout; 0 means none.
	RequestTimeout time.Duration
	// Progress is how often an import or apply whose client asks for it
	// (wire.ProgressHeader) is sent a 102 Processing while it works (see
	// progress.go); 0 means 5 s, and negative sends none, so that every
	// import and apply is bounded by RequestTimeout.
	Progress time.Duration
	// LongTimeout bounds an import or apply sent progress instead of
	// RequestTimeout; 0 means none.
	LongTimeout time.Duration
	// WriteTimeout is the http.Server's: each 102, and the answer after
	// them, gives the connection this long again to write, as a new
	// request would have. 0 leaves the connection's deadline alone.
	WriteTimeout time.Duration
	// ReadTimeout is the http.Server's: an import's or apply's body pushes
	// the connection's read deadline this long ahead as it comes in (see
	// uploadBody), up to LongTimeout from the request's start, so that a
	// file is not bound to arrive within it. 0 leaves the deadline alone.
	ReadTimeout time.Duration
	// Heartbeat is how often an idle audit stream carries a comment line,
	// so that proxies keep it open; 0 means 15 s.
	Heartbeat time.Duration
}

// Defaults of Options, and the limiter's bursts.
const (
	defaultMaxBody     = 1 << 20
	defaultFailureRate = 1
	tokenBurst         = 10
	accountBurst       = 10
	passwordBurst      = 100
)

// Server is the API's handler, which also serves, under Mount, what else
// shares its logging, metrics and failure budgets: the pages.
type Server struct{ s *server }

// ServeHTTP logs, counts, recovers, caps the body and dispatches one
// request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.s.serveHTTP(w, r) }

// Mount serves h at each pattern (net/http's ServeMux patterns) beside
// the API's routes. Its requests are counted under the pattern that
// served them: that of h's own ServeMux, if it has one (the pages'
// "GET /invite/{token}"), else the pattern given here.
func (s *Server) Mount(h http.Handler, patterns ...string) {
	for _, p := range patterns {
		s.s.mux.Handle(p, mounted{h})
	}
}

// mounted is a handler given to Mount, as the mux holds it.
type mounted struct{ http.Handler }

// mountedPattern is the pattern that served r, a request to a mounted
// handler, once served. A ServeMux sets r.Pattern to the pattern it
// matched, so after a mounted mux has served r it holds the innermost
// one: always one of that mux's patterns, or "" when none matched (404,
// 405), which is counted as unmatched. A CONNECT request's "pattern" may
// be its path, so it is unmatched too.
func mountedPattern(r *http.Request) string {
	if r.Pattern == "" || r.Method == http.MethodConnect {
		return unmatched
	}
	return r.Pattern
}

// Client is the address of r's client, as the failure budgets count it
// and the audit log records it (see clientAddr).
func (s *Server) Client(r *http.Request) string { return s.s.clientString(r) }

func (s *server) clientString(r *http.Request) string {
	if a := s.clientAddr(r); a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}

// Guess runs check, a check of account's password, within the client's
// failure budgets, as the API's sign-in does. When the client is past
// them, check is not run and wait says how long until it may try again.
func (s *Server) Guess(r *http.Request, account string, check func() error) (wait time.Duration, err error) {
	err = s.s.guess(r, account, check)
	if he, ok := errors.AsType[*httpError](err); ok && he.status == http.StatusTooManyRequests {
		return he.retryAfter, nil
	}
	return 0, err
}

// Secure reports whether r came over TLS: to this server, or to a
// trusted proxy in front of it that says so with X-Forwarded-Proto.
func (s *Server) Secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && s.s.isTrusted(ap.Addr().Unmap()) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// Charge counts a failed use of a link, or a request for a sign-in
// link, against the client's token budget; past it, wait says how long
// until the client may try again.
func (s *Server) Charge(r *http.Request) (wait time.Duration) {
	if ok, wait := s.s.tokens.spend(s.s.limitKey(r)); !ok {
		s.s.metrics.refusedToken.Inc()
		return wait
	}
	return 0
}

// server is the state behind Server.
type server struct {
	b       Backend
	log     *slog.Logger
	maxBody int64
	mux     *http.ServeMux
	trusted []netip.Prefix
	metrics *Metrics
	// requestTimeout, progress, longTimeout, writeTimeout and readTimeout
	// are the Options'.
	requestTimeout, progress, longTimeout, writeTimeout time.Duration
	readTimeout, heartbeat                              time.Duration

	// The failure budgets: of token uses per client, of password checks
	// per client and account, and of password checks per client.
	tokens, accounts, passwords *limiter
}

// New returns the API's handler over b.
func New(b Backend, o Options) *Server {
	s := &server{b: b, log: o.Logger, maxBody: o.MaxBody, mux: http.NewServeMux(), trusted: o.TrustedProxies,
		metrics: o.Metrics, requestTimeout: o.RequestTimeout, progress: o.Progress, longTimeout: o.LongTimeout,
		writeTimeout: o.WriteTimeout, readTimeout: o.ReadTimeout, heartbeat: o.Heartbeat}
	if s.progress == 0 {
		s.progress = defaultProgress
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = defaultMaxBody
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	rate := o.FailureRate
	if rate <= 0 {
		rate = defaultFailureRate
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	s.tokens = newLimiter(rate, tokenBurst, now)
	s.accounts = newLimiter(rate, accountBurst, now)
	s.passwords = newLimiter(rate, passwordBurst, now)
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, &endpoint{s: s, rt: rt, metrics: s.metrics.route(rt.pattern)})
	}
	return &Server{s}
}

// serveHTTP logs, counts, recovers, caps the body and dispatches one
// request.
func (s *server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	rm := s.metrics.unmatched
	page := false // served by a mounted handler
	defer func() {
		if page {
			// Read now, not before: a mounted mux sets it as it serves, and
			// even a panic comes after.
			rm = s.metrics.page(mountedPattern(r))
		}
		rm.observe(sw.statusOr200(), time.Since(start))
		if !s.log.Enabled(r.Context(), slog.LevelInfo) {
			return // no line, so nothing made for one
		}
		// The path only: query values might be secrets one day, and the
		// body and headers certainly may be.
		attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", safePath(r)),
			slog.Int("status", sw.statusOr200()), slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr)}
		if len(s.trusted) > 0 {
			// The address the limiter counted, parsed: never the raw header.
			attrs = append(attrs, slog.String("client", s.clientAddr(r).String()))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	}()
	defer s.recoverPanic(sw, r)

	r.Body = http.MaxBytesReader(sw, r.Body, s.bodyCap(r))
	if bulk(r) && s.readTimeout > 0 {
		b := &uploadBody{ReadCloser: r.Body, rc: http.NewResponseController(sw), idle: s.readTimeout}
		if s.longTimeout > 0 {
			b.end = start.Add(s.longTimeout)
		}
		r.Body = b
	}
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		s.unrouted(sw, r, h)
		return
	}
	// The route's own series; anything else the mux serves (a redirect
	// of an unclean path) stays unmatched.
	switch h := h.(type) {
	case *endpoint:
		rm = h.metrics
	case mounted:
		page = true
	}
	s.mux.ServeHTTP(sw, r)
}

// bulkMaxBody caps the body of an import or apply: read as it streams
// in, never whole (apply's reader has its own, smaller cap), it may hold
// a few hundred thousand users.
const bulkMaxBody = 64 << 20

// bodyCap is the most a request's body may hold.
func (s *server) bodyCap(r *http.Request) int64 {
	if bulk(r) {
		return max(s.maxBody, bulkMaxBody)
	}
	return s.maxBody
}

// bulk reports whether r is an import or an apply, whose body is a file.
func bulk(r *http.Request) bool {
	p := unscoped(r.URL.Path)
	return r.Method == http.MethodPost && (p == wire.Prefix+"/import" || p == wire.Prefix+"/apply")
}

// uploadBody is the body of an import or apply: each read gives the
// connection idle more to read the next, but never past end. The server's
// ReadTimeout would otherwise hold the whole file, up to 64 MiB, which a
// link of 10 Mbit/s takes nearly a minute to send; a client that stops
// sending is still cut off after idle, and one that sends slowly at end
// (if not zero).
type uploadBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	end  time.Time
}

func (b *uploadBody) Read(p []byte) (int, error) {
	next := time.Now().Add(b.idle)
	if !b.end.IsZero() && next.After(b.end) {
		next = b.end
	}
	// A connection that cannot (a test's recorder) keeps its deadline.
	_ = b.rc.SetReadDeadline(next)
	return b.ReadCloser.Read(p)
}

// recoverPanic turns a handler's panic into a 500, so that one bad request
// does not take the server down.
func (s *server) recoverPanic(w *statusWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler { // net/http's own way to abort; let it
		panic(v)
	}
	s.log.Error("panic serving request", "method", r.Method, "path", safePath(r),
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	if w.status == 0 {
		writeError(w, http.StatusInternalServerError, wire.Detail(errors.New("panic")))
	}
}

// unrouted answers a request that matched no route in JSON: the mux knows
// whether the path exists under another method (405) or not at all (404),
// so its own answer h is asked for and only its status kept.
func (s *server) unrouted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := &statusWriter{ResponseWriter: discard{w.Header()}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed { // the mux set Allow
		writeError(w, http.StatusMethodNotAllowed, wire.ErrorDetail{Code: wire.CodeInvalid,
			Message: fmt.Sprintf("method %s is not allowed on %s", r.Method, safePath(r)),
			Hint:    "allowed: " + w.Header().Get("Allow")})
		return
	}
	writeError(w, http.StatusNotFound, wire.ErrorDetail{Code: wire.CodeNotFound,
		Message: "no such endpoint: " + r.Method + " " + safePath(r), Hint: "see docs/api.md"})
}

// safePath is the request's path as logged and quoted in errors: without
// the query, and with any segment holding a roster secret (a token pasted
// where an id belongs) masked.
func safePath(r *http.Request) string {
	p := r.URL.Path
	if !strings.Contains(p, "roster_") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		for _, k := range []token.Kind{token.API, token.Invitation, token.Reset, token.SignIn, token.Session} {
			if strings.Contains(seg, string(k)) {
				segs[i] = string(k) + "…"
			}
		}
	}
	return strings.Join(segs, "/")
}

// access says what a route needs of its caller.
type access int

const (
	// open routes need nothing: health checks, and sign-in, whose
	// password checks are limited by guess.
	open access = iota
	// bearer routes act as the user of the request's bearer token.
	bearer
	// link routes need no token because the body carries a link's token;
	// its failures are limited like a bad bearer token's.
	link
)

// route is one endpoint: its ServeMux pattern, what it needs of the
// caller, and its work.
type route struct {
	pattern string
	access  access
	serve   serveFunc
}

// serveFunc does one endpoint's work: it writes a result, or returns the
// error to answer with.
type serveFunc func(w http.ResponseWriter, c call) error

// call is one request as a route sees it: the request and the Service
// acting for its caller (nil on routes that need no token).
type call struct {
	r   *http.Request
	svc roster.Service
}

func (c call) ctx() context.Context              { return c.r.Context() }
func (c call) path(name string) string           { return c.r.PathValue(name) }
func (c call) query(name string) string          { return c.r.URL.Query().Get(name) }
func (c call) queryParser() *queryParser         { return &queryParser{q: c.r.URL.Query()} }
func (c call) pathID(name string) (int64, error) { return parseID(name, c.path(name)) }

// endpoint is a route as the mux serves it: wrapped with authentication
// and the failure limiter, answering its error, and counted in its own
// series.
type endpoint struct {
	s       *server
	rt      route
	metrics *routeMetrics
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	long := e.s.sendsProgress(e.rt.pattern, r)
	r, cancel := e.s.withDeadline(e.rt.pattern, long, r)
	defer cancel()
	rt := e.rt
	if key, ok := idempotencyKey(r); ok {
		rt.serve = e.s.idempotent(rt, key)
	}
	if long {
		// Outside the idempotency key's recorder: a 102 goes to the
		// connection, and is no part of the answer kept.
		rt.serve = e.s.withProgress(rt.serve)
	}
	if err := e.s.guard(rt, w, r); err != nil {
		e.s.fail(w, r, err)
	}
}

// guard runs a route as its access asks.
//
// A bearer or link token is checked before the limiter is asked anything,
// and a valid one is served however many failures its client has made:
// otherwise anyone could lock out the owner by failing from the owner's
// address, or everyone behind one proxy. Only an invalid token is charged,
// and once its client is past the budget it gets 429 instead of 401 or
// 404, the same for every way of being invalid. Answering valid tokens
// while refusing invalid ones tells a guesser nothing it can use: a token
// is 256 random bits, and checking one costs a SHA-256 and one indexed
// read, so there is neither a guess that could succeed nor work to save by
// refusing before the check. Passwords are different; see guess.
func (s *server) guard(rt route, w http.ResponseWriter, r *http.Request) error {
	c := call{r: r}
	switch rt.access {
	case bearer:
		// The token's last use records where it came from.
		svc, err := s.b.Authenticate(roster.WithClient(r.Context(), s.clientString(r)), bearerToken(r))
		if err != nil {
			return s.tokenFailure(r, err)
		}
		c.svc = svc
		return rt.serve(w, c)
	case link:
		return s.tokenFailure(r, rt.serve(w, c))
	}
	return rt.serve(w, c)
}

// tokenFailure charges err to the request's client if it is a failed
// token (unknown, expired, revoked, malformed: a link's is not found), and
// answers it, or 429 once the client is past its budget.
func (s *server) tokenFailure(r *http.Request, err error) error {
	if !errors.Is(err, roster.ErrUnauthenticated) && !errors.Is(err, roster.ErrNotFound) {
		return err
	}
	if ok, wait := s.tokens.spend(s.limitKey(r)); !ok {
		s.metrics.refusedToken.Inc()
		return rateLimited(wait)
	}
	return err
}

// guess runs check, a check of account's password by the request's
// client, within the client's failure budgets.
//
// Unlike a token, a password can be guessed, and checking one costs an
// argon2id hash. Checking it anyway once the budget is spent, to let a
// right one in, would tell the guesser which guess was right and leave
// the hashing unbounded: the limit would limit nothing. So here an
// exhausted budget refuses before the check (429, nothing checked, the
// same answer whatever the password), each check is charged up front so
// that concurrent guesses cannot outrun it, and one that did not fail is
// refunded. To keep one client's failures from refusing others, the
// budget is per client and account: failures from another address, or on
// another account from the same address, never touch yours. A second,
// larger budget per client across accounts keeps one client from making
// the server hash without bound by trying many emails.
func (s *server) guess(r *http.Request, account string, check func() error) error {
	client := s.limitKey(r)
	key := client + " " + strings.ToLower(strings.TrimSpace(account))
	if ok, wait := s.accounts.spend(key); !ok {
		s.metrics.refusedAccount.Inc()
		return rateLimited(wait)
	}
	if ok, wait := s.passwords.spend(client); !ok {
		s.accounts.refund(key)
		s.metrics.refusedPassword.Inc()
		return rateLimited(wait)
	}
	err := check()
	if !errors.Is(err, roster.ErrUnauthenticated) {
		s.accounts.refund(key)
		s.passwords.refund(client)
	}
	return err
}

// bearerToken is the token of an "Authorization: Bearer" header, or "" so
// that a missing or malformed header fails in the core exactly as a bad
// token does, with the same message.
func bearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// clientAddr is the address of r's client: the TCP peer's, unless the
// peer is a trusted proxy. Then it is the rightmost address of
// X-Forwarded-For that is not itself a trusted proxy: each proxy appends
// the peer it saw, so entries to the right of that one were written by
// proxies we trust, and those to its left by the client, who may write
// anything. An entry that does not parse ends the walk at the last
// trusted hop, as does a header with nothing but trusted hops.
func (s *server) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap().WithZone("")
	if !s.isTrusted(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break
		}
		addr = hop
		if !s.isTrusted(hop) {
			break
		}
	}
	return addr
}

func (s *server) isTrusted(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For entry: an address, with or without
// a port.
func parseHop(v string) (netip.Addr, bool) {
	v = strings.TrimSpace(v)
	a, err := netip.ParseAddr(v)
	if err != nil {
		ap, err := netip.ParseAddrPort(v)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// limitKey is the limiter's key for r's client. An IPv6 address counts as
// its /64, which one client commonly holds whole: otherwise it could take
// a fresh bucket for every guess.
func (s *server) limitKey(r *http.Request) string {
	a := s.clientAddr(r)
	switch {
	case !a.IsValid():
		return r.RemoteAddr
	case a.Is6():
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// statusWriter remembers the status written, for the log and for knowing
// whether a panic can still be answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	// A 1xx but 101 is informational: the answer's status is still to come.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) statusOr200() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// discard is a ResponseWriter that keeps headers and drops the rest.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return io.Discard.Write(b) }
func (d discard) WriteHeader(int)             {}
