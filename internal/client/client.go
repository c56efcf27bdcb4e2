// Package client is roster.Service over HTTP: every method is one call to
// a roster server (docs/api.md), and every error the server reports comes
// back as the same domain error, so the CLI behaves, and exits, as it does
// against a local store.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// Options configure a Client.
type Options struct {
	Token    string // bearer API token; "" sends none
	Insecure bool   // allow sending a token over plain http to a non-loopback host
	// HTTPClient makes the calls; nil is a client with a 30s timeout
	// (DefaultTimeout), which imports, applies and exports do without. A
	// Transport's ResponseHeaderTimeout would bound them too: the 102s of
	// an import or apply (see stream) do not restart it.
	HTTPClient *http.Client
	// Org is the slug of the organisation to act in: calls go to
	// /api/v1/orgs/{org}/…, and SignIn signs in to it. "" acts in the
	// token's own organisation.
	Org string
}

// Client talks to one roster server as the holder of one token. It is safe
// for concurrent use.
type Client struct {
	base  string // scheme://host[/prefix], without a trailing slash
	token string
	hc    *http.Client
	// plain is true when credentials would cross the network unencrypted:
	// plain http to a host that is not loopback, without Insecure.
	plain bool
	org   string // Options.Org
}

var _ roster.Service = (*Client)(nil)

// DefaultTimeout bounds each call of a Client made without an HTTPClient.
const DefaultTimeout = 30 * time.Second

// errUnexpected is the kind of a response the client cannot understand;
// it matches no sentinel, so the CLI reports an internal error.
var errUnexpected = errors.New("unexpected response")

// New returns a client for the server at base (e.g.
// "https://roster.example.com" or "http://127.0.0.1:8080"; any path is kept
// as a prefix before /api/v1). It refuses to send a token over plain http
// to a host that is not loopback unless o.Insecure.
func New(base string, o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The address is not echoed: a malformed one may hold a secret.
		return nil, roster.Errorf(roster.ErrInvalid, "invalid server address").
			WithHint("give a URL such as https://roster.example.com")
	}
	if u.User != nil {
		return nil, roster.Errorf(roster.ErrInvalid, "the server address %s holds credentials", u.Redacted()).
			WithHint("remove them from the address; roster signs in with an API token")
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{
			Timeout: DefaultTimeout,
			// A redirect could carry the call elsewhere, or downgrade it to
			// plain http; the address given must be the server's own.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	c := &Client{
		base:  u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"),
		token: o.Token,
		hc:    hc,
		org:   strings.TrimSpace(o.Org),
		plain: u.Scheme == "http" && !isLoopback(u.Hostname()) && !o.Insecure,
	}
	if c.token != "" {
		if err := c.refusePlain("an API token"); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// isLoopback reports whether host names this machine: traffic to it never
// leaves the host, so plain http exposes nothing.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// refusePlain refuses to send a credential (a token or a password) where
// it would cross the network in clear text.
func (c *Client) refusePlain(what string) error {
	if !c.plain {
		return nil
	}
	return roster.Errorf(roster.ErrInvalid, "refusing to send %s over plain http to %s", what, c.base).
		WithHint("use an https:// address, or --insecure if the network between you and the server is trusted")
}

// anonymous is c without its token, for the calls that need none: a link
// or a password is their credential, and a token sent along would only be
// exposed for nothing.
func (c *Client) anonymous() *Client {
	a := c.unscoped()
	a.token = ""
	return a
}

// unscoped is c calling the API's routes as they are, not under an
// organisation's prefix: those of the organisations themselves, and those
// that need no token, which a link or a body places in its organisation.
func (c *Client) unscoped() *Client {
	a := *c
	a.org = ""
	return &a
}

// api is the path of a call to the API's path: under the organisation's
// prefix when the client acts in one.
func (c *Client) api(path string) string {
	if c.org == "" {
		return wire.Prefix + path
	}
	return wire.Prefix + segments("orgs", c.org) + path
}

// Writes are sent with an Idempotency-Key (docs/api.md), new for each
// call, and sent once more, with the same key, when the connection fails
// before the answer is in: the server then answers what the first send
// did, if it did anything, instead of doing it again. So a write that
// committed is never reported as failed because its answer was lost.

// newKey makes an idempotency key: 128 random bits.
func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return "roster-" + hex.EncodeToString(b[:])
}

// keyFor is the idempotency key of a call: a new one for a write, none for
// a read.
func keyFor(method string) string {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return newKey()
	}
	return ""
}

