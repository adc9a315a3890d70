package statement

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/greenmint/greenmint"
)

func newKey(tb testing.TB, kid string) Key {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return Key{ID: kid, Private: priv}
}

// jwksOf is the JWKS a gateway publishes: the statement keys' public JWKs
// beside an access-token key.
func jwksOf(tb testing.TB, keys ...Key) []byte {
	tb.Helper()
	tokenKey := newKey(tb, "access-token-key")
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: tokenKey.Private.Public(), KeyID: tokenKey.ID, Algorithm: "EdDSA", Use: "sig"}}}
	for _, k := range keys {
		jwk, err := PublicJWK(k)
		if err != nil {
			tb.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk)
	}
	b, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// signRaw signs any payload as Signed would, with the header's typ and kid
// as given: for documents Signed would never sign.
func signRaw(tb testing.TB, payload []byte, k Key, typ string) []byte {
	tb.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: k.Private, KeyID: k.ID}}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(out)
}

func jwsParts(tb testing.TB, jws []byte) (header map[string]any, payload []byte, parts []string) {
	tb.Helper()
	parts = strings.Split(string(jws), ".")
	if len(parts) != 3 {
		tb.Fatalf("a compact JWS has 3 parts, this %d", len(parts))
	}
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(h, &header); err != nil {
		tb.Fatal(err)
	}
	if payload, err = base64.RawURLEncoding.DecodeString(parts[1]); err != nil {
		tb.Fatal(err)
	}
	return header, payload, parts
}

// mutations returns every Document that differs from d in exactly one
// figure: each string, integer and list element, reached by reflection so
// that a field added later is tampered with too, and each list one element
// longer or shorter.
func mutations(d *Document) map[string]*Document {
	out := map[string]*Document{}
	var walk func(path string, get func(*Document) reflect.Value)
	walk = func(path string, get func(*Document) reflect.Value) {
		v := get(d)
		mutate := func(name string, f func(reflect.Value)) {
			c := cloneDoc(d)
			f(get(c))
			out[name] = c
		}
		switch v.Kind() {
		case reflect.String:
			mutate(path, func(v reflect.Value) { v.SetString(v.String() + "x") })
			if v.Len() > 0 {
				mutate(path+" emptied", func(v reflect.Value) { v.SetString("") })
			}
		case reflect.Int64:
			mutate(path, func(v reflect.Value) { v.SetInt(v.Int() + 1) })
		case reflect.Uint64:
			mutate(path, func(v reflect.Value) { v.SetUint(v.Uint() + 1) })
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				i := i
				name := strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]
				walk(path+"."+name, func(c *Document) reflect.Value { return get(c).Field(i) })
			}
		case reflect.Slice:
			if v.Len() > 0 {
				mutate(path+" shortened", func(v reflect.Value) { v.Set(v.Slice(0, v.Len()-1)) })
				mutate(path+" lengthened", func(v reflect.Value) { v.Set(reflect.Append(v, v.Index(0))) })
			}
			for i := 0; i < v.Len(); i++ {
				i := i
				walk(path+"["+string(rune('0'+i))+"]", func(c *Document) reflect.Value { return get(c).Index(i) })
			}
		default:
			panic("mutations: no rule for " + v.Kind().String() + " at " + path)
		}
	}
	walk("", func(c *Document) reflect.Value { return reflect.ValueOf(c).Elem() })
	return out
}

func cloneDoc(d *Document) *Document {
	b, err := greenmint.Canonical(d)
	if err != nil {
		panic(err)
	}
	var c Document
	if err := greenmint.DecodeStrict(b, &c); err != nil {
		panic(err)
	}
	return &c
}

