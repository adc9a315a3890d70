package oracle_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

// silentPeer listens on loopback, accepts every connection and never
// answers, as a hung peer oracle would. It returns its base URL.
func silentPeer(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// peerBySite sends each site's co-signing to its own peer.
type peerBySite map[string]oracle.Cosigner

func (p peerBySite) Cosign(ctx context.Context, req oracle.AttestRequest, a *greenmint.Attestation) (greenmint.OracleSignature, error) {
	return p[req.SiteID].Cosign(ctx, req, a)
}

// A peer oracle that accepts the connection and never answers fails its
// site's attestation with a timeout, and the other sites are attested
// meanwhile. Before, the co-sign call had no deadline and sites were
// attested one after another: one silent peer stopped scheduled
// attestation of every site, for ever.
func TestSchedulerSilentPeerDelaysNoOtherSite(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := greenminttest.NewNetwork(t)
	e, l, db := n.Env, n.Ledger, n.DB
	other, err := e.RegisterSite(ctx, e.Miner, "SITE0043")
	if err != nil {
		t.Fatal(err)
	}
	in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: l, ID: e.OracleA, TTL: time.Minute}, readingsNow)
	for _, site := range []*greenminttest.Site{n.Site, other} {
		readings, err := site.Readings(greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 24})
		if err != nil {
			t.Fatal(err)
		}
		if s, err := in.Ingest(ctx, parsed(readings...)); err != nil || s.Accepted != len(readings) {
			t.Fatalf("ingest %s: %+v %v", site.ID, s, err)
		}
	}
	// A real peer-oracle token (the silent peer never reads it).
	tokens := api.TokenConfig{Secret: []byte("silent-peer-secret-silent-peer-sec"), Issuer: "oracle-x", Audience: "oracle-x", Store: db}
	token, err := tokens.Issue(ctx, api.KindPeerOracle, greenminttest.OracleAID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	peerB := &oracle.LocalCosigner{Attester: &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleB}, OracleID: greenminttest.OracleBID, Key: e.OracleKeys[greenminttest.OracleBID]}
	const cosignTimeout = 2 * time.Second
	sub := &oracle.Submitter{Attester: &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleA}, Store: db, Ledger: l, ID: e.OracleA,
		OracleID: greenminttest.OracleAID, Key: e.OracleKeys[greenminttest.OracleAID], CosignTimeout: cosignTimeout,
		// The stalled site's peer is the real HTTP client; the Submitter's
		// deadline holds it, whatever the client's own timeout.
		Peers: []oracle.Cosigner{peerBySite{n.Site.ID: &api.HTTPCosigner{URL: silentPeer(t), Token: token.Token}, other.ID: peerB}}}
	sched := &oracle.Scheduler{Submitter: sub, Store: db, Sites: []string{n.Site.ID, other.ID}, Instrument: greenmint.EAC,
		Dataset: greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}, Start: greenminttest.DemoWeek.Start,
		Lag: 30 * time.Minute, Concurrency: 2, SiteTimeout: time.Minute}

	type report struct {
		o  oracle.Outcome
		at time.Duration
	}
	reports := make(chan report, 2)
	start := time.Now()
	go sched.Run(ctx, time.Hour, func() time.Time { return greenminttest.DemoWeek.Start.Add(24*time.Hour + 40*time.Minute) }, func(o oracle.Outcome) {
		reports <- report{o, time.Since(start)}
	})
	got := map[string]report{}
	for len(got) < 2 {
		select {
		case r := <-reports:
			got[r.o.SiteID] = r
		case <-time.After(3 * cosignTimeout):
			t.Fatalf("after %s, outcomes of %d of 2 sites: %+v", 3*cosignTimeout, len(got), got)
		}
	}
	ok, stalled := got[other.ID], got[n.Site.ID]
	if ok.o.Err != nil || ok.o.Result == nil {
		t.Fatalf("site %s: %v", other.ID, ok.o.Err)
	}
	if ok.at >= cosignTimeout {
		t.Fatalf("site %s was minted after %s, not before the silent peer's deadline (%s)", other.ID, ok.at, cosignTimeout)
	}
	if !errors.Is(stalled.o.Err, context.DeadlineExceeded) || greenmint.ErrorCode(stalled.o.Err) != greenmint.EUNAVAILABLE ||
		!strings.Contains(stalled.o.Err.Error(), "gave no answer within "+cosignTimeout.String()) {
		t.Fatalf("site %s: %v, want a timeout (unavailable) naming the peer", n.Site.ID, stalled.o.Err)
	}
	if stalled.at < cosignTimeout || stalled.at > cosignTimeout+time.Second {
		t.Fatalf("site %s failed after %s, want about %s", n.Site.ID, stalled.at, cosignTimeout)
	}
	// Nothing of the stalled site was stored or minted: the next run tries
	// its period again.
	if end, err := db.LastAttestedEnd(ctx, n.Site.ID); err != nil || !end.IsZero() {
		t.Fatalf("stalled site's last attested end = %v %v, want none", end, err)
	}
}

