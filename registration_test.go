package greenmint_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const (
	registrationSchema  = "docs/registration/schema.json"
	registrationExample = "docs/registration/example.json"
)

func compileRegistrationSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	c := jsonschema.NewCompiler()
	c.AssertContent()
	s, err := c.Compile(registrationSchema)
	if err != nil {
		tb.Fatalf("compile %s: %v", registrationSchema, err)
	}
	return s
}

// TestRegistrationExample holds the documented example to both the schema
// and the decoder `greenmint register` uses.
func TestRegistrationExample(t *testing.T) {
	raw, err := os.ReadFile(registrationExample)
	if err != nil {
		t.Fatal(err)
	}
	var reg greenmint.Registration
	if err := greenmint.DecodeStrict(raw, &reg); err != nil {
		t.Fatalf("DecodeStrict(example) = %v", err)
	}
	if len(reg.Sites) == 0 || len(reg.Meters) < 2 {
		t.Fatalf("example has %d sites and %d meters, want a site with a consumption and a generation meter", len(reg.Sites), len(reg.Meters))
	}
	for _, m := range reg.Meters {
		if len(m.PublicKey) != 32 {
			t.Errorf("example meter %s has a %d-byte key, want 32", m.MeterID, len(m.PublicKey))
		}
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if err := compileRegistrationSchema(t).Validate(doc); err != nil {
		t.Fatalf("example does not match the schema: %v", err)
	}
}

// TestRegistrationSchemaRefuses checks that the schema refuses what the
// contract refuses on its face, so that an editor flags it before a
// registration is sent.
func TestRegistrationSchemaRefuses(t *testing.T) {
	s := compileRegistrationSchema(t)
	site := `{"site_id":"SITE0007","name":"x","country":"ES","grid_region":"ES","capacity_w":1}`
	meter := `{"meter_id":"M1","site_id":"SITE0007","kind":"generation","technology":"solar_pv_utility","capacity_w":1,"interval_minutes":15,"public_key":"2lYBpJv8YhBVWUd1XP2ln5BKIjm0r1xpkb6hHlW8m6s="}`
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"valid", `{"sites":[` + site + `],"meters":[` + meter + `]}`, true},
		{"unknown top-level field", `{"site":[]}`, false},
		{"unknown site field", `{"sites":[` + strings.Replace(site, `"name"`, `"nam"`, 1) + `]}`, false},
		{"lower-case site ID", `{"sites":[` + strings.Replace(site, "SITE0007", "site7", 1) + `]}`, false},
		{"country name", `{"sites":[` + strings.Replace(site, `"country":"ES"`, `"country":"Spain"`, 1) + `]}`, false},
		{"zero capacity", `{"sites":[` + strings.Replace(site, `"capacity_w":1`, `"capacity_w":0`, 1) + `]}`, false},
		{"country name as grid region", `{"sites":[` + strings.Replace(site, `"grid_region":"ES"`, `"grid_region":"Spain"`, 1) + `]}`, false},
		{"ISO 3166-2 grid region", `{"sites":[` + strings.Replace(site, `"grid_region":"ES"`, `"grid_region":"ES-CN"`, 1) + `]}`, true},
		{"missing grid region", `{"sites":[` + strings.Replace(site, `"grid_region":"ES",`, ``, 1) + `]}`, false},
		{"unknown technology", `{"meters":[` + strings.Replace(meter, "solar_pv_utility", "coal", 1) + `]}`, false},
		{"generation without technology", `{"meters":[` + strings.Replace(meter, `"technology":"solar_pv_utility",`, ``, 1) + `]}`, false},
		{"consumption with technology", `{"meters":[` + strings.Replace(meter, `"generation"`, `"consumption"`, 1) + `]}`, false},
		{"interval of 10 minutes", `{"meters":[` + strings.Replace(meter, `"interval_minutes":15`, `"interval_minutes":10`, 1) + `]}`, false},
		{"key not base64", `{"meters":[` + strings.Replace(meter, "2lYBpJv8", "!!!!", 1) + `]}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Validate(doc)
			if (err == nil) != tc.ok {
				t.Errorf("Validate(%s) = %v, want ok=%v", tc.doc, err, tc.ok)
			}
		})
	}
}

// TestRegistrationSchemaMatchesRequests fails when a request type gains,
// loses or renames a field that the schema does not describe, or when the
// list of renewable technologies changes.
func TestRegistrationSchemaMatchesRequests(t *testing.T) {
	raw, err := os.ReadFile(registrationSchema)
	if err != nil {
		t.Fatal(err)
	}
	type object struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var schema struct {
		Defs map[string]object `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	check := func(def string, typ reflect.Type) {
		fields, required := jsonFields(typ)
		got := schema.Defs[def]
		var props []string
		for p := range got.Properties {
			props = append(props, p)
		}
		slices.Sort(props)
		slices.Sort(got.Required)
		if !slices.Equal(props, fields) {
			t.Errorf("schema %s has properties %v, %s has JSON fields %v", def, props, typ.Name(), fields)
		}
		if !slices.Equal(got.Required, required) {
			t.Errorf("schema %s requires %v, %s's fields without omitempty are %v", def, got.Required, typ.Name(), required)
		}
	}
	// A site's fleet and location default to zero; the schema does not require them.
	siteRequired := []string{"capacity_w", "country", "grid_region", "name", "site_id"}
	fields, _ := jsonFields(reflect.TypeFor[greenmint.RegisterSiteRequest]())
	var siteProps []string
	for p := range schema.Defs["site"].Properties {
		siteProps = append(siteProps, p)
	}
	slices.Sort(siteProps)
	if !slices.Equal(siteProps, fields) {
		t.Errorf("schema site has properties %v, RegisterSiteRequest has %v", siteProps, fields)
	}
	if got := slices.Sorted(slices.Values(schema.Defs["site"].Required)); !slices.Equal(got, siteRequired) {
		t.Errorf("schema site requires %v, want %v", got, siteRequired)
	}
	check("meter", reflect.TypeFor[greenmint.RegisterMeterRequest]())

	var tech struct {
		Enum []string `json:"enum"`
	}
	if err := json.Unmarshal(schema.Defs["meter"].Properties["technology"], &tech); err != nil {
		t.Fatal(err)
	}
	if want := greenmint.RenewableTechnologies(); !slices.Equal(tech.Enum, want) {
		t.Errorf("schema technologies = %v, want greenmint.RenewableTechnologies() = %v", tech.Enum, want)
	}
}

// jsonFields lists a struct's JSON field names (embedded structs flattened)
// and those without omitempty, other than the idempotency key, sorted.
func jsonFields(typ reflect.Type) (fields, required []string) {
	for f := range typ.Fields() {
		if f.Anonymous {
			fs, rs := jsonFields(f.Type)
			fields = append(fields, fs...)
			required = append(required, rs...)
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields = append(fields, name)
		if !strings.Contains(opts, "omitempty") && name != "idempotency_key" {
			required = append(required, name)
		}
	}
	slices.Sort(fields)
	slices.Sort(required)
	return fields, required
}
