package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/rogpeppe/go-internal/testscript"
)

// The script commands of a real roster serve signing people in with a
// real OpenID provider, both on loopback, with no browser: mockoidc,
// serve and oidcsignin.

// providers holds each script's OpenID provider.
var providers sync.Map // *testscript.TestScript -> *mockoidc.MockOIDC

// cmdMockOIDC runs "mockoidc": start a real OpenID provider (discovery,
// JWKS, RSA-signed ID tokens) on 127.0.0.1 for this script, its issuer
// and client in $OIDC_ISSUER, $OIDC_CLIENT_ID and $OIDC_CLIENT_SECRET;
// it stops when the script ends.
func cmdMockOIDC(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: mockoidc")
	}
	m, err := mockoidc.Run()
	ts.Check(err)
	providers.Store(ts, m)
	ts.Defer(func() {
		_ = m.Shutdown()
		providers.Delete(ts)
	})
	ts.Setenv("OIDC_ISSUER", m.Issuer())
	ts.Setenv("OIDC_CLIENT_ID", m.ClientID)
	ts.Setenv("OIDC_CLIENT_SECRET", m.ClientSecret)
}

// servers holds each script's roster serve.
var servers sync.Map // *testscript.TestScript -> *scriptServer

// scriptServer is a roster serve a script started, its log, and when its
// stderr ends.
type scriptServer struct {
	cmd  *exec.Cmd
	log  *os.File
	done <-chan struct{}
}

// serveEnv are the variables of the script a roster serve it starts
// reads; a script gives others (a provider's client) on the command line.
var serveEnv = []string{"PATH", "HOME", "TMPDIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "GORACE",
	"ROSTER_DB", "ROSTER_ORG", "ROSTER_TEST_NOW"}

// cmdServe runs "serve [VAR=VALUE...] [-- FLAGS...]": start roster serve
// on the script's store at a free loopback address, which is also its
// base URL (where a provider sends people back), in $SERVE_URL, with the
// script's variables, VAR=VALUE added, and FLAGS; its stderr is added to
// serve.log. It returns once the server listens. A server the script
// started before is stopped first, and this one when the script ends,
// each with an interrupt, as a person stops it.
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: serve [VAR=VALUE...] [-- FLAGS...]"
	if neg {
		ts.Fatalf("%s", usage)
	}
	stopServe(ts)
	var env, flags []string
	for _, k := range serveEnv {
		env = append(env, k+"="+ts.Getenv(k))
	}
	for i, a := range args {
		if a == "--" {
			flags = args[i+1:]
			break
		}
		if !strings.Contains(a, "=") {
			ts.Fatalf("%s; %q is not VAR=VALUE", usage, a)
		}
		env = append(env, a)
	}
	addr, err := unusedAddr()
	ts.Check(err)
	cmd := exec.Command("roster", append([]string{"serve", "--addr", addr, "--base-url", "http://" + addr}, flags...)...)
	cmd.Env = env
	cmd.Dir = ts.MkAbs(".")
	stderr, err := cmd.StderrPipe()
	ts.Check(err)
	log, err := os.OpenFile(ts.MkAbs("serve.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	ts.Check(err)
	ts.Check(cmd.Start())
	url, done, err := listening(stderr, log)
	s := &scriptServer{cmd: cmd, log: log, done: done}
	servers.Store(ts, s)
	ts.Defer(func() { stopServe(ts) })
	if err != nil {
		stopServe(ts)
		ts.Fatalf("%v:\n%s", err, ts.ReadFile("serve.log"))
	}
	ts.Setenv("SERVE_URL", url)
}

// stopServe interrupts the script's roster serve, if any, and waits for
// it to end and its log to be written.
func stopServe(ts *testscript.TestScript) {
	v, ok := servers.LoadAndDelete(ts)
	if !ok {
		return
	}
	s := v.(*scriptServer)
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	<-s.done
	_ = s.cmd.Wait()
	_ = s.log.Close()
}

// cmdOIDCSignIn runs "oidcsignin SUBJECT EMAIL [unverified]": sign in to
// the script's roster serve with its provider, mock, as a browser does
// (cookies kept, redirects followed by hand), the provider vouching for
// SUBJECT with EMAIL, verified unless said. It starts at the pages of the
// script's organisation ($SERVE_URL$LINKPREFIX/oidc/mock/start) and
// prints roster's last answer: its status, then the place it sends the
// browser, if any (303 /account).
func cmdOIDCSignIn(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := providers.Load(ts)
	if neg || len(args) < 2 || len(args) > 3 || (len(args) == 3 && args[2] != "unverified") || !ok || ts.Getenv("SERVE_URL") == "" {
		ts.Fatalf("usage: oidcsignin SUBJECT EMAIL [unverified], after mockoidc and serve")
	}
	m := v.(*mockoidc.MockOIDC)
	m.QueueUser(&mockoidc.MockUser{Subject: args[0], Email: args[1], EmailVerified: len(args) == 2})
	jar, err := cookiejar.New(nil)
	ts.Check(err)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url string) *http.Response {
		resp, err := hc.Get(url)
		ts.Check(err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	server := ts.Getenv("SERVE_URL")
	resp := get(server + ts.Getenv("LINKPREFIX") + "/oidc/mock/start")
	// To the provider, which sends the browser back to roster at once.
	if to := resp.Header.Get("Location"); resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(to, m.Issuer()) {
		resp = get(to)
		back := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(back, server+"/oidc/mock/callback?") {
			ts.Fatalf("the provider answered %s, to %q", resp.Status, back)
		}
		resp = get(back)
	}
	fmt.Fprintln(ts.Stdout(), strings.TrimSpace(fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Location"))))
}