// resendPause is how long a write waits before it is sent again.
const resendPause = 500 * time.Millisecond

// resend reports whether a write whose connection failed on attempt is to
// be sent again, after a pause: once, unless the caller gave up.
func resend(ctx context.Context, key string, attempt int) bool {
	if key == "" || attempt > 1 || ctx.Err() != nil {
		return false
	}
	select {
	case <-time.After(resendPause):
		return true
	case <-ctx.Done():
		return false
	}
}

// lost is a connection that failed before the whole answer was in: sent
// once more, a write then reports what really happened.
type lost struct{ err error }

func (e *lost) Error() string { return e.err.Error() }
func (e *lost) Unwrap() error { return e.err }

// send makes one request; a nil body sends none. Failing to reach the
// server, or losing the connection, is a *lost wrapping
// roster.ErrUnavailable, so the CLI exits 7.
func (c *Client) send(ctx context.Context, method, path string, body []byte, key string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &lost{c.unreachable(err)}
	}
	return resp, nil
}

// stream makes one request whose body, if any, is sent from body, and
// whose response the caller reads as it arrives. It has no overall
// timeout: a large import or export takes as long as it takes, and ctx
// (Ctrl-C) ends it. With progress, it asks the server for 102 Processing
// responses while the work runs, and tells ctx's roster.Progress what
// they say. A non-2xx answer is returned as its error, and a failed
// connection as a *lost.
func (c *Client) stream(ctx context.Context, method, path, contentType string, body []byte, key string, progress bool) (*http.Response, error) {
	if progress {
		ctx = watch(ctx)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+c.api(path), rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if progress {
		req.Header.Set(wire.ProgressHeader, "1")
	}
	hc := *c.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &lost{c.unreachable(err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, c.failure(resp)
	}
	return resp, nil
}

// watch is ctx with a trace that tells ctx's roster.Progress how far
// the server has got, as each 102 Processing says. Looking at the 1xx
// responses also lifts the transport's cap on the headers it keeps
// before the answer, which 1xx responses nobody looked at would count
// against: any number of them may come.
func watch(ctx context.Context) context.Context {
	tell := roster.ProgressOf(ctx)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got1xxResponse: func(_ int, h textproto.MIMEHeader) error {
		if stage, done, total, ok := wire.ParseProgress(h.Get(wire.ProgressHeader)); ok {
			tell(stage, done, total)
		}
		return nil
	}})
}

// unreachable reports a transport failure: refused, reset, timed out, or a
// TLS failure.
func (c *Client) unreachable(err error) error {
	// A url.Error repeats the method and URL; the message names the server.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return roster.Errorf(roster.ErrUnavailable, "cannot reach server %s: %v", c.base, err).
		WithHint("check the server address and that the server is running")
}

// cutOff reports a connection that failed while the answer was read.
func (c *Client) cutOff(err error) error {
	return &lost{roster.Errorf(roster.ErrUnavailable, "lost the connection to server %s while reading its answer: %v", c.base, err).
		WithHint("check the server address and that the server is running")}
}

// unknownOutcome is the error of a write sent twice without an answer:
// whether the server did it is not known.
func (c *Client) unknownOutcome(err error) error {
	return roster.Errorf(roster.ErrUnavailable, "%v (sent twice, without an answer)", err).
		WithHint("the change may or may not have been made: look before running the command again")
}

// answered is the error reported for err, the server's answer to a
// write's attempt. A server that could not serve a write sent again
// (503: its database unreachable, say) did not say what the first send,
// whose answer was lost, did: that is still not known.
func (c *Client) answered(err error, attempt int) error {
	if attempt > 1 && errors.Is(err, roster.ErrUnavailable) {
		return roster.Errorf(roster.ErrUnavailable, "%v (sent again after the answer to the first send was lost)", err).
			WithHint("the change may or may not have been made: look before running the command again")
	}
	return err
}

// readFailed reports whether err, from reading an answer's body, is the
// connection failing rather than the body being wrong.
func readFailed(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF)
}

