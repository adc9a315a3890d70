package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestBadInputEveryOperation sends malformed, incomplete and out-of-range
// input to every operation of docs/openapi.json, as a caller the operation
// admits (so that what is refused is the input, not the caller): for a
// body, invalid JSON, a body of another JSON type, a body of another
// content type (415: a form post from another site never reaches an
// operation), an unknown field,
// each required field missing, each bounded field out of range; for query
// parameters, an unknown parameter, an out-of-range limit, a cursor that
// was never issued, each enum and bound broken, a required one missing.
// Each is answered 400 (415) problem+json with code invalid that names the
// field, and nothing changes: not the ledger (its height), nor the users
// or API keys. On SQLite, and on PostgreSQL when GREENMINT_TEST_POSTGRES_DSN
// is set.
func TestBadInputEveryOperation(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			e := newGatewayEnv(t, db, envOptions{})
			before := e.state()
			n := 0
			for _, op := range specOps(t) {
				for _, tc := range badInputCases(op) {
					n++
					t.Run(op.ID+"/"+tc.name, func(t *testing.T) {
						e.t = t
						r := e.do(op.Method, tc.url, e.as(op.caller()), tc.body, tc.headers...)
						status := 400
						if tc.status != 0 {
							status = tc.status
						}
						p := e.problem(r, status, greenmint.EINVALID)
						if tc.field != "" && !mentions(p.Detail, p.Errors, tc.field) {
							t.Errorf("%s %s (%s) = %s, want a problem naming %q", op.Method, tc.url, tc.name, r.Body, tc.field)
						}
						if h := e.net.Ledger.Height(); h != before.Height {
							t.Fatalf("%s %s (%s) changed the ledger: height %d, was %d", op.Method, tc.url, tc.name, h, before.Height)
						}
					})
				}
			}
			e.t = t
			e.unchanged(before, fmt.Sprintf("%d invalid requests", n))
			if n < 400 {
				t.Fatalf("only %d invalid requests were made", n)
			}
		})
	}
}

// badInput is one invalid request.
type badInput struct {
	name    string
	url     string
	body    any // string or []byte as is, anything else as JSON
	headers []string
	field   string // the field the problem must name ("" for none)
	status  int    // 400 when 0
}

// badInputCases are the invalid requests of an operation.
func badInputCases(op specOperation) []badInput {
	u := op.url("X404")
	var out []badInput
	if op.Body != nil && op.BodyType == "application/json" {
		out = append(out,
			badInput{name: "invalid JSON", url: u, body: `{"a": `},
			badInput{name: "a JSON string for the body", url: u, body: `"hello"`},
			badInput{name: "a JSON array for the body", url: u, body: `[]`},
			badInput{name: "trailing garbage", url: u, body: marshal(example(op.Body)) + ` {}`},
			badInput{name: "JSON sent as text/plain", url: u, body: marshal(example(op.Body)), headers: []string{"Content-Type", "text/plain"}, status: 415},
			badInput{name: "JSON sent as a form", url: u, body: marshal(example(op.Body)), headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 415},
		)
		ex := example(op.Body).(map[string]any)
		with := func(k string, v any) map[string]any {
			m := map[string]any{}
			for k, v := range ex {
				m[k] = v
			}
			if v == deleteField {
				delete(m, k)
			} else {
				m[k] = v
			}
			return m
		}
		out = append(out, badInput{name: "unknown field", url: u, body: with("zz_unknown", 1), field: "zz_unknown"})
		if op.BodyRequired {
			out = append(out, badInput{name: "no body", url: u, body: nil, headers: []string{"Content-Type", "application/json"}})
		}
		req, _ := op.Body["required"].([]any)
		for _, f := range req {
			out = append(out, badInput{name: "missing " + f.(string), url: u, body: with(f.(string), deleteField), field: f.(string)})
		}
		props, _ := op.Body["properties"].(map[string]any)
		for _, f := range sortedKeys(props) {
			bad := outOfRange(props[f].(map[string]any))
			for _, what := range sortedKeys(bad) {
				out = append(out, badInput{name: f + " " + what, url: u, body: with(f, bad[what]), field: f})
			}
		}
	}
	if len(op.Query) > 0 {
		base := url.Values{}
		for _, q := range op.Query {
			if q.Required {
				base.Set(q.Name, fmt.Sprint(example(q.Schema)))
			}
		}
		query := func(k, v string) string {
			vs := url.Values{}
			for k, v := range base {
				vs[k] = v
			}
			if v == "" {
				vs.Del(k)
			} else {
				vs.Set(k, v)
			}
			return u + "?" + vs.Encode()
		}
		out = append(out, badInput{name: "unknown query parameter", url: query("zz_unknown", "1"), field: "zz_unknown"})
		for _, q := range op.Query {
			if q.Required {
				out = append(out, badInput{name: "missing " + q.Name, url: query(q.Name, ""), field: q.Name})
			}
			if q.Name == "cursor" {
				out = append(out, badInput{name: "a cursor never issued", url: query("cursor", "bm90LWEtY3Vyc29y"), field: "cursor"})
			}
			bad := outOfRange(q.Schema)
			for _, what := range sortedKeys(bad) {
				v := bad[what]
				if v == nil || what == "a number for a string" || what == "an object for an array" {
					continue // a query string is text: these have no spelling of their own
				}
				if what == "a string for an integer" {
					v = "twelve" // "1" is the integer 1 in a query string
				}
				s, ok := v.(string)
				if !ok {
					s = strings.Trim(marshal(v), `"`)
				}
				if s == "" {
					continue // an empty parameter is as good as none
				}
				out = append(out, badInput{name: q.Name + " " + what, url: query(q.Name, s), field: q.Name})
			}
		}
	}
	return out
}

