package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The API serves every route that acts as a token's user again under
// /api/v1/orgs/{org}/… (internal/api, inOrgs). docs/openapi.yaml
// documents each such copy, made here from the route it copies, between
// these two lines of the document's paths, so that the two never drift
// apart; TestOpenAPIMatchesRouter holds the result to the router.
const (
	beginOrgCopies = "  # BEGIN organisation-scoped copies, made by make generate (internal/tools/gendocs) from the routes above; do not edit."
	endOrgCopies   = "  # END organisation-scoped copies."

	apiPrefix  = "/api/v1"
	orgsPrefix = apiPrefix + "/orgs"
	orgParam   = "#/components/parameters/orgRef"
)

// GenerateOpenAPI rewrites the organisation-scoped copies of the
// OpenAPI document at path.
func GenerateOpenAPI(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := withOrgCopies(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}

// withOrgCopies is doc with its organisation-scoped copies made anew.
func withOrgCopies(doc []byte) ([]byte, error) {
	begin := bytes.Index(doc, []byte(beginOrgCopies+"\n"))
	end := bytes.Index(doc, []byte(endOrgCopies+"\n"))
	if begin < 0 || end < begin {
		return nil, fmt.Errorf("no lines %q and %q around the copies", beginOrgCopies, endOrgCopies)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	paths := mapValue(root.Content[0], "paths")
	if paths == nil {
		return nil, fmt.Errorf("no paths")
	}
	var b bytes.Buffer
	b.Write(doc[:begin+len(beginOrgCopies)+1])
	for i := 0; i+1 < len(paths.Content); i += 2 {
		path, item := paths.Content[i].Value, paths.Content[i+1]
		if !orgScoped(path, item) {
			continue
		}
		copied := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: orgsPrefix + "/{org}" + strings.TrimPrefix(path, apiPrefix)},
			inOrg(item),
		}}
		var one bytes.Buffer
		enc := yaml.NewEncoder(&one)
		enc.SetIndent(2)
		if err := enc.Encode(copied); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, line := range strings.SplitAfter(one.String(), "\n") {
			if line != "" {
				b.WriteString("  " + line)
			}
		}
		b.WriteByte('\n')
	}
	b.Write(doc[end:])
	return b.Bytes(), nil
}

// orgScoped reports whether the path item is one the API serves again
// under /api/v1/orgs/{org}: an API route, not the organisations' own,
// whose every operation needs a token (none says security: []).
func orgScoped(path string, item *yaml.Node) bool {
	if !strings.HasPrefix(path, apiPrefix+"/") || path == orgsPrefix || strings.HasPrefix(path, orgsPrefix+"/") {
		return false
	}
	ops := 0
	for i := 0; i+1 < len(item.Content); i += 2 {
		if !isOperation(item.Content[i].Value) {
			continue
		}
		ops++
		if sec := mapValue(item.Content[i+1], "security"); sec != nil && len(sec.Content) == 0 {
			return false
		}
	}
	return ops > 0
}

func isOperation(key string) bool {
	switch key {
	case "get", "put", "post", "delete", "options", "head", "patch", "trace":
		return true
	}
	return false
}

// inOrg is a deep copy of a path item that takes the organisation's slug
// as its first path parameter, with operation ids of its own.
func inOrg(item *yaml.Node) *yaml.Node {
	c := deepCopy(item)
	ref := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "$ref"},
		{Kind: yaml.ScalarNode, Value: orgParam, Style: yaml.DoubleQuotedStyle},
	}}
	if params := mapValue(c, "parameters"); params != nil {
		params.Content = append([]*yaml.Node{ref}, params.Content...)
	} else {
		c.Content = append([]*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "parameters"},
			{Kind: yaml.SequenceNode, Content: []*yaml.Node{ref}},
		}, c.Content...)
	}
	for i := 0; i+1 < len(c.Content); i += 2 {
		if !isOperation(c.Content[i].Value) {
			continue
		}
		op := c.Content[i+1]
		if id := mapValue(op, "operationId"); id != nil {
			id.Value += "InOrg"
		}
		if sum := mapValue(op, "summary"); sum != nil {
			sum.Value += ", in the organisation {org}"
		}
		if responses := mapValue(op, "responses"); responses != nil && mapValue(responses, "404") == nil {
			notFound(responses)
		}
	}
	return c
}

// notFound adds to responses, in order, the 404 of an organisation that
// is not there, or not the caller's to act in (R21).
func notFound(responses *yaml.Node) {
	at := len(responses.Content)
	for i := 0; i+1 < len(responses.Content); i += 2 {
		if k := responses.Content[i].Value; k == "default" || k > "404" {
			at = i
			break
		}
	}
	entry := []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "404", Style: yaml.DoubleQuotedStyle},
		{Kind: yaml.MappingNode, Style: yaml.FlowStyle, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "$ref"},
			{Kind: yaml.ScalarNode, Value: "#/components/responses/NotFound", Style: yaml.DoubleQuotedStyle},
		}},
	}
	responses.Content = append(responses.Content[:at], append(entry, responses.Content[at:]...)...)
}

// mapValue is the value of key in the mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func deepCopy(n *yaml.Node) *yaml.Node {
	c := *n
	// Comments belong to the document's own text, not to the copies.
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, k := range n.Content {
		c.Content[i] = deepCopy(k)
	}
	return &c
}
