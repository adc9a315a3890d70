// Package simulate drives virtual meters that send signed readings to an
// oracle over HTTP: a PV plant following the measured Almería profile
// scaled to its capacity, a wind plant (a synthetic, deterministic
// profile: no measured wind series ships with Greenmint), and a mining load
// that follows its fleet's hashrate × efficiency and curtails in surplus
// hours. Faults can be injected for demos and tests: a gap, a duplicate, a
// replay, a forged signature and a clock jump.
package simulate

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

// Faults the simulator can inject, each once.
const (
	FaultGap       = "gap"       // one interval of the load meter is never sent
	FaultDuplicate = "duplicate" // one reading is sent twice
	FaultReplay    = "replay"    // an old sequence number comes back with other content
	FaultForged    = "forged"    // one reading's energy is changed after signing
	FaultClockJump = "clockjump" // one reading claims an interval an hour ahead
)

// Meter is a virtual meter.
type Meter struct {
	ID        string
	Key       ed25519.PrivateKey
	CapacityW int64
}

// Config is a simulation.
type Config struct {
	OracleURL string // the oracle's base URL
	Token     string // a collector's bearer token
	Start     time.Time
	Hours     int
	Interval  time.Duration // 5, 15, 30 or 60 minutes, as the meters are registered
	PV        *Meter        // optional
	Wind      *Meter        // optional
	Load      *Meter        // the mining site's consumption meter
	// LoadW is the fleet's draw: hashrate (TH/s) × efficiency (J/TH).
	LoadW int64
	// Surplus hours, in which the miner curtails to CurtailPct of its load.
	Surplus    map[time.Time]bool
	CurtailPct int64
	Faults     []string
	Client     *http.Client
}

// Report is what the oracle answered, counted.
type Report struct {
	Sent      int            `json:"sent"`
	Accepted  int            `json:"accepted"`
	Duplicate int            `json:"duplicate"`
	Rejected  int            `json:"rejected"`
	Reasons   map[string]int `json:"reasons"` // rejections by reason
	Faults    map[string]int `json:"faults"`  // faults injected
}

// wind is a deterministic synthetic wind profile: parts per million of
// capacity for the hour starting at t.
func wind(t time.Time) int64 {
	h := float64(t.Unix()/3600) / 24
	v := 0.35 + 0.2*math.Sin(2*math.Pi*h/5.3) + 0.1*math.Sin(2*math.Pi*h*1.7) + 0.05*math.Cos(2*math.Pi*h*7.1)
	return int64(math.Max(0, math.Min(1, v)) * 1_000_000)
}

type meterState struct {
	m        *Meter
	seq      int64
	register int64
}

func (s *meterState) reading(start time.Time, step time.Duration, wh int64) (greenmint.Reading, error) {
	s.seq++
	s.register += wh
	r := greenmint.Reading{MeterID: s.m.ID, Seq: s.seq, Start: greenmint.FormatTime(start), End: greenmint.FormatTime(start.Add(step)), EnergyWh: wh, RegisterWh: s.register}
	return r, greenmint.SignReading(&r, s.m.Key)
}