// deleteField marks a field to leave out.
var deleteField = &struct{ x int }{}

// mentions reports whether a problem's detail or field errors name field.
func mentions(detail string, errs any, field string) bool {
	raw, _ := json.Marshal(errs)
	return strings.Contains(detail, field) || strings.Contains(string(raw), field)
}

func marshal(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(raw)
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestReadingsBadInput: the readings route takes JSON or CSV itself (its
// body is not a JSON schema): invalid JSON, a CSV without its header, a
// content type that is neither, and an empty batch are each 400, and
// nothing reaches the ledger or the oracle.
func TestReadingsBadInput(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			e := newGatewayEnv(t, db, envOptions{})
			before := e.state()
			for _, tc := range []struct {
				name, contentType, body string
			}{
				{"invalid JSON", "application/json", `[{"meter_id": `},
				{"a JSON number", "application/json", `42`},
				{"a JSON string", "application/json", `"SITE0042-CONS"`},
				{"a CSV without its header", "text/csv", "SITE0042-CONS,1,2023-06-01T00:00:00Z,2023-06-01T01:00:00Z,1,1,AAAA\n"},
				{"an XML body", "application/xml", `<readings/>`},
				{"an unknown content type", "application/x-www-form-urlencoded", `meter_id=SITE0042-CONS`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e.t = t
					r := e.do("POST", "/v1/readings", e.as("miner"), tc.body, "Content-Type", tc.contentType)
					e.problem(r, 400, greenmint.EINVALID)
				})
			}
			e.t = t
			e.unchanged(before, "invalid readings")
			if n, err := e.net.DB.CountReadings(context.Background()); err != nil || n != 0 {
				t.Fatalf("the oracle holds %d readings (%v) after invalid batches", n, err)
			}
		})
	}
}

// TestUnknownIDsEveryOperation calls every operation of docs/openapi.json
// that names an object in its path with an ID that names nothing, as a
// caller the operation admits and with a body it accepts: each answers 404
// problem+json with code not_found, and nothing changes.
func TestUnknownIDsEveryOperation(t *testing.T) {
	const unknown = "NOSUCH-0001"
	// bodies are the bodies that pass validation, by operation; an
	// operation not here gets example(its body schema).
	bodies := map[string]any{
		"amendSite": map[string]any{"site_id": unknown, "name": "n", "country": "ES", "grid_region": "ES", "latitude_microdeg": 1, "longitude_microdeg": 1,
			"capacity_w": 1000, "fleet": map[string]any{"hashrate_ths": 1, "efficiency_mj_per_th": 1}},
		"amendMeter": map[string]any{"meter_id": unknown, "site_id": "SITE0042", "kind": "consumption", "capacity_w": 1000, "interval_minutes": 60,
			"public_key": "VKfyq+q58wLL/J0ZNpKZa3Tw05sXxYfF7K2/izLO8/4="},
		"resolveFlag": map[string]any{"outcome": "dismissed", "resolution": "r"},
		"setUserRole": map[string]any{"role": "miner", "admin": false},
	}
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			e := newGatewayEnv(t, db, envOptions{})
			sa, err := e.net.Attest(e.net.Site, greenmint.CO2E, greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 24}, greenminttest.OracleAID, greenminttest.OracleBID)
			if err != nil {
				t.Fatal(err)
			}
			bodies["reissueBatch"] = map[string]any{"attestation": sa}
			before := e.state()
			n := 0
			for _, op := range specOps(t) {
				if len(op.PathParams) == 0 || op.ID == "admitOrganisation" {
					// Admitting names the organisation to admit, which
					// the registry may do before it joins the channel.
					continue
				}
				n++
				t.Run(op.ID, func(t *testing.T) {
					e.t = t
					u := op.url(unknown)
					if op.ID == "siteMatching" {
						u += "?from=2023-06-01T00:00:00Z&to=2023-06-02T00:00:00Z"
					}
					var body any
					if b, ok := bodies[op.ID]; ok {
						body = b
					} else if op.Body != nil {
						body = example(op.Body)
					}
					r := e.do(op.Method, u, e.as(op.caller()), body)
					e.problem(r, 404, greenmint.ENOTFOUND)
				})
			}
			e.t = t
			e.unchanged(before, "requests naming unknown objects")
			if n < 30 {
				t.Fatalf("only %d operations name an object in their path", n)
			}
		})
	}
}
