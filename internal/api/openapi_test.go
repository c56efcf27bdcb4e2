package api_test

import (
	"bytes"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/roster-dev/roster/docs"
	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/api/openapitest"
)

// openAPI is as much of docs/openapi.yaml as the tests read.
type openAPI struct {
	OpenAPI string                          `yaml:"openapi"`
	Paths   map[string]map[string]yaml.Node `yaml:"paths"`
}

// operationKeys are the keys of a path item that are operations; the
// others (parameters, summary, …) are not.
var operationKeys = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func parseOpenAPI(t *testing.T) (openAPI, *yaml.Node) {
	t.Helper()
	var doc openAPI
	if err := yaml.Unmarshal(docs.OpenAPI, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(docs.OpenAPI, &root); err != nil {
		t.Fatal(err)
	}
	return doc, &root
}

// TestOpenAPIMatchesRouter: docs/openapi.yaml documents every route the
// router serves, and the router serves every route it documents.
func TestOpenAPIMatchesRouter(t *testing.T) {
	doc, _ := parseOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("docs/openapi.yaml is OpenAPI %q, want 3.1.x", doc.OpenAPI)
	}
	var documented []string
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(operationKeys, key) {
				documented = append(documented, strings.ToUpper(key)+" "+path)
			}
		}
	}
	served := api.Patterns()
	for _, p := range served {
		if !slices.Contains(documented, p) {
			t.Errorf("route %q is served but not in docs/openapi.yaml", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(served, p) {
			t.Errorf("route %q is in docs/openapi.yaml but not served (routes.go)", p)
		}
	}
}

// TestOpenAPIPathParameters: each {name} of a path is a path parameter
// of its path item or of every operation, so that clients generated from
// the document fill it in.
func TestOpenAPIPathParameters(t *testing.T) {
	doc, root := parseOpenAPI(t)
	names := func(params yaml.Node) []string {
		var list []map[string]any
		if err := params.Decode(&list); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range list {
			if ref, ok := p["$ref"].(string); ok {
				n := resolve(root, ref)
				if n == nil {
					continue // TestOpenAPIRefs says so
				}
				p = nil
				if err := n.Decode(&p); err != nil {
					t.Fatal(err)
				}
			}
			if p["in"] == "path" {
				out = append(out, p["name"].(string))
			}
		}
		return out
	}
	for path, item := range doc.Paths {
		shared := names(item["parameters"])
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
			for key, op := range item {
				if !slices.Contains(operationKeys, key) {
					continue
				}
				var o struct {
					Parameters yaml.Node `yaml:"parameters"`
				}
				if err := op.Decode(&o); err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(shared, m[1]) && !slices.Contains(names(o.Parameters), m[1]) {
					t.Errorf("%s %s: no path parameter %s", strings.ToUpper(key), path, m[1])
				}
			}
		}
	}
}

// TestOpenAPIRefs: every $ref points at something in the document.
func TestOpenAPIRefs(t *testing.T) {
	_, root := parseOpenAPI(t)
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 && c.Value == "$ref" {
				if ref := n.Content[i+1].Value; resolve(root, ref) == nil {
					t.Errorf("docs/openapi.yaml line %d: $ref %q points at nothing", c.Line, ref)
				}
			}
			walk(c)
		}
	}
	walk(root)
}

