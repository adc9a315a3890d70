package greenmint_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
)

// Regression tests for the rules that leaked (issue 8, items 5 to 9), at
// the level of the pure rules and the canonical encoding.

// almeriaDayEAC is the Almería day as EAC with no lifecycle factors: the
// lifecycle list is empty, which EAC allows.
func almeriaDayEAC(tb testing.TB) *greenmint.Attestation {
	tb.Helper()
	a := almeriaDay(tb)
	a.Instrument = greenmint.EAC
	a.Quantity = a.Totals.MatchedWh
	a.Factors.Lifecycle = []greenmint.LifecycleFactor{}
	return a
}

// almeriaDayNoGaps is the Almería day with its gap hour attested (no supply
// in it), so its gaps list is empty.
func almeriaDayNoGaps(tb testing.TB) *greenmint.Attestation {
	tb.Helper()
	a := almeriaDay(tb)
	h := a.Hours[2]
	h.Start = "2023-06-01T03:00:00Z"
	a.Hours = append(a.Hours[:3], append([]greenmint.AttestedHour{h}, a.Hours[3:]...)...)
	a.Gaps = []string{}
	a.Totals.ConsumptionWh += h.ConsumptionWh
	return a
}

// TestAttestationOneEncoding: a nil list and an empty list are the same
// list, so they give the same canonical bytes and ID, and the bytes hold []
// and never null (item 9).
func TestAttestationOneEncoding(t *testing.T) {
	tests := []struct {
		name  string
		base  func(testing.TB) *greenmint.Attestation // with the list empty
		unset func(a *greenmint.Attestation)          // makes it nil
	}{
		{"gaps", almeriaDayNoGaps, func(a *greenmint.Attestation) { a.Gaps = nil }},
		{"lifecycle", almeriaDayEAC, func(a *greenmint.Attestation) { a.Factors.Lifecycle = nil }},
		{"allocations", func(tb testing.TB) *greenmint.Attestation {
			a := almeriaDayEAC(tb)
			a.Hours[0].Allocations = []greenmint.Allocation{} // an hour with no supply
			return a
		}, func(a *greenmint.Attestation) { a.Hours[0].Allocations = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.base(t)
			if err := greenmint.CheckAttestation(a); err != nil {
				t.Fatal(err)
			}
			b := *a
			b.Hours = append([]greenmint.AttestedHour(nil), a.Hours...)
			tc.unset(&b)
			if err := greenmint.CheckAttestation(&b); err != nil {
				t.Fatal(err)
			}
			ca, _ := a.Canonical()
			cb, _ := b.Canonical()
			if !bytes.Equal(ca, cb) {
				t.Fatalf("nil and empty %s encode differently:\n%s\n%s", tc.name, ca, cb)
			}
			if bytes.Contains(cb, []byte("null")) {
				t.Fatalf("canonical bytes hold null: %s", cb)
			}
			ida, _ := a.ID()
			idb, _ := b.ID()
			if ida != idb {
				t.Fatalf("ID(empty %s) = %s, ID(nil) = %s", tc.name, ida, idb)
			}
		})
	}
}