// stalledLedger is the real ledger, except that every query naming site
// never answers until its context ends.
type stalledLedger struct {
	greenmint.Ledger
	site string
}

func (s stalledLedger) Evaluate(ctx context.Context, id *greenmint.Identity, function string, args ...string) ([]byte, error) {
	if strings.Contains(strings.Join(args, ","), `"`+s.site+`"`) {
		<-ctx.Done()
		return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "%s: %v", function, ctx.Err())
	}
	return s.Ledger.Evaluate(ctx, id, function, args...)
}

// Every ledger call of the oracle has a deadline: a ledger that stops
// answering fails the build with a timeout instead of holding it for ever.
func TestAttesterLedgerTimeout(t *testing.T) {
	n := greenminttest.NewNetwork(t)
	att := &oracle.Attester{Readings: n.DB, Ledger: stalledLedger{Ledger: n.Ledger, site: n.Site.ID}, ID: n.Env.OracleA, LedgerTimeout: 300 * time.Millisecond}
	req := oracle.AttestRequest{SiteID: n.Site.ID, Instrument: greenmint.EAC, From: greenminttest.DemoWeek.Start, To: greenminttest.DemoWeek.Start.Add(24 * time.Hour),
		Dataset: greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, _, err := att.Build(context.Background(), req)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) || greenmint.ErrorCode(err) != greenmint.EUNAVAILABLE {
			t.Fatalf("Build = %v, want a timeout", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("Build took %s with a 300ms ledger timeout", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Build still waiting on a silent ledger after 5 s")
	}
}

// stalledSubmits is the real ledger, except that no submission ever
// answers until its context ends.
type stalledSubmits struct{ greenmint.Ledger }

func (s stalledSubmits) Submit(ctx context.Context, id *greenmint.Identity, function string, args ...string) (*greenmint.TxResult, error) {
	<-ctx.Done()
	return nil, &greenmint.Error{Code: greenmint.EUNAVAILABLE, Op: function, Err: ctx.Err()}
}

// An attestation signed and stored by a run whose submission timed out is
// submitted again by the next run. Before, the stored attestation counted
// as attested, so the scheduler never came back to it and its hours were
// never minted unless an operator ran `attest`.
func TestSchedulerSubmitsAgainWhatTimedOut(t *testing.T) {
	ctx := context.Background()
	n, sub := attestingOracle(t, 24, func(l greenmint.Ledger) greenmint.Ledger { return stalledSubmits{l} })
	e, l, db := n.Env, n.Ledger, n.DB
	sub.LedgerTimeout = 300 * time.Millisecond
	sched := &oracle.Scheduler{Submitter: sub, Store: db, Sites: []string{n.Site.ID}, Instrument: greenmint.EAC,
		Dataset: greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}, Start: greenminttest.DemoWeek.Start,
		Lag: 30 * time.Minute, SiteTimeout: time.Minute}
	now := greenminttest.DemoWeek.Start.Add(24*time.Hour + 40*time.Minute)

	first := sched.RunOnce(ctx, now)
	if len(first) != 1 || greenmint.ErrorCode(first[0].Err) != greenmint.EUNAVAILABLE || first[0].Result != nil {
		t.Fatalf("first run = %+v, want one outcome failing unavailable", first)
	}
	if signed, err := db.SignedAttestations(ctx, n.Site.ID); err != nil || len(signed) != 1 {
		t.Fatalf("after the timeout, stored signed attestations = %d %v, want 1", len(signed), err)
	}

	sub.Ledger = l // the ledger answers again
	second := sched.RunOnce(ctx, now)
	if len(second) != 1 || second[0].Err != nil || second[0].Result == nil {
		t.Fatalf("second run = %+v, want the stored attestation minted", second)
	}
	var b greenmint.Batch
	if err := greenmint.EvaluateJSON(ctx, l, e.Auditor, greenmint.QueryGetBatch, greenmint.IDQuery{ID: second[0].Result.BatchID}, &b); err != nil {
		t.Fatalf("minted batch %s: %v", second[0].Result.BatchID, err)
	}
	if signed, err := db.SignedAttestations(ctx, n.Site.ID); err != nil || len(signed) != 0 {
		t.Fatalf("after the second run, stored signed attestations = %d %v, want none", len(signed), err)
	}
	if third := sched.RunOnce(ctx, now); len(third) != 0 {
		t.Fatalf("third run = %+v, want nothing left to do", third)
	}
}

// Hours that already back a batch are refused before anything is signed
// or stored, naming the batch and the hours (issue 9, item 11). Before,
// the oracle signed, stored and submitted the attestation, and the ledger
// refused it (R1).
func TestClaimedHoursRefusedBeforeSigning(t *testing.T) {
	ctx := context.Background()
	n, sub := attestingOracle(t, 48, nil)
	db := n.DB
	pin := greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}
	day := greenminttest.DemoWeek.Start
	res, err := sub.Attest(ctx, oracle.AttestRequest{SiteID: n.Site.ID, Instrument: greenmint.EAC, From: day, To: day.Add(24 * time.Hour), Dataset: pin})
	if err != nil {
		t.Fatal(err)
	}
	before, err := db.Attestations(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = sub.Attest(ctx, oracle.AttestRequest{SiteID: n.Site.ID, Instrument: greenmint.CO2E, From: day.Add(12 * time.Hour), To: day.Add(36 * time.Hour), Dataset: pin})
	want := "12 hours from " + greenmint.FormatTime(day.Add(12*time.Hour)) + " to " + greenmint.FormatTime(day.Add(24*time.Hour)) + " back batch " + res.BatchID
	if greenmint.ErrorCode(err) != greenmint.ECONFLICT || !strings.Contains(err.Error(), want) {
		t.Fatalf("Attest of half-claimed hours = %v, want conflict saying %q", err, want)
	}
	after, err := db.Attestations(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("stored attestations %d -> %d: the refused period was signed and stored", len(before), len(after))
	}
	// The unclaimed day after is attested as usual.
	if _, err := sub.Attest(ctx, oracle.AttestRequest{SiteID: n.Site.ID, Instrument: greenmint.CO2E, From: day.Add(24 * time.Hour), To: day.Add(48 * time.Hour), Dataset: pin}); err != nil {
		t.Fatalf("Attest of the next day = %v", err)
	}
}

// Hours another oracle (or an operator's `attestation create` elsewhere)
// minted are skipped by scheduled attestation, which goes on with the hours
// after them. Before, the scheduler started from its own database's last
// attested end and asked for the claimed hours on every run, refused each
// time (found in review).
func TestSchedulerSkipsHoursMintedElsewhere(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	e, l, db := n.Env, n.Ledger, n.DB
	day := greenminttest.DemoWeek.Start
	elsewhere, err := e.Attest(n.Site, greenmint.EAC, greenminttest.Period{Start: day, Hours: 24}, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	minted, err := e.Mint(ctx, elsewhere)
	if err != nil {
		t.Fatal(err)
	}
	in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: l, ID: e.OracleA, TTL: time.Minute}, readingsNow)
	readings, err := n.Site.Readings(greenminttest.Period{Start: day, Hours: 48})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := in.Ingest(ctx, parsed(readings...)); err != nil || s.Accepted != len(readings) {
		t.Fatalf("ingest: %+v %v", s, err)
	}
	peerB := &oracle.LocalCosigner{Attester: &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleB}, OracleID: greenminttest.OracleBID, Key: e.OracleKeys[greenminttest.OracleBID]}
	sub := &oracle.Submitter{Attester: &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleA}, Store: db, Ledger: l, ID: e.OracleA,
		OracleID: greenminttest.OracleAID, Key: e.OracleKeys[greenminttest.OracleAID], Peers: []oracle.Cosigner{peerB}}
	sched := &oracle.Scheduler{Submitter: sub, Store: db, Sites: []string{n.Site.ID}, Instrument: greenmint.EAC,
		Dataset: greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}, Start: day,
		Lag: 30 * time.Minute, SiteTimeout: time.Minute}
	out := sched.RunOnce(ctx, day.Add(48*time.Hour+40*time.Minute))
	if len(out) != 1 || out[0].Err != nil || out[0].Result == nil {
		t.Fatalf("run = %+v, want the second day minted", out)
	}
	if !out[0].From.Equal(day.Add(24*time.Hour)) || out[0].Result.BatchID == minted.BatchID {
		t.Fatalf("run attested from %s (batch %s), want from the end of batch %s", out[0].From, out[0].Result.BatchID, minted.BatchID)
	}
}

