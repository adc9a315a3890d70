package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// This file reads the operations of docs/openapi.json for the attack
// tests, so that an operation added to the gateway is attacked without
// anyone listing it: specOps gives every operation with who may call it,
// its body's schema and its parameters.

// specOperation is one operation of the OpenAPI document.
type specOperation struct {
	Method, Path, ID string
	Who              specWho
	Body             map[string]any // the request body's schema, resolved; nil without a body
	BodyRequired     bool
	BodyType         string // its content type
	Query            []specParam
	PathParams       []string
}

// specParam is a query parameter.
type specParam struct {
	Name     string
	Required bool
	Schema   map[string]any
}

// specWho is who may call an operation, as its description says
// ("Who: miner, buyer, or an API key with scope certificates:write.").
type specWho struct {
	Public bool
	Roles  []greenmint.Role // empty: any role
	Admin  bool
	Scope  string // "": no API key
}

// url is the operation's URL under /v1 with every path parameter set to
// id.
func (o specOperation) url(id string) string {
	p := o.Path
	for _, name := range o.PathParams {
		p = strings.ReplaceAll(p, "{"+name+"}", id)
	}
	return "/v1" + p
}

// caller is the seeded login that may call the operation ("" for a public
// one): the first role it names, as that role's seeded user (every seeded
// user is an admin).
func (o specOperation) caller() string {
	if o.Who.Public {
		return ""
	}
	if len(o.Who.Roles) == 0 {
		return "miner"
	}
	return loginOf(o.Who.Roles[0])
}

// loginOf is the seeded user of a role.
func loginOf(r greenmint.Role) string {
	for _, u := range seeded {
		if u.role == r {
			return u.login
		}
	}
	return ""
}

var (
	specOpsOnce sync.Once
	specOpsList []specOperation
	specOpsErr  error
	specSchemas map[string]any
)