// TestAttestationRespellings: every spelling of the same attestation that
// the decoder accepts (key order, white space, null or absent lists,
// escaped characters, numbers written -0) gives the canonical bytes and ID
// of the original.
func TestAttestationRespellings(t *testing.T) {
	a := almeriaDayNoGaps(t)
	canon, err := a.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := a.ID()
	s := string(canon)
	tests := []struct{ name, in string }{
		{"gaps null", strings.Replace(s, `"gaps":[]`, `"gaps":null`, 1)},
		{"gaps absent", strings.Replace(s, `"gaps":[],`, ``, 1)},
		{"white space", indent(t, s)},
		{"escaped characters", strings.Replace(s, `"SITE0042"`, `"\u0053ITE0042"`, 1)},
		{"minus zero", strings.Replace(s, `"supply_wh":0`, `"supply_wh":-0`, 1)},
		{"keys reordered", reorderKeys(t, s)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in == s {
				t.Fatal("the respelling changed nothing")
			}
			var b greenmint.Attestation
			if err := greenmint.DecodeStrict([]byte(tc.in), &b); err != nil {
				t.Fatal(err)
			}
			if err := greenmint.CheckAttestation(&b); err != nil {
				t.Fatal(err)
			}
			got, _ := b.Canonical()
			if !bytes.Equal(got, canon) {
				t.Fatalf("Canonical(decode(%s)) differs from the canonical bytes", tc.name)
			}
			if bid, _ := b.ID(); bid != id {
				t.Fatalf("ID = %s, want %s", bid, id)
			}
		})
	}
	// Forms the decoder refuses: numbers that are not integers, unknown
	// fields, trailing data.
	for _, in := range []string{
		strings.Replace(s, `"quantity":`+jsonInt(a.Quantity), `"quantity":`+jsonInt(a.Quantity)+`.0`, 1),
		strings.Replace(s, `"version":1`, `"version":1e0`, 1),
		strings.Replace(s, `"version":1`, `"version":"1"`, 1),
		strings.Replace(s, `"version":1`, `"version":1,"comment":"x"`, 1),
		s + ` {}`,
	} {
		if in == s {
			t.Fatal("the respelling changed nothing")
		}
		var b greenmint.Attestation
		if err := greenmint.DecodeStrict([]byte(in), &b); greenmint.ErrorCode(err) != greenmint.EINVALID {
			t.Errorf("DecodeStrict(%.80s…) = %v, want invalid", in, err)
		}
	}
}

func indent(tb testing.TB, s string) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(s), "\n", "\t "); err != nil {
		tb.Fatal(err)
	}
	return buf.String()
}

func jsonInt(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// reorderKeys re-encodes a JSON document with every object's keys sorted
// alphabetically (json.Marshal of a map), numbers kept as written.
func reorderKeys(tb testing.TB, s string) string {
	tb.Helper()
	out, ok := respell([]byte(s), func(v any) any { return v })
	if !ok {
		tb.Fatal("not JSON")
	}
	return string(out)
}

// respell decodes a JSON document generically, applies f to every value
// bottom-up and encodes it again with sorted keys. ok is false when data is
// not one JSON value.
func respell(data []byte, f func(any) any) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		}
		return f(v)
	}
	out, err := json.Marshal(walk(v))
	return out, err == nil
}

// emptyToNull writes every empty array as null.
func emptyToNull(v any) any {
	if a, ok := v.([]any); ok && len(a) == 0 {
		return nil
	}
	return v
}

// dropEmpty leaves out every object member whose value is an empty array.
func dropEmpty(v any) any {
	if m, ok := v.(map[string]any); ok {
		for k, e := range m {
			if a, ok := e.([]any); ok && len(a) == 0 {
				delete(m, k)
			}
		}
	}
	return v
}

// nullToEmpty writes every null as an empty array (which the decoder
// refuses where the field is not a list).
func nullToEmpty(v any) any {
	if v == nil {
		return []any{}
	}
	return v
}

