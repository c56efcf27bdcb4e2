package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
)

type serveOptions struct {
	addr, cert, key, baseURL string
}

func newCmdServe(f *Factory) *cobra.Command {
	opts := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the store over an HTTP JSON API for remote mode",
		Long: `Serve the local store over the JSON API of docs/api.md, for roster --server
and saved contexts on other machines. Every rule is enforced by the server;
requests carry API tokens (roster token create, roster login).

With --tls-cert and --tls-key it serves HTTPS (TLS 1.2 or later); without,
plain HTTP, which clients refuse to send tokens over except to this machine
unless given --insecure. It stops gracefully on SIGTERM or interrupt.`,
		Example: `  roster serve --addr 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --base-url https://roster.example.com`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (opts.cert == "") != (opts.key == "") {
				return usagef("--tls-cert and --tls-key go together")
			}
			if opts.baseURL != "" {
				if u, err := url.Parse(opts.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return usagef("invalid --base-url %q", opts.baseURL).withHint("give an http or https URL")
				}
			}
			return serveRun(cmd.Context(), f, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.addr, "addr", "127.0.0.1:8080", "listen on `host:port`")
	fs.StringVar(&opts.cert, "tls-cert", "", "TLS certificate `file` (PEM)")
	fs.StringVar(&opts.key, "tls-key", "", "TLS key `file` (PEM)")
	fs.StringVar(&opts.baseURL, "base-url", "", "the `URL` links in invitations and reset mails start with (default: setting base_url)")
	return cmd
}

func serveRun(ctx context.Context, f *Factory, opts *serveOptions) error {
	db, err := f.Store(ctx, false)
	if err != nil {
		return err
	}
	c := core.New(db, core.WithClock(f.now), core.WithBaseURL(opts.baseURL))
	logger := slog.New(slog.NewTextHandler(f.IO.ErrOut, nil))
	srv := &http.Server{
		Handler:           api.New(c, api.Options{Logger: logger}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
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
	f.IO.Infof("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
