package oracle_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

// BenchmarkOracleAttest31d measures building one 31-day attestation for a
// site with 10 meters (5 consumption, 5 solar) at 15-minute resolution:
// 29,760 readings read from SQLite, the ledger queried for the site, its
// meters, the dataset and what each generation hour already gave, 744 hours
// matched, the Merkle root computed. Median of three.
func BenchmarkOracleAttest31d(b *testing.B) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(b)
	e, l, site, db := n.Env, n.Ledger, n.Site, n.DB
	for _, id := range []string{site.Consumption, site.Generation} { // the site's own two meters do not report here
		if _, err := greenmint.SubmitJSON(ctx, l, e.Registry, greenmint.TxSuspendMeter, greenmint.StatusRequest{ID: id, Reason: "replaced"}, nil); err != nil {
			b.Fatal(err)
		}
	}
	pv, err := refdata.AlmeriaPV()
	if err != nil {
		b.Fatal(err)
	}
	from := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	ppm := map[time.Time]int64{}
	for _, h := range pv {
		ppm[h.Start] = h.PPM
	}
	for m := 0; m < 10; m++ {
		kind, tech := greenmint.MeterConsumption, ""
		if m >= 5 {
			kind, tech = greenmint.MeterGeneration, "solar_pv_utility"
		}
		_, key, _ := ed25519.GenerateKey(nil)
		id := fmt.Sprintf("SITE0031-M%d", m)
		if _, err := greenmint.SubmitJSON(ctx, l, e.Miner, greenmint.TxRegisterMeter, greenmint.RegisterMeterRequest{MeterID: id, SiteID: site.ID, Kind: kind, Technology: tech, CapacityW: 1_000_000, IntervalMinutes: 15, PublicKey: key.Public().(ed25519.PublicKey)}, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := greenmint.SubmitJSON(ctx, l, e.Registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: id}, nil); err != nil {
			b.Fatal(err)
		}
		var rs []greenmint.Reading
		var reg int64
		for i := 0; i < 31*96; i++ {
			t0 := from.Add(time.Duration(i) * 15 * time.Minute)
			wh := int64(150_000)
			if kind == greenmint.MeterGeneration {
				wh = 250_000 * ppm[t0.Truncate(time.Hour).AddDate(2023-t0.Year(), 0, 0)] / 1_000_000
			}
			reg += wh
			r := greenmint.Reading{MeterID: id, Seq: int64(i + 1), Start: greenmint.FormatTime(t0), End: greenmint.FormatTime(t0.Add(15 * time.Minute)), EnergyWh: wh, RegisterWh: reg}
			if err := greenmint.SignReading(&r, key); err != nil {
				b.Fatal(err)
			}
			rs = append(rs, r)
		}
		if err := db.SaveReadings(ctx, rs, nil, from); err != nil {
			b.Fatal(err)
		}
	}
	att := &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleA}
	req := oracle.AttestRequest{SiteID: site.ID, Instrument: greenmint.CO2E, From: from, To: from.Add(744 * time.Hour),
		Dataset: greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}}
	b.ResetTimer()
	var times []time.Duration
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		a, used, err := att.Build(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
		if len(used) != 10*31*96 || len(a.Hours) != 744 {
			b.Fatalf("%d readings, %d hours", len(used), len(a.Hours))
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[1].Microseconds())/1000, "BENCH:oracle_attest_31d_ms:ms")
}