// checkOneEncoding is the property FuzzDecodeAttestation holds for every
// input the decoder and CheckAttestation accept: decode → encode reaches a
// fixed point with the same ID, and every respelling of the input that
// means the same (null, absent or empty lists, any key order) is accepted
// alike and has the same bytes and ID.
func checkOneEncoding(t *testing.T, data []byte, a *greenmint.Attestation) {
	t.Helper()
	once, err := a.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	id := greenmint.SHA256Hex(once)
	var b greenmint.Attestation
	if err := greenmint.DecodeStrict(once, &b); err != nil {
		t.Fatalf("canonical bytes do not decode: %v", err)
	}
	if err := greenmint.CheckAttestation(&b); err != nil {
		t.Fatalf("canonical bytes of an accepted attestation are refused: %v", err)
	}
	twice, _ := b.Canonical()
	if !bytes.Equal(once, twice) {
		t.Fatalf("canonical encoding is not a fixed point:\n%s\n%s", once, twice)
	}
	for _, r := range []struct {
		name string
		f    func(any) any
		must bool // the respelling means the same, so it must be accepted
	}{{"sorted keys", func(v any) any { return v }, true}, {"empty lists as null", emptyToNull, true}, {"empty lists left out", dropEmpty, true}, {"nulls as empty lists", nullToEmpty, false}} {
		in, ok := respell(data, r.f)
		if !ok {
			t.Fatalf("%s: accepted input is not one JSON value", r.name)
		}
		var c greenmint.Attestation
		err := greenmint.DecodeStrict(in, &c)
		if err == nil {
			err = greenmint.CheckAttestation(&c)
		}
		if err != nil {
			if r.must {
				t.Fatalf("%s: the same attestation respelled is refused: %v\n%s", r.name, err, in)
			}
			continue
		}
		if got, _ := c.Canonical(); !bytes.Equal(got, once) {
			t.Fatalf("%s: one attestation, two encodings:\n%s\n%s", r.name, once, got)
		}
	}
	if aid, _ := a.ID(); aid != id {
		t.Fatalf("ID = %s, want the hash of the canonical bytes %s", aid, id)
	}
}

// TestCheckAttestationRefusesOtherSpellings: the freedoms of a signed
// attestation that would give the same content a second ID are refused
// (item 9).
func TestCheckAttestationRefusesOtherSpellings(t *testing.T) {
	tests := []struct {
		name string
		f    func(a *greenmint.Attestation)
	}{
		{"upper-case readings root", func(a *greenmint.Attestation) { a.ReadingsRoot = strings.ToUpper(a.ReadingsRoot) }},
		{"upper-case dataset hash", func(a *greenmint.Attestation) { a.Dataset.SHA256 = strings.ToUpper(a.Dataset.SHA256) }},
		{"gap left out", func(a *greenmint.Attestation) { a.Gaps = []string{} }},
		{"gaps out of order", func(a *greenmint.Attestation) {
			a.Hours = append(a.Hours[:2:2], a.Hours[3:]...) // hour 02:00 becomes a gap too
			a.Gaps = []string{"2023-06-01T03:00:00Z", "2023-06-01T02:00:00Z"}
			a.Totals.ConsumptionWh -= 3_000_000
		}},
		{"allocations out of order", func(a *greenmint.Attestation) {
			h := &a.Hours[10]
			extra := greenmint.Allocation{MeterID: "SITE0042-A-PV", Technology: "solar_pv_utility"}
			h.Allocations = append(append([]greenmint.Allocation(nil), h.Allocations...), extra)
		}},
		{"a time with a fraction", func(a *greenmint.Attestation) { a.AttestedAt = "2023-06-02T01:00:00.000Z" }},
		{"a time with an offset", func(a *greenmint.Attestation) { a.AttestedAt = "2023-06-02T01:00:00+00:00" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := almeriaDay(t)
			tc.f(a)
			if err := greenmint.CheckAttestation(a); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("CheckAttestation = %v, want invalid", err)
			}
		})
	}
}

// TestCheckAttestationTime holds R12 (item 6): period_end ≤ attested_at ≤
// the transaction's time.
func TestCheckAttestationTime(t *testing.T) {
	tx := time.Date(2023, 6, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		attestedAt string
		ok         bool
	}{
		{"2023-06-02T00:00:00Z", true}, // the period's end
		{"2023-06-02T12:00:00Z", true}, // the transaction's time
		{"2023-06-01T23:59:59Z", false},
		{"2023-06-01T00:00:00Z", false},
		{"2023-06-02T12:00:01Z", false},
		{"2099-06-02T00:00:00Z", false},
	}
	for _, tc := range tests {
		a := almeriaDay(t)
		a.AttestedAt = tc.attestedAt
		err := greenmint.CheckAttestationTime(a, tx)
		if (err == nil) != tc.ok || (err != nil && greenmint.ErrorCode(err) != greenmint.EINVALID) {
			t.Errorf("CheckAttestationTime(attested_at %s, tx %s) = %v, want ok %v", tc.attestedAt, greenmint.FormatTime(tx), err, tc.ok)
		}
		// Attested before the period ended is refused without the ledger too.
		if at, _ := greenmint.ParseTime(tc.attestedAt); at.Before(time.Date(2023, 6, 2, 0, 0, 0, 0, time.UTC)) {
			if err := greenmint.CheckAttestation(a); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Errorf("CheckAttestation(attested_at %s) = %v, want invalid", tc.attestedAt, err)
			}
		}
	}
}

