package oracle_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/oracle"
)

var meterKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))

func testMeter() *greenmint.Meter {
	return &greenmint.Meter{ID: "M1", Kind: greenmint.MeterGeneration, Technology: "solar_pv_utility", CapacityW: 1_000_000,
		IntervalMinutes: 15, PublicKey: meterKey.Public().(ed25519.PublicKey), Status: greenmint.StatusApproved}
}

// signed returns reading seq of M1 for the 15 minutes from start, signed.
func signed(tb testing.TB, seq int64, start string, energy, register int64) greenmint.Reading {
	tb.Helper()
	s, err := greenmint.ParseTime(start)
	if err != nil {
		tb.Fatal(err)
	}
	r := greenmint.Reading{MeterID: "M1", Seq: seq, Start: start, End: greenmint.FormatTime(s.Add(15 * time.Minute)), EnergyWh: energy, RegisterWh: register}
	if err := greenmint.SignReading(&r, meterKey); err != nil {
		tb.Fatal(err)
	}
	return r
}

func TestCheckEveryRule(t *testing.T) {
	now := time.Date(2023, 6, 2, 0, 0, 0, 0, time.UTC)
	last := oracle.Head{Seq: 10, End: time.Date(2023, 6, 1, 12, 0, 0, 0, time.UTC), RegisterWh: 5_000, Known: true}
	approvedPending := testMeter()
	approvedPending.Status = greenmint.StatusPending
	tests := []struct {
		name   string
		r      greenmint.Reading
		m      *greenmint.Meter
		head   oracle.Head
		reason string // "" = accepted
	}{
		{"next reading", signed(t, 11, "2023-06-01T12:00:00Z", 100, 5_100), testMeter(), last, ""},
		{"first reading ever", signed(t, 1, "2023-06-01T12:00:00Z", 100, 100), testMeter(), oracle.Head{}, ""},
		{"after a gap, register moved on", signed(t, 11, "2023-06-01T13:00:00Z", 100, 5_400), testMeter(), last, ""},
		{"unknown meter", signed(t, 11, "2023-06-01T12:00:00Z", 100, 5_100), nil, last, oracle.ReasonUnknownMeter},
		{"meter pending", signed(t, 11, "2023-06-01T12:00:00Z", 100, 5_100), approvedPending, last, oracle.ReasonMeterNotApproved},
		{"tampered energy", func() greenmint.Reading {
			r := signed(t, 11, "2023-06-01T12:00:00Z", 100, 5_100)
			r.EnergyWh = 101
			return r
		}(), testMeter(), last, oracle.ReasonBadSignature},
		{"no signature", func() greenmint.Reading {
			r := signed(t, 11, "2023-06-01T12:00:00Z", 100, 5_100)
			r.Signature = nil
			return r
		}(), testMeter(), last, oracle.ReasonBadSignature},
		{"replayed sequence", signed(t, 10, "2023-06-01T12:00:00Z", 100, 5_100), testMeter(), last, oracle.ReasonSequence},
		{"zero sequence", signed(t, 0, "2023-06-01T12:00:00Z", 100, 100), testMeter(), oracle.Head{}, oracle.ReasonSequence},
		{"misaligned start", signed(t, 11, "2023-06-01T12:05:00Z", 100, 5_100), testMeter(), last, oracle.ReasonMisaligned},
		{"wrong length", func() greenmint.Reading {
			r := greenmint.Reading{MeterID: "M1", Seq: 11, Start: "2023-06-01T12:00:00Z", End: "2023-06-01T12:30:00Z", EnergyWh: 1, RegisterWh: 5_001}
			_ = greenmint.SignReading(&r, meterKey)
			return r
		}(), testMeter(), last, oracle.ReasonMisaligned},
		{"overlapping", signed(t, 11, "2023-06-01T11:45:00Z", 100, 5_100), testMeter(), last, oracle.ReasonOverlap},
		{"register jump", signed(t, 11, "2023-06-01T12:00:00Z", 100, 5_200), testMeter(), last, oracle.ReasonRegister},
		{"register backwards after gap", signed(t, 11, "2023-06-01T13:00:00Z", 100, 5_050), testMeter(), last, oracle.ReasonRegister},
		{"beyond capacity", signed(t, 11, "2023-06-01T12:00:00Z", 270_000, 275_000), testMeter(), last, oracle.ReasonEnergyBounds},
		{"within tolerance", signed(t, 11, "2023-06-01T12:00:00Z", 262_000, 267_000), testMeter(), last, ""}, // 1 MW × 15 min = 250,000 Wh, +5% = 262,500
		{"negative energy", signed(t, 11, "2023-06-01T12:00:00Z", -1, 4_999), testMeter(), last, oracle.ReasonEnergyBounds},
		{"in the future", signed(t, 11, "2023-06-02T12:00:00Z", 100, 5_100), testMeter(), last, oracle.ReasonFuture},
		{"non-canonical time", func() greenmint.Reading {
			r := greenmint.Reading{MeterID: "M1", Seq: 11, Start: "2023-06-01T12:00:00+00:00", End: "2023-06-01T12:15:00Z", EnergyWh: 1, RegisterWh: 5_001}
			_ = greenmint.SignReading(&r, meterKey)
			return r
		}(), testMeter(), last, oracle.ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := oracle.Check(tc.r, tc.m, tc.head, 500, now)
			if tc.reason == "" {
				if v.Outcome != oracle.Accepted {
					t.Fatalf("Check = %+v, want accepted", v)
				}
				return
			}
			if v.Outcome != oracle.Rejected || v.Reason != tc.reason {
				t.Fatalf("Check = %+v, want rejected for %s", v, tc.reason)
			}
			if v.Message == "" {
				t.Fatal("a rejection without a message")
			}
		})
	}
}

