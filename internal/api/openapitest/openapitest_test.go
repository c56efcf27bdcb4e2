package openapitest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/api/openapitest"
)

const principal = `{"user":null,"name":"local:x","via":"local","permissions":[],"password_policy":{"min_length":8,"max_length":256}}`

// TestCheck: the validator finds each kind of difference from the
// document, and lets pass what the document allows.
func TestCheck(t *testing.T) {
	v, err := openapitest.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, method, path, reqBody string
		status                      int
		respBody                    string
		wantErr                     string // "" passes
	}{
		{"as documented", "GET", "/api/v1/whoami", "", 200, principal, ""},
		{"a field not in the document", "GET", "/api/v1/whoami", "", 200,
			strings.Replace(principal, `"via"`, `"secret":"x","via"`, 1), "$.secret"},
		{"a status not declared", "GET", "/api/v1/whoami", "", 409,
			`{"error":{"code":"conflict","message":"x"}}`, "status 409 is not declared"},
		{"a status of default", "GET", "/api/v1/whoami", "", 500,
			`{"error":{"code":"internal","message":"x"}}`, ""},
		{"a body against its schema", "GET", "/api/v1/whoami", "", 200, `{"user":null}`, "response 200"},
		{"a failed member outcome with a result", "POST", "/api/v1/projects/alpha/members", `{"users":["x"]}`, 200,
			`[{"ref":"x","result":{"project":"","user":{},"changed":false},"error":{"code":"not_found","message":"x"}}]`, "response 200"},
		{"a failed member outcome", "POST", "/api/v1/projects/alpha/members", `{"users":["x"]}`, 200,
			`[{"ref":"x","error":{"code":"not_found","message":"x"}}]`, ""},
		{"an invalid request refused", "PUT", "/api/v1/users/x/roles", `{}`, 400,
			`{"error":{"code":"invalid","message":"x"}}`, ""},
		{"an invalid request served", "PUT", "/api/v1/users/x/roles", `{}`, 200, `{}`, "request invalid, yet answered 200"},
		{"set-password with no password", "POST", "/api/v1/users/x/password", `{}`, 200, `{}`, "request invalid"},
		{"a probe of a path not there", "GET", "/api/v1/nothing", "", 404,
			`{"error":{"code":"not_found","message":"x"}}`, ""},
		{"a path not there, served", "GET", "/api/v1/nothing", "", 200, `{}`, "not in the document"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "http://127.0.0.1"+c.path, strings.NewReader(c.reqBody))
			req.Header.Set("Authorization", "Bearer roster_pat_x")
			if c.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp := &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(c.respBody))}
			err := v.Check(req, []byte(c.reqBody), resp, []byte(c.respBody))
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("%v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("got %v, want an error with %q", err, c.wantErr)
			}
		})
	}
}
