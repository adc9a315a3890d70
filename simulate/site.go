package simulate

import (
	"crypto/ed25519"
	"crypto/rand"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/refdata"
)

// Site is a virtual mining site near Almería, Spain, metered hourly: a
// consumption meter on a near-constant mining load and a generation meter
// on a PV plant following the measured Almería profile, each with its
// Ed25519 key. The demo tells its story with one; tests use them as
// fixtures.
type Site struct {
	ID             string
	Country        string
	GridRegion     string
	CapacityW      int64
	LoadW          int64 // the mining load's nominal draw
	Consumption    string
	ConsumptionKey ed25519.PrivateKey
	Generation     string
	GenerationKey  ed25519.PrivateKey
	PVCapacityW    int64
	Technology     string
}

// NewSite returns the virtual site id (4 MW, a 3 MW load, a 5 MW PV plant,
// meters id-CONS and id-PV) with fresh meter keys.
func NewSite(id string) (*Site, error) {
	s := &Site{
		ID: id, Country: "ES", GridRegion: "ES", CapacityW: 4_000_000, LoadW: 3_000_000,
		Consumption: id + "-CONS", Generation: id + "-PV", PVCapacityW: 5_000_000, Technology: "solar_pv_utility",
	}
	var err error
	if _, s.ConsumptionKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	if _, s.GenerationKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	return s, nil
}

// Registration is the site and its two meters as a miner registers them.
func (s *Site) Registration() greenmint.Registration {
	return greenmint.Registration{
		Sites: []greenmint.RegisterSiteRequest{{
			SiteID: s.ID, Name: "Almería mining site " + s.ID, Country: s.Country, GridRegion: s.GridRegion,
			LatitudeMicro: 36_930_000, LongitudeMicro: -2_470_000, CapacityW: s.CapacityW,
			Fleet: greenmint.Fleet{HashrateTHs: 150_000, EfficiencyMJ: 20_000},
		}},
		Meters: []greenmint.RegisterMeterRequest{
			{MeterID: s.Consumption, SiteID: s.ID, Kind: greenmint.MeterConsumption, CapacityW: s.CapacityW, IntervalMinutes: 60, PublicKey: s.ConsumptionKey.Public().(ed25519.PublicKey)},
			{MeterID: s.Generation, SiteID: s.ID, Kind: greenmint.MeterGeneration, Technology: s.Technology, CapacityW: s.PVCapacityW, IntervalMinutes: 60, PublicKey: s.GenerationKey.Public().(ed25519.PublicKey)},
		},
	}
}

// Load returns the mining load's energy in hour h of a period: near
// constant, with a small deterministic ripple.
func (s *Site) Load(h int) int64 {
	return s.LoadW - 20_000 + int64((h*7919)%40_001)
}

// Period is a span of whole hours.
type Period struct {
	Start time.Time
	Hours int
}

// End is the end of the period's last hour.
func (p Period) End() time.Time { return p.Start.Add(time.Duration(p.Hours) * time.Hour) }

// Readings returns the signed hourly readings of both meters over a
// period, consumption then generation for each hour: the PV meter
// following the Almería profile (of 2023, whatever the period's year)
// scaled to the plant, the consumption meter the mining load.
func (s *Site) Readings(p Period) ([]greenmint.Reading, error) {
	pv, err := refdata.AlmeriaPV()
	if err != nil {
		return nil, err
	}
	byHour := make(map[time.Time]int64, len(pv))
	for _, h := range pv {
		byHour[h.Start] = h.PPM
	}
	var out []greenmint.Reading
	var consReg, genReg int64
	for h := 0; h < p.Hours; h++ {
		start := p.Start.Add(time.Duration(h) * time.Hour)
		ppm, ok := byHour[start.AddDate(2023-start.Year(), 0, 0)]
		if !ok {
			return nil, greenmint.Errorf(greenmint.EINVALID, "no PV data for %s", start)
		}
		gen := s.PVCapacityW * ppm / 1_000_000
		load := s.Load(h)
		consReg += load
		genReg += gen
		for _, r := range []struct {
			meter string
			key   ed25519.PrivateKey
			wh    int64
			reg   int64
		}{{s.Consumption, s.ConsumptionKey, load, consReg}, {s.Generation, s.GenerationKey, gen, genReg}} {
			rd := greenmint.Reading{MeterID: r.meter, Seq: int64(h + 1), Start: greenmint.FormatTime(start), End: greenmint.FormatTime(start.Add(time.Hour)), EnergyWh: r.wh, RegisterWh: r.reg}
			if err := greenmint.SignReading(&rd, r.key); err != nil {
				return nil, err
			}
			out = append(out, rd)
		}
	}
	return out, nil
}
