// Package openapitest checks the HTTP traffic of tests against
// docs/openapi.yaml, with kin-openapi, a validator nobody on the project
// wrote: each request a client sends and each answer it gets must be
// what the document declares, so a client generated from the document
// works against the server as it really is.
//
// Tests only: the roster binary never links it.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/roster-dev/roster/docs"
)

// The API's text media types besides those kin-openapi reads, read as
// the strings the document says they are: a JSON-lines import or export
// is not one JSON value, and an OpenMetrics scrape is text.
func init() {
	for _, ct := range []string{"application/x-ndjson", "application/openmetrics-text"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
}

// Load parses docs/openapi.yaml and validates it as an OpenAPI document.
func Load() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(docs.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableMultiError()); err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml: %w", err)
	}
	return doc, nil
}

// Validator checks requests and responses against the document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	once    sync.Once
	shared  *Validator
	loadErr error
)

// New returns the validator of docs/openapi.yaml; the document is read
// once per process, and the validator is safe for concurrent use.
func New() (*Validator, error) {
	once.Do(func() {
		doc, err := Load()
		if err != nil {
			loadErr = err
			return
		}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			loadErr = fmt.Errorf("docs/openapi.yaml: %w", err)
			return
		}
		shared = &Validator{doc: doc, router: router}
	})
	return shared, loadErr
}

// defaultStatuses are the statuses the document's `default` response
// names ("405 invalid, 500 internal, 503 unavailable"): any operation may
// answer them. Any other status must be declared by the operation itself.
var defaultStatuses = []int{http.StatusMethodNotAllowed, http.StatusInternalServerError, http.StatusServiceUnavailable}

// Check validates one exchange: the request as sent with its body, and
// the response with its body. It returns every way they differ from the
// document, or nil.
func (v *Validator) Check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	return v.check(req, reqBody, resp, respBody, true)
}

func (v *Validator) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte, checkRequest bool) error {
	ctx := context.Background()
	// The router matches on the URL as sent: scheme, host and path.
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := v.router.FindRoute(r)
	switch {
	case errors.Is(err, routers.ErrPathNotFound) && resp.StatusCode == http.StatusNotFound,
		errors.Is(err, routers.ErrMethodNotAllowed) && resp.StatusCode == http.StatusMethodNotAllowed:
		return nil // a probe of what is not there, answered so
	case err != nil:
		return fmt.Errorf("%s %s: not in the document, yet answered %d: %w", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	where := req.Method + " " + route.Path
	opts := &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		AuthenticationFunc:    bearerOnly,
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
	var errs []error
	// A test may send what the document calls invalid, to see it
	// refused: that is no fault as long as the server refuses it too.
	if err := openapi3filter.ValidateRequest(ctx, in); checkRequest && err != nil && resp.StatusCode/100 != 4 {
		errs = append(errs, fmt.Errorf("request invalid, yet answered %d: %w", resp.StatusCode, err))
	}
	if err := declaredStatus(route.Operation, resp.StatusCode); err != nil {
		errs = append(errs, err)
	}
	stream := eventStream(resp)
	if stream {
		out := *opts
		out.ExcludeResponseBody = true
		opts = &out
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Options: opts}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		errs = append(errs, fmt.Errorf("response %d: %w", resp.StatusCode, err))
	} else if err := undeclaredFields(route.Operation, resp, respBody); !stream && err != nil {
		errs = append(errs, fmt.Errorf("response %d: %w", resp.StatusCode, err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s (%s): %w", where, req.URL.Path, err)
	}
	return nil
}

// bearerOnly stands in for the server's authentication: an operation
// that needs bearerAuth must be sent an Authorization: Bearer header.
// Whether the token is valid is the server's to say (401).
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearerAuth" {
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	scheme, tok, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return errors.New("no Authorization: Bearer header")
	}
	return nil
}

// declaredStatus fails a status the operation does not declare, unless
// it is one of those its `default` response stands for.
func declaredStatus(op *openapi3.Operation, status int) error {
	if op.Responses.Status(status) != nil {
		return nil
	}
	if op.Responses.Default() != nil && slices.Contains(defaultStatuses, status) {
		return nil
	}
	return fmt.Errorf("status %d is not declared", status)
}

// undeclaredFields fails a JSON response holding a field its schema does
// not name. The document leaves object schemas open, since more fields
// may be added to a result (docs/json.md); the server of this version
// must still send none that the document does not know of.
func undeclaredFields(op *openapi3.Operation, resp *http.Response, body []byte) error {
	ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	if strings.TrimSpace(ct) != "application/json" {
		return nil
	}
	ref := op.Responses.Status(resp.StatusCode)
	if ref == nil {
		ref = op.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		return nil
	}
	mt := ref.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	var found []string
	walk(mt.Schema, v, "$", &found)
	if len(found) > 0 {
		sort.Strings(found)
		return fmt.Errorf("fields not in docs/openapi.yaml: %s", strings.Join(found, ", "))
	}
	return nil
}

// walk reports in found each member of v that schema does not declare.
func walk(schema *openapi3.SchemaRef, v any, path string, found *[]string) {
	branches := flatten(schema)
	switch v := v.(type) {
	case map[string]any:
		for key, val := range v {
			sub, open := property(branches, key)
			switch {
			case sub != nil:
				walk(sub, val, path+"."+key, found)
			case !open:
				*found = append(*found, path+"."+key)
			}
		}
	case []any:
		for _, s := range branches {
			if s.Items != nil {
				for i, item := range v {
					walk(s.Items, item, path+"["+strconv.Itoa(i)+"]", found)
				}
				return
			}
		}
	}
}

// flatten is schema with the branches of its allOf, oneOf and anyOf.
func flatten(schema *openapi3.SchemaRef) []*openapi3.Schema {
	if schema == nil || schema.Value == nil {
		return nil
	}
	s := schema.Value
	out := []*openapi3.Schema{s}
	for _, list := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
		for _, b := range list {
			out = append(out, flatten(b)...)
		}
	}
	return out
}