// A co-signing oracle checks R12 against its own clock: it refuses an
// attested_at the requester set ahead of it, and hours that have not ended
// by its clock (on Fabric nothing bounds a proposal's timestamp, so the
// oracles' signatures are what keeps tomorrow's hours from being
// certified; found in review).
func TestCosignerRefusesTimesAheadOfItsClock(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	e, l, db := n.Env, n.Ledger, n.DB
	day := greenminttest.DemoWeek.Start
	in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: l, ID: e.OracleA, TTL: time.Minute}, readingsNow)
	readings, err := n.Site.Readings(greenminttest.Period{Start: day, Hours: 24})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := in.Ingest(ctx, parsed(readings...)); err != nil || s.Accepted != len(readings) {
		t.Fatalf("ingest: %+v %v", s, err)
	}
	pin := greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}
	req := oracle.AttestRequest{SiteID: n.Site.ID, Instrument: greenmint.EAC, From: day, To: day.Add(24 * time.Hour), Dataset: pin}
	clock := day.Add(25 * time.Hour) // the co-signer's time: the day ended an hour ago
	peer := &oracle.LocalCosigner{Attester: &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleB, Now: func() time.Time { return clock }},
		OracleID: greenminttest.OracleBID, Key: e.OracleKeys[greenminttest.OracleBID]}
	build := func(at time.Time) *greenmint.Attestation {
		t.Helper()
		a, _, err := (&oracle.Attester{Readings: db, Ledger: l, ID: e.OracleA, Now: func() time.Time { return at }}).Build(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if _, err := peer.Cosign(ctx, req, build(clock.Add(-time.Minute))); err != nil {
		t.Fatalf("attested a minute ago: %v", err)
	}
	if _, err := peer.Cosign(ctx, req, build(clock.Add(24*time.Hour))); greenmint.ErrorCode(err) != greenmint.EINVALID || !strings.Contains(err.Error(), "R12") {
		t.Fatalf("attested a day ahead of the co-signer's clock: %v, want invalid (R12)", err)
	}
	early := &oracle.LocalCosigner{Attester: &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleB, Now: func() time.Time { return day.Add(12 * time.Hour) }},
		OracleID: greenminttest.OracleBID, Key: e.OracleKeys[greenminttest.OracleBID]}
	if _, err := early.Cosign(ctx, req, build(day.Add(12*time.Hour))); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("a day not yet ended by the co-signer's clock: %v, want invalid", err)
	}
}