// Run sends the readings of every interval, an hour per request, and
// returns what the oracle made of them.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Load == nil || cfg.Interval <= 0 || time.Hour%cfg.Interval != 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "a load meter and an interval that divides the hour are required")
	}
	pv, err := refdata.AlmeriaPV()
	if err != nil {
		return nil, err
	}
	ppm := make(map[time.Time]int64, len(pv))
	for _, h := range pv {
		ppm[h.Start] = h.PPM
	}
	faults := map[string]bool{}
	for _, f := range cfg.Faults {
		switch f {
		case FaultGap, FaultDuplicate, FaultReplay, FaultForged, FaultClockJump:
			faults[f] = true
		default:
			return nil, greenmint.Errorf(greenmint.EINVALID, "unknown fault %q", f)
		}
	}
	rep := &Report{Reasons: map[string]int{}, Faults: map[string]int{}}
	perHour := int(time.Hour / cfg.Interval)
	states := map[string]*meterState{}
	for _, m := range []*Meter{cfg.PV, cfg.Wind, cfg.Load} {
		if m != nil {
			states[m.ID] = &meterState{m: m}
		}
	}
	var sent []greenmint.Reading
	for h := 0; h < cfg.Hours; h++ {
		hour := cfg.Start.Add(time.Duration(h) * time.Hour)
		var batch []any
		for i := 0; i < perHour; i++ {
			t0 := hour.Add(time.Duration(i) * cfg.Interval)
			frac := int64(cfg.Interval / time.Minute)
			if cfg.PV != nil {
				wh := cfg.PV.CapacityW * ppm[hour.AddDate(2023-hour.Year(), 0, 0)] / 1_000_000 * frac / 60
				r, err := states[cfg.PV.ID].reading(t0, cfg.Interval, wh)
				if err != nil {
					return nil, err
				}
				batch, sent = append(batch, r), append(sent, r)
			}
			if cfg.Wind != nil {
				wh := cfg.Wind.CapacityW * wind(hour) / 1_000_000 * frac / 60
				r, err := states[cfg.Wind.ID].reading(t0, cfg.Interval, wh)
				if err != nil {
					return nil, err
				}
				batch, sent = append(batch, r), append(sent, r)
			}
			load := cfg.LoadW
			if cfg.Surplus[hour] {
				load = load * cfg.CurtailPct / 100
			}
			wh := load * frac / 60
			st := states[cfg.Load.ID]
			if faults[FaultGap] && h == 1 && i == 0 {
				// The meter measured the interval but the reading never arrives.
				st.register += wh
				st.seq++
				rep.Faults[FaultGap]++
				faults[FaultGap] = false
				continue
			}
			r, err := st.reading(t0, cfg.Interval, wh)
			if err != nil {
				return nil, err
			}
			switch {
			case faults[FaultForged] && h == 2 && i == 0:
				r.EnergyWh++
				rep.Faults[FaultForged]++
				faults[FaultForged] = false
				// The honest reading is lost with it; later readings' registers
				// stay continuous with the meter's own.
			case faults[FaultClockJump] && h == 3 && i == 0:
				// A meter whose clock jumped a century ahead.
				shifted := r
				s, _ := greenmint.ParseTime(r.Start)
				shifted.Start, shifted.End = greenmint.FormatTime(s.AddDate(100, 0, 0)), greenmint.FormatTime(s.AddDate(100, 0, 0).Add(cfg.Interval))
				shifted.Seq = r.Seq + 1
				if err := greenmint.SignReading(&shifted, st.m.Key); err != nil {
					return nil, err
				}
				batch = append(batch, shifted)
				rep.Faults[FaultClockJump]++
				faults[FaultClockJump] = false
			}
			batch, sent = append(batch, r), append(sent, r)
			if faults[FaultDuplicate] && h == 4 && i == 0 {
				batch = append(batch, r)
				rep.Faults[FaultDuplicate]++
				faults[FaultDuplicate] = false
			}
		}
		if faults[FaultReplay] && h == 5 && len(sent) > 0 {
			old := sent[0]
			old.EnergyWh++
			old.RegisterWh++
			key := states[old.MeterID].m.Key
			if err := greenmint.SignReading(&old, key); err != nil {
				return nil, err
			}
			batch = append(batch, old)
			rep.Faults[FaultReplay]++
			faults[FaultReplay] = false
		}
		sum, err := post(ctx, cfg, batch)
		if err != nil {
			return nil, err
		}
		rep.Sent += len(batch)
		rep.Accepted += sum.Accepted
		rep.Duplicate += sum.Duplicate
		rep.Rejected += sum.Rejected
		for _, r := range sum.Results {
			if r.Outcome == oracle.Rejected {
				rep.Reasons[r.Reason]++
			}
		}
	}
	return rep, nil
}

// maxRateLimitWaits bounds how often one batch waits out the oracle's rate
// limit (429 with Retry-After) before the run gives up.
const maxRateLimitWaits = 20

func post(ctx context.Context, cfg Config, batch []any) (*oracle.Summary, error) {
	body, err := json.Marshal(map[string]any{"readings": batch})
	if err != nil {
		return nil, err
	}
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	for waits := 0; ; waits++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.OracleURL+"/v1/readings", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, &greenmint.Error{Code: greenmint.EUNAVAILABLE, Op: "simulate.post", Message: "oracle " + cfg.OracleURL, Err: err}
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && waits < maxRateLimitWaits {
			// The oracle's rate limit: wait as told, then send the same batch.
			wait := time.Second
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 && secs <= 60 {
				wait = time.Duration(secs) * time.Second
			}
			select {
			case <-ctx.Done():
				return nil, &greenmint.Error{Code: greenmint.EUNAVAILABLE, Op: "simulate.post", Message: "waiting out the oracle's rate limit", Err: ctx.Err()}
			case <-time.After(wait):
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "oracle answered %d: %s", resp.StatusCode, out)
		}
		var s oracle.Summary
		if err := json.Unmarshal(out, &s); err != nil {
			return nil, fmt.Errorf("simulate: %w", err)
		}
		return &s, nil
	}
}

// SortedReasons lists a report's rejection reasons in order, for printing.
func (r *Report) SortedReasons() []string {
	var out []string
	for k, v := range r.Reasons {
		out = append(out, fmt.Sprintf("%s×%d", k, v))
	}
	sort.Strings(out)
	return out
}