// TestSignedStatementTampered signs a real statement and changes each of
// its figures in turn, in the signed payload: every change fails Verify,
// as does any change to the header, the signature or the key set, and a
// document the key did sign that is malformed, not canonical or not
// consistent.
func TestSignedStatementTampered(t *testing.T) {
	fx := newFixture(t, 48, greenmint.EAC, greenmint.CO2E)
	k := newKey(t, "statement-1")
	jwks := jwksOf(t, k)
	jws, err := Signed(fx.in, k)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Build(fx.in)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := Verify(jws, jwks); err != nil || !reflect.DeepEqual(d, want) {
		t.Fatalf("Verify = %+v, %v; want %+v", d, err, want)
	}
	header, payload, parts := jwsParts(t, jws)
	if header["alg"] != "EdDSA" || header["kid"] != "statement-1" || header["typ"] != JWSType || len(header) != 3 {
		t.Errorf("header = %v", header)
	}
	if canon, _ := greenmint.Canonical(want); string(canon) != string(payload) {
		t.Errorf("payload = %s\nwant the canonical document %s", payload, canon)
	}
	if again, _ := Signed(fx.in, k); string(again) != string(jws) {
		t.Error("the same statement and key gave two JWSs")
	}

	t.Run("every figure", func(t *testing.T) {
		muts := mutations(want)
		// Every leaf of the payload's JSON is among the mutated paths.
		var leaves func(path string, v any) int
		leaves = func(path string, v any) int {
			switch v := v.(type) {
			case map[string]any:
				n := 0
				for k, e := range v {
					n += leaves(path+"."+k, e)
				}
				return n
			case []any:
				n := 0
				for i, e := range v {
					n += leaves(path+"["+string(rune('0'+i))+"]", e)
				}
				return n
			}
			if _, ok := muts[path]; !ok {
				t.Errorf("no mutation of %s", path)
			}
			return 1
		}
		var generic any
		if err := json.Unmarshal(payload, &generic); err != nil {
			t.Fatal(err)
		}
		if n := leaves("", generic); n < 40 {
			t.Fatalf("only %d figures in the document", n)
		}
		for name, d := range muts {
			b, err := greenmint.Canonical(d)
			if err != nil {
				t.Fatal(err)
			}
			forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
			if _, err := Verify([]byte(forged), jwks); greenmint.ErrorCode(err) != greenmint.EUNAUTHENTICATED {
				t.Errorf("%s changed: Verify = %v, want unauthenticated", name, err)
			}
		}
	})

	other := newKey(t, "statement-1") // the same kid, another key
	b64 := base64.RawURLEncoding.EncodeToString
	flip := func(s string) string {
		raw, _ := base64.RawURLEncoding.DecodeString(s)
		raw[len(raw)/2] ^= 1
		return b64(raw)
	}
	withUse := func(use, alg string) []byte {
		jwk, _ := PublicJWK(k)
		jwk.Use, jwk.Algorithm = use, alg
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
		return b
	}
	consistent := func(f func(d *Document)) []byte {
		d := cloneDoc(want)
		f(d)
		b, _ := greenmint.Canonical(d)
		return signRaw(t, b, k, JWSType)
	}
	cases := []struct {
		name string
		jws  []byte
		jwks []byte
		code string
	}{
		{"unknown kid", jws, jwksOf(t), greenmint.EUNAUTHENTICATED},
		{"kid of another key", jws, jwksOf(t, other), greenmint.EUNAUTHENTICATED},
		{"kid twice in the set", jws, jwksOf(t, k, k), greenmint.EUNAUTHENTICATED},
		{"signed by another key", signRaw(t, payload, other, JWSType), jwks, greenmint.EUNAUTHENTICATED},
		{"signature changed", []byte(parts[0] + "." + parts[1] + "." + flip(parts[2])), jwks, greenmint.EUNAUTHENTICATED},
		{"header kid changed", []byte(b64([]byte(`{"alg":"EdDSA","kid":"access-token-key","typ":"`+JWSType+`"}`)) + "." + parts[1] + "." + parts[2]), jwks, greenmint.EUNAUTHENTICATED},
		{"header typ changed", []byte(b64([]byte(`{"alg":"EdDSA","kid":"statement-1","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]), jwks, greenmint.EINVALID},
		{"alg none", []byte(b64([]byte(`{"alg":"none","kid":"statement-1","typ":"`+JWSType+`"}`)) + "." + parts[1] + "."), jwks, greenmint.EINVALID},
		{"alg HS256", []byte(b64([]byte(`{"alg":"HS256","kid":"statement-1","typ":"`+JWSType+`"}`)) + "." + parts[1] + "." + parts[2]), jwks, greenmint.EINVALID},
		{"no typ", signRaw(t, payload, k, ""), jwks, greenmint.EINVALID},
		{"truncated", jws[:len(parts[0])+20], jwks, greenmint.EINVALID},
		{"not a JWS", []byte("statement"), jwks, greenmint.EINVALID},
		{"malformed key set", jws, []byte(`{"keys": 1}`), greenmint.EINVALID},
		{"key for encryption", jws, withUse("enc", ""), greenmint.EUNAUTHENTICATED},
		{"key for another algorithm", jws, withUse("sig", "ES256"), greenmint.EUNAUTHENTICATED},
		{"not canonical", signRaw(t, []byte(" "+string(payload)), k, JWSType), jwks, greenmint.EINVALID},
		{"unknown field", signRaw(t, []byte(`{"extra":1,`+string(payload[1:])), k, JWSType), jwks, greenmint.EINVALID},
		{"version 2", consistent(func(d *Document) { d.Version = 2 }), jwks, greenmint.EINVALID},
		{"share not the counts", consistent(func(d *Document) { d.Parts[0].SurplusHours++ }), jwks, greenmint.EINVALID},
		{"period hours not the period", consistent(func(d *Document) { d.Parts[0].PeriodHours++ }), jwks, greenmint.EINVALID},
		{"total not the sum", consistent(func(d *Document) { d.Parts[0].Quantity++ }), jwks, greenmint.EINVALID},
		{"unit not the instrument's", consistent(func(d *Document) { d.Parts[0].Unit = UnitGCO2e }), jwks, greenmint.EINVALID},
		{"no parts", consistent(func(d *Document) { d.Parts, d.Totals = []Part{}, []Total{} }), jwks, greenmint.EINVALID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Verify(tc.jws, tc.jwks)
			if greenmint.ErrorCode(err) != tc.code || d != nil {
				t.Errorf("Verify = %v, %v; want %s", d, err, tc.code)
			}
		})
	}
}

// TestKeys: a key needs an ID and an Ed25519 private key, and its JWK holds
// only the public half.
func TestKeys(t *testing.T) {
	k := newKey(t, "statement-1")
	jwk, err := PublicJWK(k)
	if err != nil {
		t.Fatal(err)
	}
	if !jwk.IsPublic() || jwk.KeyID != "statement-1" || jwk.Algorithm != "EdDSA" || jwk.Use != "sig" {
		t.Errorf("PublicJWK = %+v", jwk)
	}
	b, _ := json.Marshal(jwk)
	if strings.Contains(string(b), `"d"`) {
		t.Errorf("the JWK holds the private key: %s", b)
	}
	for _, bad := range []Key{{ID: "", Private: k.Private}, {ID: "x", Private: k.Private[:10]}, {ID: "x"}} {
		if _, err := PublicJWK(bad); greenmint.ErrorCode(err) != greenmint.EINVALID {
			t.Errorf("PublicJWK(%q, %d bytes) = %v, want invalid", bad.ID, len(bad.Private), err)
		}
		if _, err := Signed(Input{}, bad); greenmint.ErrorCode(err) != greenmint.EINVALID {
			t.Errorf("Signed with key (%q, %d bytes) = %v, want invalid", bad.ID, len(bad.Private), err)
		}
	}
}
