package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/oracle"
)

// `meter sign` signs a meter vendor's unsigned export (no signature
// column, CRLF, a byte-order mark) as it signs the wire form with empty
// signatures, and every signature verifies with the meter's public key; a
// file with another header, or none, is refused with the headers it takes.
func TestMeterSignUnsignedExport(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "m.key")
	_, out, _ := runExit(t, "meter", "keygen", "--out", key, "--json")
	var k struct {
		PublicKey string `json:"public_key"`
	}
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.StdEncoding.DecodeString(k.PublicKey)
	rows := []string{"M1,1,2023-06-01T00:00:00Z,2023-06-01T01:00:00Z,5,5", "M1,2,2023-06-01T01:00:00Z,2023-06-01T02:00:00Z,7,12"}
	tests := []struct {
		name, body string
	}{
		{"vendor export, no signature column", "\ufeffmeter_id,seq,start,end,energy_wh,register_wh\r\n" + strings.Join(rows, "\r\n") + "\r\n"},
		{"wire form, empty signatures", oracle.CSVHeader + "\n" + strings.Join(rows, ",\n") + ",\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, signed := filepath.Join(t.TempDir(), "in.csv"), filepath.Join(t.TempDir(), "out.csv")
			if err := os.WriteFile(in, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			if code, out, errOut := runExit(t, "meter", "sign", "--key", key, "--in", in, "--out", signed); code != 0 || !strings.Contains(out, "2 readings signed") {
				t.Fatalf("meter sign: %d %s %s", code, out, errOut)
			}
			f, err := os.Open(signed)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			parsed, err := oracle.ParseCSV(f)
			if err != nil || len(parsed) != 2 {
				t.Fatalf("signed file: %d rows, %v", len(parsed), err)
			}
			for _, p := range parsed {
				if p.Err != nil || greenmint.VerifyReadingSignature(p.Reading, pub) != nil || p.Reading.RegisterWh == 0 {
					t.Fatalf("row %d: %+v, %v", p.Line, p.Reading, p.Err)
				}
			}
		})
	}
	for _, bad := range []struct{ body, want string }{
		{"meter,seq\nM1,1\n", "want \"meter_id,seq,start,end,energy_wh,register_wh,signature\", or \"meter_id,seq,start,end,energy_wh,register_wh\""},
		{"", "is empty"},
		{"meter_id,seq,start,end,energy_wh,register_wh\nM1,1,2023-06-01T00:00:00Z,2023-06-01T01:00:00Z,x,5\n", "line 2"},
	} {
		in := filepath.Join(t.TempDir(), "bad.csv")
		if err := os.WriteFile(in, []byte(bad.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := runExit(t, "meter", "sign", "--key", key, "--in", in, "--out", filepath.Join(t.TempDir(), "o.csv")); code != 2 || !strings.Contains(errOut, bad.want) {
			t.Errorf("meter sign of %q: exit %d, %s; want 2 and %q", bad.body, code, errOut, bad.want)
		}
	}
}