// do makes one call and decodes its JSON result, or turns the response
// into the error it reports. A write whose connection fails is sent once
// more with the same key. It is a function, not a method, because Go
// methods cannot take type parameters.
func do[Out any](ctx context.Context, c *Client, method, path string, body any) (Out, error) {
	var out Out
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return out, fmt.Errorf("encode request: %w", err)
		}
		payload = b
	}
	key := keyFor(method)
	for attempt := 1; ; attempt++ {
		out, err := doOnce[Out](ctx, c, method, path, payload, key)
		var l *lost
		if !errors.As(err, &l) {
			return out, c.answered(err, attempt)
		}
		if !resend(ctx, key, attempt) {
			if key != "" && attempt > 1 {
				return out, c.unknownOutcome(l.err)
			}
			return out, l.err
		}
	}
}

func doOnce[Out any](ctx context.Context, c *Client, method, path string, body []byte, key string) (Out, error) {
	var out Out
	resp, err := c.send(ctx, method, c.api(path), body, key)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return out, c.failure(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		if readFailed(err) {
			return out, c.cutOff(err)
		}
		return out, c.unexpected(resp, fmt.Sprintf("undecodable result: %v", err))
	}
	return out, nil
}

// maxErrorBody bounds what is read of an error response: a real one is a
// few hundred bytes, and anything else is only named by its status.
const maxErrorBody = 64 << 10

// failure turns a non-2xx response into an error: the domain error of a
// roster error body, or an unexpected-response error naming the status.
func (c *Client) failure(resp *http.Response) error {
	var body wire.ErrorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		return wire.Err(body.Error)
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		return roster.Errorf(errUnexpected, "the server at %s redirects to %s (HTTP %s)", c.base, loc, resp.Status).
			WithHint("give roster the address it redirects to")
	}
	return c.unexpected(resp, "")
}

// unexpected is a response that is not roster's: a proxy's error page, a
// different server, a truncated body.
func (c *Client) unexpected(resp *http.Response, detail string) error {
	msg := fmt.Sprintf("unexpected response from %s: HTTP %s", c.base, resp.Status)
	if detail != "" {
		msg += ": " + detail
	}
	return roster.Errorf(errUnexpected, "%s", msg).WithHint("check that the address is a roster server's")
}

// segments joins path segments, each escaped, so that a reference holding
// '/', '?', '#' or '%' reaches the server as one segment.
func segments(elems ...string) string {
	var b strings.Builder
	for _, e := range elems {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(e))
	}
	return b.String()
}

// query appends key-value pairs to a path as a query, leaving out empty
// values: an absent parameter is the server's default.
func query(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// itoa is a query value of a count; 0 means "the default" and is left out.
func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// seconds is a lifetime in whole seconds, as the API takes it. A fraction
// rounds away from zero so that a non-zero lifetime never becomes 0, which
// would mean "the default" and silently replace what was asked.
func seconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	switch r := d % time.Second; {
	case r > 0:
		s++
	case r < 0:
		s--
	}
	return s
}

// timeParam is an RFC 3339 query value; the zero time is left out.
func timeParam(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// SignIn exchanges an email and password for a new API token, in the
// client's organisation (Options.Org). It sends no token of its own.
func (c *Client) SignIn(ctx context.Context, email, password, name string) (roster.APIToken, error) {
	if err := c.refusePlain("a password"); err != nil {
		return roster.APIToken{}, err
	}
	return do[roster.APIToken](ctx, c.anonymous(), http.MethodPost, "/login",
		wire.SignIn{Email: email, Password: password, Name: name, Org: c.org})
}

// Ping reports whether the server is up and its store answers.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.anonymous().send(ctx, http.MethodGet, "/readyz", nil, "")
	if l := (*lost)(nil); errors.As(err, &l) {
		return l.err // a read: not sent again
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	err = c.failure(resp)
	if errors.Is(err, errUnexpected) && resp.StatusCode == http.StatusServiceUnavailable {
		// Not ready is what readyz says with 503, with or without a body.
		return roster.Errorf(roster.ErrUnavailable, "the server at %s is not ready: HTTP %s", c.base, resp.Status).
			WithHint("its store does not answer; see the server's log")
	}
	return err
}