// attestingOracle is oracle A on a fresh test network with hours of the
// site's readings ingested and oracle B as its local co-signer, submitting
// to ledger (the network's own when nil).
func attestingOracle(t *testing.T, hours int, ledger func(greenmint.Ledger) greenmint.Ledger) (*greenminttest.Network, *oracle.Submitter) {
	t.Helper()
	n := greenminttest.NewNetwork(t)
	e, l, db := n.Env, n.Ledger, n.DB
	in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: l, ID: e.OracleA, TTL: time.Minute}, readingsNow)
	readings, err := n.Site.Readings(greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: hours})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := in.Ingest(context.Background(), parsed(readings...)); err != nil || s.Accepted != len(readings) {
		t.Fatalf("ingest: %+v %v", s, err)
	}
	var submitTo greenmint.Ledger = l
	if ledger != nil {
		submitTo = ledger(l)
	}
	peerB := &oracle.LocalCosigner{Attester: &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleB}, OracleID: greenminttest.OracleBID, Key: e.OracleKeys[greenminttest.OracleBID]}
	return n, &oracle.Submitter{Attester: &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleA}, Store: db, Ledger: submitTo, ID: e.OracleA,
		OracleID: greenminttest.OracleAID, Key: e.OracleKeys[greenminttest.OracleAID], Peers: []oracle.Cosigner{peerB}}
}
