package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/greenmint/greenmint"
)

//go:embed reference/page.html.tmpl
var referenceTemplate string

type refParam struct {
	Name, In, Type, Doc string
	Required            bool
}

type refOp struct {
	ID, Method, Path, Summary, Description string
	Params                                 []refParam
	RequestName, Request                   string
	Status, ResponseName, Response         string
	Errors                                 string
}

type refTag struct {
	Name string
	Ops  []refOp
}

// referencePage renders the API reference from the OpenAPI document: one
// self-contained HTML page (no script, no CDN), served at /docs.
func referencePage(doc *huma.OpenAPI) ([]byte, error) {
	tmpl, err := template.New("reference").Parse(referenceTemplate)
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "api.referencePage", err, "")
	}
	schemas := doc.Components.Schemas.Map()
	outline := func(s *huma.Schema) (string, string) {
		if s == nil {
			return "", ""
		}
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		if target, ok := schemas[name]; ok && s.Ref != "" {
			s = target
		} else if s.Ref == "" {
			name = s.Type
		}
		raw, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return name, ""
		}
		return name, string(raw)
	}
	tags := map[string]*refTag{}
	for path, item := range doc.Paths {
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{{http.MethodGet, item.Get}, {http.MethodPost, item.Post}, {http.MethodPut, item.Put}, {http.MethodPatch, item.Patch}, {http.MethodDelete, item.Delete}} {
			op := m.op
			if op == nil {
				continue
			}
			r := refOp{ID: op.OperationID, Method: m.method, Path: "/v1" + path, Summary: op.Summary, Description: op.Description}
			for _, p := range op.Parameters {
				typ := ""
				if p.Schema != nil {
					typ = p.Schema.Type
					if len(p.Schema.Enum) > 0 {
						var vs []string
						for _, e := range p.Schema.Enum {
							vs = append(vs, toString(e))
						}
						typ += " (" + strings.Join(vs, ", ") + ")"
					}
				}
				r.Params = append(r.Params, refParam{Name: p.Name, In: p.In, Type: typ, Doc: p.Description, Required: p.Required})
			}
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Content {
					name, body := outline(mt.Schema)
					r.RequestName, r.Request = name+" ("+ct+")", body
					break
				}
			}
			var errs []string
			codes := make([]string, 0, len(op.Responses))
			for code := range op.Responses {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			for _, code := range codes {
				resp := op.Responses[code]
				if n, _ := strconv.Atoi(code); n >= 400 || code == "default" {
					errs = append(errs, code)
					continue
				}
				r.Status = code
				for _, mt := range resp.Content {
					r.ResponseName, r.Response = outline(mt.Schema)
					break
				}
			}
			r.Errors = strings.Join(errs, ", ") + " as application/problem+json"
			tag := "other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			if tags[tag] == nil {
				tags[tag] = &refTag{Name: tag}
			}
			tags[tag].Ops = append(tags[tag].Ops, r)
		}
	}
	var list []refTag
	for _, t := range tags {
		sort.Slice(t.Ops, func(i, j int) bool {
			if t.Ops[i].Path != t.Ops[j].Path {
				return t.Ops[i].Path < t.Ops[j].Path
			}
			return t.Ops[i].Method < t.Ops[j].Method
		})
		list = append(list, *t)
	}
	order := map[string]int{"auth": 0, "public": 1, "registry": 2, "miner": 3, "oracle": 4, "certificates": 5, "market": 6, "audit": 7, "events": 8}
	sort.Slice(list, func(i, j int) bool { return order[list[i].Name] < order[list[j].Name] })
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, map[string]any{"Title": doc.Info.Title, "Version": doc.Info.Version, "Description": doc.Info.Description, "Tags": list})
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "api.referencePage", err, "")
	}
	return buf.Bytes(), nil
}

func toString(v any) string {
	raw, _ := json.Marshal(v)
	return strings.Trim(string(raw), `"`)
}
