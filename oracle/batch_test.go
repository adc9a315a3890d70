package oracle_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
)

// readingsNow is the oracle's clock in the batch tests: after the demo week.
func readingsNow() time.Time { return time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC) }

// outcomeOf is a result's outcome, or its reason when rejected.
func outcomeOf(r oracle.Result) string {
	if r.Outcome == oracle.Rejected {
		return r.Reason
	}
	return r.Outcome
}

// A CSV row with an unclosed quote is rejected alone, with its line; every
// other row of the body gets its own result and is stored (R6). Before, the
// quote swallowed the rows after it: 4 results for 20 rows.
func TestCSVUnclosedQuoteRejectsOnlyItsRow(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	readings, err := n.Site.Readings(greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 10})
	if err != nil {
		t.Fatal(err)
	}
	const bad = 3 // the 4th row, on line 5
	var body strings.Builder
	body.WriteString(oracle.CSVHeader + "\n")
	for i, r := range readings {
		row := oracle.FormatCSVRow(r)
		if i == bad {
			row = `"` + row // an opening quote that never closes
		}
		body.WriteString(row + "\r\n")
	}
	rows, err := oracle.ParseCSV(strings.NewReader(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(readings) {
		t.Fatalf("ParseCSV gave %d results for %d rows", len(rows), len(readings))
	}
	for i, p := range rows {
		if p.Line != i+2 {
			t.Fatalf("row %d: line %d, want %d", i, p.Line, i+2)
		}
		if (p.Err != nil) != (i == bad) {
			t.Fatalf("row %d (line %d): err = %v", i, p.Line, p.Err)
		}
	}
	if msg := greenmint.ErrorMessage(rows[bad].Err); !strings.Contains(msg, "line 5") {
		t.Fatalf("the malformed row's error %q does not name line 5", msg)
	}
	in := oracle.NewIngester(n.DB, &oracle.LedgerMeters{Ledger: n.Ledger, ID: n.Env.OracleA, TTL: time.Minute}, readingsNow)
	s, err := in.Ingest(ctx, rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Results) != len(readings) || s.Accepted != len(readings)-1 || s.Rejected != 1 {
		t.Fatalf("ingest: %d results, %d accepted, %d rejected; want %d, %d, 1", len(s.Results), s.Accepted, s.Rejected, len(readings), len(readings)-1)
	}
	if r := s.Results[bad]; r.Reason != oracle.ReasonMalformed || r.Line != 5 {
		t.Fatalf("the malformed row's result = %+v, want malformed on line 5", r)
	}
	if got, _ := n.DB.CountReadings(ctx); got != int64(len(readings)-1) {
		t.Fatalf("%d readings stored, want %d", got, len(readings)-1)
	}
}

// ParseCSV reads each line on its own, whatever the lines around it hold.
func TestParseCSVRowsAreIndependent(t *testing.T) {
	a := signed(t, 1, "2023-06-01T12:00:00Z", 100, 100)
	good := oracle.FormatCSVRow(a)
	quoted := `"M1","1","2023-06-01T12:00:00Z","2023-06-01T12:15:00Z","100","100","` + strings.Split(good, ",")[6] + `"`
	tests := []struct {
		name string
		line string
		ok   bool
	}{
		{"plain", good, true},
		{"every field quoted", quoted, true},
		{"unclosed quote", `"` + good, false},
		{"quote in the middle", `M1,1,2023-06-01T12:00:00Z,"2023,x`, false},
		{"bare quote", `M"1` + good[2:], false},
		{"text after a closing quote", `"M1"x` + good[2:], false},
		{"six fields", good[:strings.LastIndexByte(good, ',')], false},
		{"eight fields", good + ",", false},
		{"many fields", good + strings.Repeat(",", 100_000), false},
		{"not a number", strings.Replace(good, ",1,", ",one,", 1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := oracle.CSVHeader + "\n" + good + "\n" + tc.line + "\n\n" + good + "\n"
			rows, err := oracle.ParseCSV(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 3 || rows[0].Err != nil || rows[2].Err != nil || rows[1].Line != 3 || rows[2].Line != 5 {
				t.Fatalf("ParseCSV(%q) = %+v, want 3 rows, lines 2, 3 and 5, the first and last valid", tc.line, rows)
			}
			if (rows[1].Err == nil) != tc.ok {
				t.Fatalf("ParseCSV(%q) row = %+v, want ok %v", tc.line, rows[1], tc.ok)
			}
			if tc.ok && !oracle.Identical(rows[1].Reading, a) {
				t.Fatalf("ParseCSV(%q) = %+v, want %+v", tc.line, rows[1].Reading, a)
			}
		})
	}
}

// A batch that lists a meter's readings newest first is accepted whole:
// each meter's readings are checked in sequence order. Before, the newest
// was accepted and every older one rejected for good (sequence_not_higher).
func TestIngestOrdersEachMetersReadingsBySequence(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	readings, err := n.Site.Readings(greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 6})
	if err != nil {
		t.Fatal(err)
	}
	reversed := make([]greenmint.Reading, len(readings))
	for i, r := range readings {
		reversed[len(readings)-1-i] = r
	}
	in := oracle.NewIngester(n.DB, &oracle.LedgerMeters{Ledger: n.Ledger, ID: n.Env.OracleA, TTL: time.Minute}, readingsNow)
	s, err := in.Ingest(ctx, parsed(reversed...))
	if err != nil {
		t.Fatal(err)
	}
	if s.Accepted != len(readings) {
		for _, r := range s.Results {
			t.Logf("%+v", r)
		}
		t.Fatalf("%d of %d readings accepted, want all", s.Accepted, len(readings))
	}
	for i, r := range s.Results {
		if r.Index != i || r.MeterID != reversed[i].MeterID || r.Seq != reversed[i].Seq {
			t.Fatalf("result %d = %+v, want the batch's reading %d (%s %d)", i, r, i, reversed[i].MeterID, reversed[i].Seq)
		}
	}
	heads, err := n.DB.Heads(ctx, []string{n.Site.Consumption})
	if err != nil {
		t.Fatal(err)
	}
	if h := heads[n.Site.Consumption]; h.Seq != 6 {
		t.Fatalf("head of %s = %+v, want sequence 6", n.Site.Consumption, h)
	}
}

// Two different readings of one interval in one batch: a higher sequence
// over an accepted interval is overlapping_interval, as it is across
// batches; the same sequence with other content is sequence_not_higher.
// Before, both were sequence_not_higher.
func TestIngestOverlapInsideABatch(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	site := n.Site
	sign := func(seq int64, start time.Time, energy, register int64) greenmint.Reading {
		r := greenmint.Reading{MeterID: site.Consumption, Seq: seq, Start: greenmint.FormatTime(start), End: greenmint.FormatTime(start.Add(time.Hour)), EnergyWh: energy, RegisterWh: register}
		if err := greenmint.SignReading(&r, site.ConsumptionKey); err != nil {
			t.Fatal(err)
		}
		return r
	}
	h0 := greenminttest.DemoWeek.Start
	first := sign(1, h0, 1_000, 1_000)
	overlap := sign(2, h0, 900, 1_900)   // a later sequence for the same hour
	sameSeq := sign(1, h0, 1_001, 1_001) // the same sequence, other content
	next := sign(3, h0.Add(time.Hour), 500, 1_500)
	in := oracle.NewIngester(n.DB, &oracle.LedgerMeters{Ledger: n.Ledger, ID: n.Env.OracleA, TTL: time.Minute}, readingsNow)
	s, err := in.Ingest(ctx, parsed(overlap, next, first, sameSeq, first))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{oracle.ReasonOverlap, oracle.Accepted, oracle.Accepted, oracle.ReasonSequence, oracle.Duplicate}
	for i, w := range want {
		if got := outcomeOf(s.Results[i]); got != w {
			t.Errorf("reading %d (seq %d): %s (%s), want %s", i, s.Results[i].Seq, got, s.Results[i].Message, w)
		}
	}
	// Across batches the same reading gives the same answer.
	s, err = in.Ingest(ctx, parsed(sign(4, h0, 900, 1_900)))
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeOf(s.Results[0]); got != oracle.ReasonOverlap {
		t.Fatalf("overlap across batches: %s, want %s", got, oracle.ReasonOverlap)
	}
}