// TestSettleRefusedWhileFrozen holds R13 (item 5) on the rule itself.
func TestSettleRefusedWhileFrozen(t *testing.T) {
	b := &greenmint.Batch{ID: "B", Status: greenmint.BatchActive, Issued: 10, Tradable: 5, Escrowed: 5, OpenFlags: 1}
	seller := &greenmint.Holding{BatchID: "B", Owner: "S", Tradable: 5, Escrowed: 5}
	buyer := &greenmint.Holding{BatchID: "B", Owner: "P"}
	if err := greenmint.Settle(b, seller, buyer, 5); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		t.Fatalf("Settle on a frozen batch = %v, want conflict", err)
	}
	if buyer.Tradable != 0 || seller.Escrowed != 5 || b.Escrowed != 5 {
		t.Fatalf("a refused Settle changed the holdings: seller %+v buyer %+v batch %+v", seller, buyer, b)
	}
	l := &greenmint.Listing{ID: "L", BatchID: "B", Seller: "S", Status: greenmint.ListingOpen}
	if err := greenmint.Reserve(b, l, "P", time.Now(), time.Hour); greenmint.ErrorCode(err) != greenmint.ECONFLICT || l.Status != greenmint.ListingOpen {
		t.Fatalf("Reserve on a frozen batch = %v (listing %s), want conflict", err, l.Status)
	}
}

// TestReservationPolicy: the reservation period's default and bounds, and a
// policy or listing written before reservations expired (item 8).
func TestReservationPolicy(t *testing.T) {
	var p greenmint.Policy
	if err := json.Unmarshal([]byte(`{"registry_msp":"RegistryMSP","threshold":2,"tolerance_bp":500,"updated_at":"2023-06-01T00:00:00Z"}`), &p); err != nil {
		t.Fatal(err)
	}
	if got := p.ReservationTTL(); got != greenmint.DefaultReservationTTLSeconds*time.Second {
		t.Fatalf("an old policy's reservation period = %s, want the default", got)
	}
	for _, tc := range []struct {
		s  int64
		ok bool
	}{{0, false}, {59, false}, {60, true}, {greenmint.DefaultReservationTTLSeconds, true}, {greenmint.MaxReservationTTLSeconds, true}, {greenmint.MaxReservationTTLSeconds + 1, false}, {-60, false}} {
		if err := greenmint.CheckReservationTTL(tc.s); (err == nil) != tc.ok {
			t.Errorf("CheckReservationTTL(%d) = %v, want ok %v", tc.s, err, tc.ok)
		}
	}
	// A reservation made before reservations expired lapses one period
	// after it was made.
	old := greenmint.Listing{ID: "L", Seller: "S", Status: greenmint.ListingReserved, Buyer: "P", UpdatedAt: "2023-06-01T00:00:00Z"}
	l := old
	if lapsed, _ := greenmint.LapseReservation(&l, time.Date(2023, 6, 1, 0, 59, 59, 0, time.UTC), time.Hour); lapsed {
		t.Fatal("lapsed before its period")
	}
	lapsed, at := greenmint.LapseReservation(&l, time.Date(2023, 6, 1, 1, 0, 0, 0, time.UTC), time.Hour)
	if !lapsed || !at.Equal(time.Date(2023, 6, 1, 1, 0, 0, 0, time.UTC)) || l.Status != greenmint.ListingOpen || l.Buyer != "" || l.HeldBack != "P" || l.HeldBackUntil != "2023-06-01T02:00:00Z" {
		t.Fatalf("LapseReservation = %v %s, listing %+v", lapsed, at, l)
	}
}
