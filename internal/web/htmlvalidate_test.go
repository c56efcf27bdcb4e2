package web_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/testkit"
)

// A page's file is named for its request, less the link's token (long,
// and telling nothing) and what a file name can't hold.
var (
	linkToken     = regexp.MustCompile(`roster_[a-z]+_[A-Za-z0-9_-]+`)
	notInFileName = regexp.MustCompile(`[^A-Za-z0-9. -]+`)
)

// pageRecorder keeps every HTML page a browser is served, named by the
// request and its status, as html-validate will report them.
type pageRecorder struct {
	next  http.RoundTripper
	names []string
	pages map[string][]byte
}

func (p *pageRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	path := linkToken.ReplaceAllString(req.URL.RequestURI(), "TOKEN")
	name := fmt.Sprintf("%02d %s %s %d.html", len(p.names)+1, req.Method, path, resp.StatusCode)
	name = notInFileName.ReplaceAllString(name, "_")
	p.names = append(p.names, name)
	p.pages[name] = body
	return resp, nil
}

// TestPagesValidHTML holds every page, as the server serves it through
// each flow (an invitation accepted, password and mailed sign-ins, a reset,
// the account page with a token, a password that must be changed, a
// device approved, dead links and refused forms), to html-validate's
// recommended rules (.ci/tools/htmlvalidate.mjs), as a browser's own
// parser would not: it repairs what it reads.
func TestPagesValidHTML(t *testing.T) {
	t.Parallel()
	validate := testkit.NodeTool(t, "html-validate", "--config", ".ci/tools/htmlvalidate.mjs", "--formatter", "text")
	e := newEnv(t, config{proxy: true})
	e.set("base_url", e.url)
	rec := &pageRecorder{pages: map[string][]byte{}}
	browse := func() *browser {
		b := e.browser()
		rec.next = b.hc.Transport
		b.hc.Transport = rec
		return b
	}
	b := browse()
	walkThrough(t, e, b)
	b.post("/signin", url.Values{"email": {"ann@example.com"}, "password": {""}})
	b.get("/invite/roster_inv_nonsense")
	b.get("/invite")
	b.get("/signin?m=signedout")
	inv := e.invite("dan@example.com")
	b.get("/invite/" + inv)
	b.post("/invite", url.Values{"name": {"Dan"}, "password": {"short"}})

	if _, err := e.admin().CreateUser(ctx, roster.CreateUser{Email: "cal@example.com", Password: userPassword,
		MustChangePassword: true}); err != nil {
		t.Fatal(err)
	}
	b = browse()
	b.signIn("cal@example.com", userPassword)
	b.get("/account")
	b.post("/account/password", url.Values{"current": {"wrong-current-pw"}, "password": {newPassword}})

	if _, err := e.admin().CreateToken(ctx, roster.CreateToken{User: "ann@example.com", Name: "laptop"}); err != nil {
		t.Fatal(err)
	}
	b = browse()
	b.signIn("ann@example.com", newPassword)
	b.get("/account?m=saved")
	b.post("/account/profile", url.Values{"name": {strings.Repeat("x", 500)}})
	g := e.deviceCode("")
	b.post("/device", url.Values{"code": {"WRONG-CODE"}})
	decide(t, b, "", g.UserCode, true)

	dir := t.TempDir()
	for _, name := range rec.names {
		if err := os.WriteFile(filepath.Join(dir, name), rec.pages[name], 0o644); err != nil {
			t.Fatal(err)
		}
		validate.Args = append(validate.Args, filepath.Join(dir, name))
	}
	if len(rec.names) < 20 {
		t.Fatalf("only %d pages were served: %q", len(rec.names), rec.names)
	}
	if out, err := validate.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("html-validate over %d pages: %v\n%s", len(rec.names), err, strings.ReplaceAll(string(out), dir+"/", ""))
	}
}
