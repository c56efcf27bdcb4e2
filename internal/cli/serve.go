package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/idp"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/web"
)

type serveOptions struct {
	addr, cert, key  string
	trustedProxies   []string
	mailPasswordFile string
	shutdownGrace    time.Duration
	hostFlags        map[string]*string // host settings (R16), by key
	host             map[string]string  // the host settings given, resolved

	oidc         []string       // --oidc NAME=ISSUER
	providers    []idp.Config   // the identity providers, resolved
	proxies      []netip.Prefix // trustedProxies, parsed
	mailPassword string         // from mailPasswordFile or the environment
}

// mailPasswordEnv holds the server's SMTP password when no
// --mail-password-file is given.
const mailPasswordEnv = "ROSTER_MAIL_PASSWORD"

func newCmdServe(f *Factory) *cobra.Command {
	opts := &serveOptions{hostFlags: map[string]*string{}}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the store over an HTTP JSON API for remote mode",
		Long: `Serve the local store over the JSON API of docs/api.md, for roster --server
and saved contexts on other machines. Every rule is enforced by the server;
requests carry API tokens (roster token create, roster login).

With --tls-cert and --tls-key it serves HTTPS (TLS 1.2 or later); without,
plain HTTP, which clients refuse to send tokens over except to this machine
unless given --insecure. It stops gracefully on SIGTERM or interrupt:
requests in flight get --shutdown-grace (10 seconds) to finish, then are
cancelled, their changes rolled back, and answered 503; a second signal
stops it at once. A request not done within 50 seconds is cancelled and
answered 503 too, but for an import or apply whose client asks for
progress (roster does): it is sent a 102 Processing every 5 seconds that
keeps its connection alive, and may take up to 15 minutes.
Clients may send an Idempotency-Key with each write to learn, by sending
it again, what a request whose answer they lost did (roster does).

Failed sign-ins and token uses are rate limited per client address; a valid
token is never refused for them. Behind a reverse proxy, give its address
range with --trusted-proxy (repeatable) so that each client is counted by
the X-Forwarded-For the proxy sets; without it that header is ignored.

Host settings (R16) — where mail goes and how it authenticates, and what
links point to: base_url and mail.* — belong to whoever runs the server.
They come from this command's flags (--base-url, --mail-host, --mail-port,
--mail-from, --mail-username, --mail-tls), else the environment
(ROSTER_BASE_URL, ROSTER_MAIL_HOST, …), else the config file (base_url,
mail: {host: …}), else what was stored in local mode with roster --db …
settings set. Through the server nobody sets or reads them, owners
included.

Mail (invite create --send, user reset-link --send, sign-in links)
authenticates to the SMTP server with the password in --mail-password-file,
read once at start, or else in the ROSTER_MAIL_PASSWORD environment
variable. The server never reads the setting mail.password_file.

Identity providers (host settings too): --oidc NAME=ISSUER, repeatable, or
oidc: {NAME: ISSUER} in the config file, offers "Continue with NAME" on the
sign-in pages. The client id comes from ROSTER_OIDC_<NAME>_CLIENT_ID, the
secret from ROSTER_OIDC_<NAME>_CLIENT_SECRET or the file named by
ROSTER_OIDC_<NAME>_CLIENT_SECRET_FILE, never from argv. Register
<base_url>/oidc/NAME/callback with the provider: one address for every
organisation. Each organisation chooses its methods with the setting
signin.methods.`,
		Example: `  roster serve --addr 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --base-url https://roster.example.com
  roster serve --addr 127.0.0.1:8080 --trusted-proxy 127.0.0.1/32 --mail-password-file /etc/roster/smtp-password
  ROSTER_MAIL_HOST=smtp.example.com ROSTER_MAIL_FROM=roster@example.com roster serve --base-url https://roster.example.com`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (opts.cert == "") != (opts.key == "") {
				return usagef("--tls-cert and --tls-key go together")
			}
			if opts.shutdownGrace < 0 {
				return usagef("--shutdown-grace %s is negative", opts.shutdownGrace).withHint("give a duration such as 10s, or 0 to cancel requests in flight at once")
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			if opts.host, err = hostSettings(cmd.Flags(), opts.hostFlags, cfg); err != nil {
				return err
			}
			for _, v := range opts.trustedProxies {
				p, err := parseProxy(v)
				if err != nil {
					return usagef("invalid --trusted-proxy %q", v).withHint("give an address range such as 10.0.0.0/8, or one address")
				}
				opts.proxies = append(opts.proxies, p)
			}
			if opts.providers, err = oidcProviders(opts.oidc, cfg.OIDC); err != nil {
				return err
			}
			if len(opts.providers) > 0 && opts.host["base_url"] == "" {
				return usagef("identity providers need the server's base URL").
					withHint("give --base-url (or $ROSTER_BASE_URL): providers send people back to <base_url>/oidc/NAME/callback")
			}
			pw, err := serveMailPassword(opts.mailPasswordFile)
			if err != nil {
				return err
			}
			opts.mailPassword = pw
			return serveRun(cmd.Context(), f, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.addr, "addr", "127.0.0.1:8080", "listen on `host:port`")
	fs.StringVar(&opts.cert, "tls-cert", "", "TLS certificate `file` (PEM)")
	fs.StringVar(&opts.key, "tls-key", "", "TLS key `file` (PEM)")
	addHostFlags(fs, opts.hostFlags)
	fs.StringArrayVar(&opts.oidc, "oidc", nil, "sign people in with the OpenID provider at `NAME=ISSUER` (repeatable; client id and secret from $ROSTER_OIDC_<NAME>_CLIENT_ID, $ROSTER_OIDC_<NAME>_CLIENT_SECRET or _CLIENT_SECRET_FILE)")
	fs.StringArrayVar(&opts.trustedProxies, "trusted-proxy", nil, "trust X-Forwarded-For from reverse proxies in `CIDR` (repeatable)")
	fs.StringVar(&opts.mailPasswordFile, "mail-password-file", "", "read the SMTP password from `file` (default: $"+mailPasswordEnv+")")
	fs.DurationVar(&opts.shutdownGrace, "shutdown-grace", defaultShutdownGrace, "on SIGTERM or interrupt, give requests in flight `duration` to finish before cancelling them")
	return cmd
}

// parseProxy reads a --trusted-proxy: a CIDR range, or one address.
func parseProxy(v string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(v); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return p, err
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 { // ::ffff:10.0.0.0/104 is 10.0.0.0/8: peers are unmapped
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// serveMailPassword is the server's SMTP password: read from file once,
// at start, so that a file gone or unreadable later cannot fail a send;
// else from the environment; else none.
func serveMailPassword(file string) (string, error) {
	if file == "" {
		return os.Getenv(mailPasswordEnv), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usagef("read --mail-password-file: %v", err)
	}
	pw := trimNewline(string(b))
	if pw == "" {
		return "", usagef("--mail-password-file %s is empty", file).withHint("put the SMTP password in it, or leave the flag out")
	}
	return pw, nil
}

// serverGCPercent is the garbage collector's GOGC for roster serve. The
// server's live heap is a few MiB, so Go's default of 100 collects every
// few MiB allocated, many times a second under load; 400 spends
// the memory a server can spare to collect a quarter as often
// (docs/benchmarks.md, "Garbage collection"). GOGC in the environment
// still rules.
const serverGCPercent = 400

func serveRun(ctx context.Context, f *Factory, opts *serveOptions) error {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serverGCPercent)
	}
	db, err := f.Store(ctx, false)
	if err != nil {
		return err
	}
	// Always a server's core: its callers are remote (R16).
	// The store is measured below the core, so /metrics shows how long
	// transactions take and how often they are retried.
	metrics := api.NewMetrics(api.WithVersion(Version))
	providers, err := idp.NewSet(opts.providers, opts.host["base_url"])
	if err != nil {
		return usagef("%v", err)
	}
	c := core.New(metrics.Store(db), core.WithClock(f.now), core.WithHostSettings(opts.host), core.WithServer(opts.mailPassword),
		core.WithProviders(providers.Names()))
	logger := slog.New(slog.NewTextHandler(f.IO.ErrOut, nil))
	handler := api.New(c, apiOptions(api.Options{Logger: logger, TrustedProxies: opts.proxies, Metrics: metrics}))
	pages := web.New(c, handler, logger, web.WithProviders(providers))
	handler.Mount(pages, web.Patterns...)
	// Every request's context comes from base: cancelling it at the end of
	// the shutdown grace cancels the requests still running.
	base, cancelBase := context.WithCancelCause(context.Background())
	defer cancelBase(nil)
	srv := httpServer(handler, logger, base)
	scheme := "http"
	if opts.cert != "" {
		cert, err := tls.LoadX509KeyPair(opts.cert, opts.key)
		if err != nil {
			return roster.Errorf(roster.ErrInvalid, "load TLS certificate: %v", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		scheme = "https"
	}
	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return roster.Errorf(roster.ErrUnavailable, "listen on %s: %v", opts.addr, err)
	}
	// The address actually bound: with port 0 the system picks one, and
	// whoever started the server reads it from this line.
	f.IO.Infof("listening on %s://%s", scheme, ln.Addr())
	done := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			done <- srv.ServeTLS(ln, "", "")
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// A second SIGTERM or interrupt stops the server at once, whatever it
	// is doing: a transaction cut so is rolled back by the store.
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	f.IO.Infof("shutting down: finishing the requests in flight for up to %s (a second signal stops at once)", opts.shutdownGrace)
	stopped := make(chan error, 1)
	go func() { stopped <- shutdown(srv, opts.shutdownGrace, cancelBase, f.IO) }()
	select {
	case err := <-stopped:
		if err != nil {
			return err
		}
	case sig := <-again:
		f.IO.Infof("stopping at once on a second signal (%s): requests in flight are cut off", sig)
		exitNow(ExitError)
	}
	pages.Wait()     // the sign-in links still being mailed
	c.FlushDenials() // the refusals still to be audited
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// The server's time limits (docs/deploy.md). A request is answered within
// requestTimeout, or cancelled and answered 503: the connection's
// writeTimeout, longer, still carries that answer. Nothing is committed
// after its client was cut off by the server's own timeout. An import or
// apply whose client asks for progress is sent a 102 every
// progressEvery, each giving its connection writeTimeout again, and is
// bounded by longTimeout instead: the lock on writes it holds is held
// that long at most. A request has readTimeout to come in, headers and
// body, except an import's or apply's file, which has readTimeout from
// each part of it that came, up to longTimeout.
const (
	readTimeout    = 30 * time.Second
	writeTimeout   = 60 * time.Second
	requestTimeout = 50 * time.Second
	progressEvery  = 5 * time.Second
	longTimeout    = 15 * time.Minute
	// defaultShutdownGrace is how long requests in flight may take to
	// finish once the server is told to stop (--shutdown-grace); then
	// they are cancelled, and cancelGrace is how long they get to answer
	// 503.
	defaultShutdownGrace = 10 * time.Second
	cancelGrace          = 5 * time.Second
)

// apiOptions is o with the server's time limits.
func apiOptions(o api.Options) api.Options {
	o.RequestTimeout, o.Progress, o.LongTimeout, o.WriteTimeout = requestTimeout, progressEvery, longTimeout, writeTimeout
	o.ReadTimeout = readTimeout
	return o
}

// httpServer serves handler with the server's time limits; every
// request's context comes from base.
func httpServer(handler http.Handler, logger *slog.Logger, base context.Context) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}

// exitNow ends the process without waiting for anything; tests replace
// it.
var exitNow = os.Exit

// errShuttingDown is what requests cancelled at the end of the grace are
// answered, as 503.
var errShuttingDown = roster.Errorf(roster.ErrUnavailable, "the server is shutting down and cancelled this request before it finished").
	WithHint("try again (with the same Idempotency-Key, if it had one): another server, or this one restarted, will answer")

// shutdown stops srv: no new connections, and the requests in flight get
// shutdownGrace to finish. Those still running then are cancelled (their
// transactions rolled back) and answer 503; any that does not stop within
// cancelGrace is cut off.
func shutdown(srv *http.Server, shutdownGrace time.Duration, cancelBase context.CancelCauseFunc, io *IOStreams) error {
	grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(grace)
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	io.Infof("cancelling the requests still in flight after %s", shutdownGrace)
	cancelBase(errShuttingDown)
	last, cancel := context.WithTimeout(context.Background(), cancelGrace)
	defer cancel()
	if err := srv.Shutdown(last); err != nil {
		srv.Close()
		return roster.Errorf(roster.ErrUnavailable, "shutdown: requests in flight did not stop within %s of being cancelled; their connections were closed", cancelGrace)
	}
	return nil
}