// resolve finds a local $ref ("#/a/b") in the document, or nil.
func resolve(root *yaml.Node, ref string) *yaml.Node {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok || len(root.Content) == 0 {
		return nil
	}
	n := root.Content[0]
	for _, key := range strings.Split(rest, "/") {
		key = strings.NewReplacer("~1", "/", "~0", "~").Replace(key)
		var next *yaml.Node
		for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// TestOpenAPIServed: the server serves the document it embeds, needing
// no token.
func TestOpenAPIServed(t *testing.T) {
	e := &env{t: t, h: api.New(nil, api.Options{})}
	rec := e.from("192.0.2.1:1", "GET", "/api/v1/openapi.yaml", "", nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /api/v1/openapi.yaml: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !bytes.Equal(rec.Body.Bytes(), docs.OpenAPI) {
		t.Errorf("GET /api/v1/openapi.yaml is not docs/openapi.yaml")
	}
}

// TestOpenAPIValid: docs/openapi.yaml is a valid OpenAPI 3.1 document to
// kin-openapi, a validator nobody on the project wrote. Among what it
// catches: a description in a flow mapping with an unquoted comma, cut
// there into a stray key ("extra sibling fields").
func TestOpenAPIValid(t *testing.T) {
	if _, err := openapitest.Load(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAPIGeneratedNames: a client generator names a type after each
// component, its first letter upper-cased, and oapi-codegen refuses a
// document where a parameter or a request body and another component get
// one name (the parameter project and the schema Project; the request
// body Expiry and the schema Expiry), though it tells a schema and a
// response of one name apart. TestOpenAPICodegen (internal/tools/gendocs)
// runs oapi-codegen itself where the module proxy is reachable.
func TestOpenAPIGeneratedNames(t *testing.T) {
	var doc struct {
		Components map[string]map[string]yaml.Node `yaml:"components"`
	}
	if err := yaml.Unmarshal(docs.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	typeName := func(name string) string { return strings.ToUpper(name[:1]) + name[1:] }
	for _, strict := range []string{"parameters", "requestBodies"} {
		for own := range doc.Components[strict] {
			for kind, components := range doc.Components {
				for name := range components {
					if kind != strict && typeName(name) == typeName(own) {
						t.Errorf("the %s component %s and the %s %s are both type %s to a client generator; rename the first",
							strict, own, kind, name, typeName(own))
					}
				}
			}
		}
	}
}

// TestOpenAPIOperations: what the operations endpoints answer is what
// docs/openapi.yaml says, in every format a scraper may ask for.
func TestOpenAPIOperations(t *testing.T) {
	v, err := openapitest.New()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, api.Options{}, nil)
	hc := &http.Client{Transport: v.Transport(t, nil)}
	for _, c := range []struct{ path, accept string }{
		{"/healthz", ""},
		{"/readyz", ""},
		{"/metrics", ""},
		{"/metrics", "application/openmetrics-text"},
		{"/api/v1/openapi.yaml", ""},
	} {
		req, err := http.NewRequest("GET", e.url+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", c.path, resp.StatusCode)
		}
	}
}

// TestOpenAPIIdempotency: docs/openapi.yaml says of every write what
// idempotency.go does with it: each POST, PUT, PATCH and DELETE takes the
// Idempotency-Key header, whose schema accepts exactly the keys the
// server does, answers 422 for a key reused with another request and 503
// when the store or the server's time limit fails it, and marks a
// replayed 200 with Idempotent-Replayed.
func TestOpenAPIIdempotency(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	param := doc.Components.Parameters["idempotencyKey"]
	if param == nil || param.Value.Name != "Idempotency-Key" || param.Value.In != "header" || param.Value.Required {
		t.Fatalf("components.parameters.idempotencyKey: %+v; want the optional header Idempotency-Key", param)
	}
	schema := param.Value.Schema.Value
	if schema.MinLength != api.MinKeyLen || schema.MaxLength == nil || *schema.MaxLength != api.MaxKeyLen {
		t.Errorf("Idempotency-Key's length: %d to %v; the server takes %d to %d", schema.MinLength, schema.MaxLength, api.MinKeyLen, api.MaxKeyLen)
	}
	pattern := regexp.MustCompile(schema.Pattern)
	for c := range 128 {
		key := strings.Repeat(string(rune(c)), api.MinKeyLen)
		if documented, served := pattern.MatchString(key), api.CheckKey(key) == nil; documented != served {
			t.Errorf("a key of byte %#x: the document's pattern says %v, the server %v", c, documented, served)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !slices.Contains([]string{"POST", "PUT", "PATCH", "DELETE"}, method) {
				continue
			}
			where := method + " " + path
			if op.Parameters.GetByInAndName("header", "Idempotency-Key") == nil {
				t.Errorf("%s does not take the Idempotency-Key header", where)
			}
			for _, status := range []int{422, 503} {
				if op.Responses.Status(status) == nil {
					t.Errorf("%s does not declare %d", where, status)
				}
			}
			if ok := op.Responses.Status(200); ok == nil || ok.Value.Headers["Idempotent-Replayed"] == nil {
				t.Errorf("%s: its 200 does not declare the Idempotent-Replayed header", where)
			}
		}
	}
}