// specOps returns every operation of docs/openapi.json, sorted by path and
// method.
func specOps(t testing.TB) []specOperation {
	t.Helper()
	specOpsOnce.Do(func() {
		raw, err := os.ReadFile(openAPIFile)
		if err != nil {
			specOpsErr = err
			return
		}
		var doc struct {
			Paths      map[string]map[string]map[string]any `json:"paths"`
			Components struct {
				Schemas map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			specOpsErr = err
			return
		}
		specSchemas = doc.Components.Schemas
		for path, ops := range doc.Paths {
			for method, op := range ops {
				o := specOperation{Method: strings.ToUpper(method), Path: path, ID: op["operationId"].(string)}
				o.Who = parseWho(op["description"].(string))
				if rb, ok := op["requestBody"].(map[string]any); ok {
					o.BodyRequired, _ = rb["required"].(bool)
					for ct, c := range rb["content"].(map[string]any) {
						o.BodyType = ct
						o.Body = resolve(c.(map[string]any)["schema"].(map[string]any))
					}
				}
				params, _ := op["parameters"].([]any)
				for _, p := range params {
					p := p.(map[string]any)
					switch p["in"] {
					case "path":
						o.PathParams = append(o.PathParams, p["name"].(string))
					case "query":
						req, _ := p["required"].(bool)
						o.Query = append(o.Query, specParam{Name: p["name"].(string), Required: req, Schema: p["schema"].(map[string]any)})
					}
				}
				specOpsList = append(specOpsList, o)
			}
		}
		sort.Slice(specOpsList, func(i, j int) bool {
			a, b := specOpsList[i], specOpsList[j]
			return a.Path < b.Path || a.Path == b.Path && a.Method < b.Method
		})
	})
	if specOpsErr != nil {
		t.Fatalf("reading %s: %v", openAPIFile, specOpsErr)
	}
	if len(specOpsList) < 60 {
		t.Fatalf("%s has %d operations; the gateway has more than 60", openAPIFile, len(specOpsList))
	}
	return specOpsList
}

func parseWho(desc string) specWho {
	var w specWho
	s, ok := strings.CutPrefix(desc, "Who: ")
	if !ok {
		panic("an operation's description does not start with Who: " + desc)
	}
	s, _, _ = strings.Cut(s, ".")
	for _, part := range strings.Split(s, ", ") {
		switch {
		case part == "anyone":
			w.Public = true
		case part == "any signed-in user":
		case part == "(admins only)":
			w.Admin = true
		case strings.HasPrefix(part, "or an API key with scope "):
			w.Scope = strings.TrimPrefix(part, "or an API key with scope ")
		default:
			w.Roles = append(w.Roles, greenmint.Role(part))
		}
	}
	return w
}

// resolve follows a schema's $ref.
func resolve(s map[string]any) map[string]any {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = specSchemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
}

// schemaType is a schema's type, its non-null one when it allows null.
func schemaType(s map[string]any) string {
	switch t := s["type"].(type) {
	case string:
		return t
	case []any:
		for _, x := range t {
			if x != "null" {
				return x.(string)
			}
		}
	}
	return ""
}

func num(s map[string]any, k string) (float64, bool) {
	v, ok := s[k].(float64)
	return v, ok
}

// example is a value that the schema accepts, as far as its types, bounds
// and enums go: required properties only.
func example(s map[string]any) any {
	s = resolve(s)
	if enum, ok := s["enum"].([]any); ok && len(enum) > 0 {
		return enum[0]
	}
	switch schemaType(s) {
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			out[r.(string)] = example(props[r.(string)].(map[string]any))
		}
		return out
	case "array":
		n, _ := num(s, "minItems")
		out := []any{}
		items, _ := s["items"].(map[string]any)
		for i := 0; i < max(1, int(n)); i++ {
			out = append(out, example(items))
		}
		return out
	case "string":
		if s["format"] == "date-time" {
			return "2023-06-01T00:00:00Z"
		}
		n, _ := num(s, "minLength")
		if s["contentEncoding"] == "base64" {
			return base64.StdEncoding.EncodeToString(make([]byte, int(n)*3/4))
		}
		return strings.Repeat("x", max(1, int(n)))
	case "integer", "number":
		if v, ok := num(s, "minimum"); ok {
			return int64(v)
		}
		if v, ok := num(s, "maximum"); ok && v < 1 {
			return int64(v)
		}
		return int64(1)
	case "boolean":
		return false
	}
	return nil
}

// outOfRange are values of a property that its schema refuses, each
// named.
func outOfRange(s map[string]any) map[string]any {
	s = resolve(s)
	out := map[string]any{}
	if _, ok := s["enum"].([]any); ok {
		if schemaType(s) == "integer" {
			out["not in the enum"] = 7
		} else {
			out["not in the enum"] = "not-an-enum-value"
		}
	}
	switch schemaType(s) {
	case "string":
		if n, ok := num(s, "maxLength"); ok && n < 100_000 {
			out["one character too long"] = strings.Repeat("y", int(n)+1)
		}
		if n, ok := num(s, "minLength"); ok && n >= 1 {
			out["one character too short"] = strings.Repeat("y", int(n)-1)
		}
		if s["format"] == "date-time" {
			out["not a time"] = "yesterday"
		}
		out["a number for a string"] = 12
	case "integer":
		if v, ok := num(s, "minimum"); ok {
			out["below the minimum"] = int64(v) - 1
		}
		if v, ok := num(s, "maximum"); ok {
			out["above the maximum"] = int64(v) + 1
		}
		out["a fraction"] = 1.5
		out["a string for an integer"] = "1"
		out["beyond int64"] = json.Number("92233720368547758070")
	case "array":
		if n, ok := num(s, "minItems"); ok && n >= 1 {
			out["too few items"] = []any{}
			out["null"] = nil
		}
		if n, ok := num(s, "maxItems"); ok {
			items, _ := s["items"].(map[string]any)
			var xs []any
			for i := 0; i <= int(n); i++ {
				xs = append(xs, example(items))
			}
			out["too many items"] = xs
		}
		out["an object for an array"] = map[string]any{}
	case "boolean":
		out["a string for a boolean"] = "true"
	case "object":
		out["an array for an object"] = []any{}
	}
	return out
}

