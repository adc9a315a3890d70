package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/greenmint/greenmint/api"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite docs/openapi.json from the code")

const openAPIFile = "../docs/openapi.json"

// TestOpenAPIIsCurrent fails when the committed OpenAPI document differs
// from the one the code describes: run it with -update after changing an
// operation, and commit the result.
func TestOpenAPIIsCurrent(t *testing.T) {
	got, err := api.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(openAPIFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatalf("%v (run go test ./api/ -run TestOpenAPIIsCurrent -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/openapi.json is not what the code describes: run go test ./api/ -run TestOpenAPIIsCurrent -update and commit it")
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	// Every operation says who may call it and answers problems on error.
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if !strings.HasPrefix(fmt.Sprint(op["description"]), "Who: ") {
				t.Errorf("%s %s does not say who may call it", method, path)
			}
			if _, ok := op["operationId"]; !ok {
				t.Errorf("%s %s has no operationId", method, path)
			}
		}
	}
}

// specValidator validates responses against the committed document.
type specValidator struct {
	mu    sync.Mutex
	ops   []specOp
	c     *jsonschema.Compiler
	cache map[string]*jsonschema.Schema
	doc   map[string]any
}

type specOp struct {
	method, path string
	re           *regexp.Regexp
}

var (
	validatorOnce sync.Once
	validator     *specValidator
	validatorErr  error
)

func loadValidator() (*specValidator, error) {
	validatorOnce.Do(func() {
		raw, err := os.ReadFile(openAPIFile)
		if err != nil {
			validatorErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			validatorErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		if err := c.AddResource("https://greenmint.test/openapi.json", doc); err != nil {
			validatorErr = err
			return
		}
		v := &specValidator{c: c, cache: map[string]*jsonschema.Schema{}, doc: doc.(map[string]any)}
		for path, ops := range v.doc["paths"].(map[string]any) {
			re := regexp.MustCompile("^/v1" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + "$")
			for method := range ops.(map[string]any) {
				v.ops = append(v.ops, specOp{method: strings.ToUpper(method), path: path, re: re})
			}
		}
		validator = v
	})
	return validator, validatorErr
}

// check validates one answer to method urlPath against its operation's
// response schema; an answer of an operation or status the document does
// not describe is an error too.
func (v *specValidator) check(method, urlPath string, status int, contentType string, body []byte) error {
	p, _, _ := strings.Cut(urlPath, "?")
	if !strings.HasPrefix(p, "/v1/") {
		return nil // operational routes are outside the document
	}
	var op *specOp
	for i := range v.ops {
		o := &v.ops[i]
		// A literal path wins over a template that also matches.
		if o.method == method && o.re.MatchString(p) && (op == nil || strings.Count(o.path, "{") < strings.Count(op.path, "{")) {
			op = o
		}
	}
	if op == nil {
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return nil
		}
		return fmt.Errorf("%s %s is not in the OpenAPI document", method, p)
	}
	responses := v.doc["paths"].(map[string]any)[op.path].(map[string]any)[strings.ToLower(method)].(map[string]any)["responses"].(map[string]any)
	code := strconv.Itoa(status)
	if _, ok := responses[code]; !ok {
		code = "default"
	}
	resp, ok := responses[code].(map[string]any)
	if !ok {
		return fmt.Errorf("%s %s answered %d, which the document does not describe", method, op.path, status)
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if len(bytes.TrimSpace(body)) != 0 {
			return fmt.Errorf("%s %s answered %d with a body the document does not describe", method, op.path, status)
		}
		return nil
	}
	mt, _, _ := strings.Cut(contentType, ";")
	if _, ok := content[mt]; !ok {
		return fmt.Errorf("%s %s answered %d as %q, the document says %v", method, op.path, status, mt, keys(content))
	}
	if mt != "application/json" && mt != "application/problem+json" {
		return nil // a file: its media type is the one documented
	}
	ptr := "https://greenmint.test/openapi.json#/paths/" + escapePointer(op.path) + "/" + strings.ToLower(method) + "/responses/" + code + "/content/" + escapePointer(mt) + "/schema"
	v.mu.Lock()
	sch, ok := v.cache[ptr]
	if !ok {
		var err error
		sch, err = v.c.Compile(ptr)
		if err != nil {
			v.mu.Unlock()
			return fmt.Errorf("compile %s: %w", ptr, err)
		}
		v.cache[ptr] = sch
	}
	v.mu.Unlock()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s answered %d with a body that is not JSON: %w", method, op.path, status, err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s %s answered %d with a body that does not match the document: %w", method, op.path, status, err)
	}
	return nil
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
