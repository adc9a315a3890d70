package oracle_test

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

func TestParseGridData(t *testing.T) {
	g, err := oracle.ParseGridFactors(strings.NewReader(oracle.GridFactorsHeader + "\nES,209,329.5\nDE,313,523\n"))
	if err != nil || len(g) != 2 || g[0].Region != "DE" || g[1].Intermittent != 329_500 {
		t.Fatalf("grid factors = %+v, %v", g, err)
	}
	h, err := oracle.ParseHourlyFactors(strings.NewReader(oracle.HourlyFactorsHeader + "\nES,2023-06-01T01:00:00Z,150\nES,2023-06-01T00:00:00Z,160.25\n"))
	if err != nil || len(h) != 2 || h[0].Hour != "2023-06-01T00:00:00Z" || h[0].Factor != 160_250 {
		t.Fatalf("hourly factors = %+v, %v", h, err)
	}
	s, err := oracle.ParseGridStates(strings.NewReader(oracle.GridStatesHeader + "\nES,2023-06-01T12:00:00Z,surplus\n"))
	if err != nil || len(s) != 1 || s[0].State != greenmint.GridSurplus {
		t.Fatalf("grid states = %+v, %v", s, err)
	}
	bad := []struct {
		name string
		f    func() error
	}{
		{"wrong header", func() error { _, err := oracle.ParseGridFactors(strings.NewReader("a,b,c\n")); return err }},
		{"four decimals", func() error {
			_, err := oracle.ParseLifecycle(strings.NewReader(oracle.LifecycleHeader + "\nsolar,48.0001\n"))
			return err
		}},
		{"hour not on the hour", func() error {
			_, err := oracle.ParseHourlyFactors(strings.NewReader(oracle.HourlyFactorsHeader + "\nES,2023-06-01T00:30:00Z,1\n"))
			return err
		}},
		{"unknown state", func() error {
			_, err := oracle.ParseGridStates(strings.NewReader(oracle.GridStatesHeader + "\nES,2023-06-01T00:00:00Z,windy\n"))
			return err
		}},
		{"negative", func() error {
			_, err := oracle.ParseGridFactors(strings.NewReader(oracle.GridFactorsHeader + "\nES,-1,2\n"))
			return err
		}},
	}
	for _, tc := range bad {
		if err := tc.f(); greenmint.ErrorCode(err) != greenmint.EINVALID {
			t.Errorf("%s: %v, want invalid", tc.name, err)
		}
	}
}

// TestHourlyFactorsAndSurplusHours publishes a dataset with an hourly
// series for Spain, imports surplus hours, attests a day through the oracle
// and checks the CO2E quantity by hand; a tampered hourly factor is refused.
func TestHourlyFactorsAndSurplusHours(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	e, l, site := n.Env, n.Ledger, n.Site
	day := greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 24}
	var hourly strings.Builder
	hourly.WriteString(oracle.HourlyFactorsHeader + "\n")
	factor := func(h int) int64 { return 200_000 + 10_000*int64(h) } // g/MWh
	for h := 0; h < 24; h++ {
		fmt.Fprintf(&hourly, "ES,%s,%d\n", greenmint.FormatTime(day.Start.Add(time.Duration(h)*time.Hour)), factor(h)/1000)
	}
	series, err := oracle.ParseHourlyFactors(strings.NewReader(hourly.String()))
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := refdata.DefaultDataset()
	ds.Version = "2021-v3.1-hourly-ES"
	ds.HourlyFactors = series
	sum, _ := greenmint.DatasetSHA256(ds)
	if _, err := greenmint.SubmitJSON(ctx, l, e.Registry, greenmint.TxPublishDataset, greenmint.PublishDatasetRequest{Dataset: ds, SHA256: sum}, nil); err != nil {
		t.Fatal(err)
	}
	db := n.DB
	surplus := day.Start.Add(12 * time.Hour)
	if err := db.SaveGridStates(ctx, "ES", map[time.Time]string{surplus: greenmint.GridSurplus, day.Start: greenmint.GridNormal}); err != nil {
		t.Fatal(err)
	}
	readings, err := site.Readings(day)
	if err != nil {
		t.Fatal(err)
	}
	in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: l, ID: e.OracleA, TTL: time.Minute}, func() time.Time { return time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC) })
	if _, err := in.Ingest(ctx, parsed(readings...)); err != nil {
		t.Fatal(err)
	}
	att := &oracle.Attester{Readings: db, GridStates: db, Ledger: l, ID: e.OracleA}
	a, _, err := att.Build(ctx, oracle.AttestRequest{SiteID: site.ID, Instrument: greenmint.CO2E, From: day.Start, To: day.Start.Add(24 * time.Hour),
		Dataset: greenmint.DatasetPin{ID: ds.ID, Version: ds.Version}})
	if err != nil {
		t.Fatal(err)
	}
	// By hand: Σ over hours of matched Wh × (factor(h) − 48,000 solar PV utility) / 10^6, floored once.
	want := new(big.Int)
	for i, h := range a.Hours {
		if h.GridFactor == nil || *h.GridFactor != factor(i) {
			t.Fatalf("hour %s carries factor %v, want %d", h.Start, h.GridFactor, factor(i))
		}
		want.Add(want, new(big.Int).Mul(big.NewInt(h.MatchedWh), big.NewInt(factor(i)-48_000)))
	}
	want.Quo(want, big.NewInt(1_000_000))
	if a.Quantity != want.Int64() || a.Quantity == 0 {
		t.Fatalf("quantity %d, want %d", a.Quantity, want.Int64())
	}
	if a.Hours[12].GridState != greenmint.GridSurplus || a.Hours[0].GridState != greenmint.GridNormal || a.Hours[1].GridState != greenmint.GridUnknown {
		t.Fatalf("grid states = %s %s %s", a.Hours[12].GridState, a.Hours[0].GridState, a.Hours[1].GridState)
	}
	// A tampered hourly factor, re-signed: the contract compares it with the dataset's.
	bad := *a
	bad.Hours = append([]greenmint.AttestedHour(nil), a.Hours...)
	f := factor(12) + 100_000
	bad.Hours[12].GridFactor = &f
	if bad.Quantity, err = greenmint.ComputeQuantity(&bad); err != nil {
		t.Fatal(err)
	}
	sb, _ := e.Sign(&bad, greenminttest.OracleAID, greenminttest.OracleBID)
	if _, err := e.Mint(ctx, sb); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("tampered hourly factor = %v, want invalid", err)
	}
	sa, _ := e.Sign(a, greenminttest.OracleAID, greenminttest.OracleBID)
	res, err := e.Mint(ctx, sa)
	if err != nil {
		t.Fatal(err)
	}
	if res.Quantity != want.Int64() {
		t.Fatalf("minted %d, want %d", res.Quantity, want.Int64())
	}
}