// ---- state: what an invalid request must not change ----

// stateOf is what the tests compare before and after requests that must
// change nothing: the ledger's height and every organisation's users and
// API keys (with their roles and revocations).
type gatewayState struct {
	Height uint64
	Users  []string
	Keys   []string
}

func (e *gatewayEnv) state() gatewayState {
	e.t.Helper()
	ctx := context.Background()
	s := gatewayState{Height: e.net.Ledger.Height()}
	for _, u := range seeded {
		us, err := e.db.UsersByOrg(ctx, u.org)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, x := range us {
			s.Users = append(s.Users, x.Org+"/"+x.Login+"/"+string(x.Role)+"/"+map[bool]string{true: "admin", false: "-"}[x.Admin])
		}
		ks, err := e.db.APIKeysByOrg(ctx, u.org)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, k := range ks {
			s.Keys = append(s.Keys, k.Org+"/"+k.ID+"/"+strings.Join(k.Scopes, ",")+"/"+k.RevokedAt.String())
		}
	}
	return s
}

// unchanged fails if the state differs from before.
func (e *gatewayEnv) unchanged(before gatewayState, what string) {
	e.t.Helper()
	after := e.state()
	if after.Height != before.Height || !slices.Equal(after.Users, before.Users) || !slices.Equal(after.Keys, before.Keys) {
		e.t.Fatalf("%s changed the state: %+v, before %+v", what, after, before)
	}
}

// settle waits until the read model has applied every block.
func (e *gatewayEnv) settle() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.proj.Checkpoint().Block+1 < e.net.Ledger.Height() {
		if time.Now().After(deadline) {
			e.t.Fatalf("the read model stays at block %d of %d", e.proj.Checkpoint().Block, e.net.Ledger.Height())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mintForMiner mints a batch of the network's approved site SITE0042 to
// MinerMSP (the oracles sign directly on the ledger) over the hours of
// period, and waits until the read model has it.
func (e *gatewayEnv) mintForMiner(p greenminttest.Period) greenmint.MintResult {
	e.t.Helper()
	sa, err := e.net.Attest(e.net.Site, greenmint.CO2E, p, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.net.Mint(context.Background(), sa)
	if err != nil {
		e.t.Fatal(err)
	}
	e.settle()
	return *res
}

// apiKey makes an API key with scopes as a seeded admin and returns it.
func (e *gatewayEnv) apiKey(login string, scopes ...string) api.APIKeyView {
	e.t.Helper()
	var k api.APIKeyView
	e.call("POST", "/v1/api-keys", e.as(login), map[string]any{"name": "key-" + strings.Join(scopes, "-"), "scopes": scopes}, 200, &k)
	return k
}

// nonAdmin makes a user of a seeded user's organisation and role who is
// not an admin, and returns its access token.
func (e *gatewayEnv) nonAdmin(login string) string {
	e.t.Helper()
	for _, u := range seeded {
		if u.login != login {
			continue
		}
		if _, err := e.auth.CreateUser(context.Background(), auth.NewUser{Login: login + "-plain", Org: u.org, Role: u.role, Password: testPassword}); err != nil {
			e.t.Fatal(err)
		}
		var s api.SessionView
		e.call("POST", "/v1/auth/login", "", map[string]any{"login": login + "-plain", "password": testPassword}, 200, &s)
		return s.AccessToken
	}
	e.t.Fatalf("no seeded user %s", login)
	return ""
}

// orgOf is a seeded user's organisation.
func orgOf(login string) string {
	for _, u := range seeded {
		if u.login == login {
			return u.org
		}
	}
	return consortium.RegistryMSP
}