// property is the schema of key among branches, or whether any
// branch lets an object hold keys it does not name.
func property(branches []*openapi3.Schema, key string) (sub *openapi3.SchemaRef, open bool) {
	for _, s := range branches {
		if p, ok := s.Properties[key]; ok {
			return p, false
		}
	}
	for _, s := range branches {
		if ap := s.AdditionalProperties; ap.Schema != nil {
			return ap.Schema, false
		} else if ap.Has != nil && *ap.Has {
			return nil, true
		}
		// An object schema that names no property at all (such as an
		// audit event's details) is a free-form object.
		if len(s.Properties) == 0 && s.Type.Includes("object") && len(s.AllOf)+len(s.OneOf)+len(s.AnyOf) == 0 {
			return nil, true
		}
	}
	return nil, false
}

// Transport returns a RoundTripper that carries each request over base
// (nil: http.DefaultTransport) and reports to t every way the request or
// its response differs from the document. The response reaches the
// caller as it came.
func (v *Validator) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{v: v, t: t, base: base, checkRequest: true}
}

// ResponseTransport is Transport for requests made by hand to probe the
// server with what no client would send: their answers are held to the
// document, and the requests are not.
func (v *Validator) ResponseTransport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	tr := v.Transport(t, base).(*transport)
	tr.checkRequest = false
	return tr
}

type transport struct {
	v            *Validator
	t            testing.TB
	base         http.RoundTripper
	checkRequest bool
}

// eventStream reports whether resp is a successful stream of Server-Sent
// Events.
func eventStream(resp *http.Response) bool {
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return resp.StatusCode/100 == 2 && strings.TrimSpace(mt) == "text/event-stream"
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		// Sent as read, with its length known: a streamed body (import's)
		// goes in one piece, which the server takes as it takes any.
		reqBody = b
		req = req.Clone(req.Context())
		req.Body, req.GetBody = http.NoBody, nil
		if len(b) > 0 {
			req.Body = io.NopCloser(bytes.NewReader(b))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		}
		req.ContentLength = int64(len(b))
	}
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if eventStream(resp) {
		// A stream may never end (audit tail --follow): its route, status
		// and headers are checked, its body passed on as it comes.
		if err := tr.v.check(req, reqBody, resp, nil, tr.checkRequest); err != nil {
			tr.t.Errorf("docs/openapi.yaml: %v", err)
		}
		return resp, nil
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err := tr.v.check(req, reqBody, resp, respBody, tr.checkRequest); err != nil {
		tr.t.Errorf("docs/openapi.yaml: %v", err)
	}
	return resp, nil
}