func TestParseWireForms(t *testing.T) {
	a := signed(t, 1, "2023-06-01T12:00:00Z", 100, 100)
	b := signed(t, 2, "2023-06-01T12:15:00Z", 50, 150)
	var csv strings.Builder
	csv.WriteString(oracle.CSVHeader + "\n")
	csv.WriteString(oracle.FormatCSVRow(a) + "\n")
	csv.WriteString("M1,x,2023-06-01T12:30:00Z,2023-06-01T12:45:00Z,1,151,AAAA\n")
	csv.WriteString(oracle.FormatCSVRow(b) + "\n")
	rows, err := oracle.ParseCSV(strings.NewReader(csv.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Err != nil || rows[1].Err == nil || rows[2].Err != nil || rows[1].Line != 3 {
		t.Fatalf("CSV rows = %+v", rows)
	}
	if !oracle.Identical(rows[0].Reading, a) {
		t.Fatal("CSV round trip changed the reading")
	}
	if _, err := oracle.ParseCSV(strings.NewReader("meter,seq\n")); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("bad header = %v", err)
	}

	one, _ := json.Marshal(a)
	batch, _ := json.Marshal(map[string]any{"readings": []any{a, map[string]any{"meter_id": "M1", "seq": "two"}, b}})
	for name, body := range map[string][]byte{"single": one, "batch": batch, "array": []byte("[" + string(one) + "]")} {
		rows, err := oracle.ParseJSON(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rows[0].Err != nil || !oracle.Identical(rows[0].Reading, a) {
			t.Fatalf("%s: first reading %+v", name, rows[0])
		}
		if name == "batch" && (len(rows) != 3 || rows[1].Err == nil || rows[2].Err != nil) {
			t.Fatalf("batch rows = %+v", rows)
		}
	}
	for _, bad := range []string{"", "42", "{", "[1,"} {
		if rows, err := oracle.ParseJSON([]byte(bad)); err == nil && (len(rows) == 0 || rows[0].Err == nil) {
			t.Fatalf("ParseJSON(%q) accepted", bad)
		}
	}
}

// FuzzParseReadings feeds outside bytes to both wire forms: no panic; a
// CSV body with its header gives one result per non-empty line after it,
// with that line's number, and each the same as that line alone would give
// (a malformed row never touches another, R6); every reading that parses
// survives a CSV round trip unchanged.
func FuzzParseReadings(f *testing.F) {
	a := signed(f, 1, "2023-06-01T12:00:00Z", 100, 100)
	one, _ := json.Marshal(a)
	f.Add(one)
	f.Add([]byte(`{"readings":[` + string(one) + `,{}]}`))
	f.Add([]byte(oracle.CSVHeader + "\n" + oracle.FormatCSVRow(a) + "\n"))
	f.Add([]byte(oracle.CSVHeader + "\nM1,1,a,b,-1,9223372036854775807,!!\n\"unterminated\n"))
	f.Add([]byte(oracle.CSVHeader + "\r\n\"" + oracle.FormatCSVRow(a) + "\r\n\r\n" + oracle.FormatCSVRow(a) + "\n\"M1\",\"x\"\"\"\n" + oracle.FormatCSVRow(a)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var all []oracle.Parsed
		if rows, err := oracle.ParseJSON(data); err == nil {
			all = append(all, rows...)
		}
		if rows, err := oracle.ParseCSV(bytes.NewReader(data)); err == nil {
			all = append(all, rows...)
			checkOneResultPerRow(t, data, rows)
		}
		for _, p := range all {
			if p.Err != nil {
				continue
			}
			if strings.ContainsAny(p.Reading.MeterID+p.Reading.Start+p.Reading.End, ",\"\n\r") {
				continue // not representable in the CSV form without quoting
			}
			back, err := oracle.ParseCSV(strings.NewReader(oracle.CSVHeader + "\n" + oracle.FormatCSVRow(p.Reading) + "\n"))
			if err != nil || len(back) != 1 || back[0].Err != nil {
				t.Fatalf("CSV round trip of %+v: %v %+v", p.Reading, err, back)
			}
			if !oracle.Identical(back[0].Reading, p.Reading) {
				t.Fatalf("CSV round trip changed %+v into %+v", p.Reading, back[0].Reading)
			}
		}
	})
}

// checkOneResultPerRow holds ParseCSV's rows of data to R6: one per
// non-empty line after the header, on that line, and the same as the line
// parsed alone.
func checkOneResultPerRow(t *testing.T, data []byte, rows []oracle.Parsed) {
	t.Helper()
	lines := strings.Split(string(data), "\n")
	var want []int // line numbers of the rows
	header := false
	for i, l := range lines {
		if strings.TrimSuffix(l, "\r") == "" || i == 0 && strings.TrimSuffix(l, "\r") == "\ufeff" {
			continue
		}
		if !header {
			header = true
			continue
		}
		want = append(want, i+1)
	}
	if len(rows) != len(want) {
		t.Fatalf("ParseCSV gave %d results for %d rows", len(rows), len(want))
	}
	for k, p := range rows {
		if p.Line != want[k] {
			t.Fatalf("result %d is on line %d, want %d", k, p.Line, want[k])
		}
		alone, err := oracle.ParseCSV(strings.NewReader(oracle.CSVHeader + "\n" + lines[p.Line-1]))
		if err != nil || len(alone) != 1 {
			t.Fatalf("line %d alone: %v %+v", p.Line, err, alone)
		}
		if (alone[0].Err == nil) != (p.Err == nil) || p.Err == nil && !oracle.Identical(alone[0].Reading, p.Reading) {
			t.Fatalf("line %d gives %+v in the body but %+v alone", p.Line, p, alone[0])
		}
	}
}
