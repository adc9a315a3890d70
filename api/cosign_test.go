package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

// twoOracles is one ledger and two oracle services, each with its own
// database, serving HTTP on loopback.
type twoOracles struct {
	env      *greenminttest.Env
	site     *greenminttest.Site
	dbA, dbB *store.DB
	attA     *oracle.Attester
	peerB    *api.HTTPCosigner
	tokensB  api.TokenConfig // the tokens oracle B accepts
	logB     *bytes.Buffer   // oracle B's log
	req      oracle.AttestRequest
}

func newTwoOracles(t *testing.T, bMisses int, edit ...func(*api.OracleConfig)) *twoOracles {
	t.Helper()
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	e, l, site := n.Env, n.Ledger, n.Site
	period := greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 48}
	readings, err := site.Readings(period)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC) }
	o := &twoOracles{env: e, site: site}
	for i, dst := range []**store.DB{&o.dbA, &o.dbB} {
		db := n.DB
		if i == 1 {
			db = greenminttest.NewOracleDB(t, filepath.Join(n.Dir, "b.db"))
		}
		id := []*greenmint.Identity{e.OracleA, e.OracleB}[i]
		in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: l, ID: id, TTL: time.Minute}, now)
		mine := readings
		if i == 1 && bMisses > 0 {
			mine = readings[:len(readings)-bMisses] // oracle B never received the last readings
		}
		var batch []oracle.Parsed
		for _, r := range mine {
			batch = append(batch, oracle.Parsed{Reading: r})
		}
		if _, err := in.Ingest(ctx, batch); err != nil {
			t.Fatal(err)
		}
		*dst = db
	}
	o.attA = &oracle.Attester{Readings: o.dbA, Ledger: l, ID: e.OracleA, Now: now}
	attB := &oracle.Attester{Readings: o.dbB, Ledger: l, ID: e.OracleB, Now: now}
	cs := &oracle.LocalCosigner{Attester: attB, OracleID: greenminttest.OracleBID, Key: e.OracleKeys[greenminttest.OracleBID]}
	o.tokensB = api.TokenConfig{Secret: []byte("peer-secret-peer-secret-peer-secr"), Issuer: "oracle-b", Audience: "oracle-b", Store: o.dbB}
	o.logB = &bytes.Buffer{}
	cfg := api.OracleConfig{Tokens: o.tokensB, Cosigner: cs, Log: slog.New(slog.NewTextHandler(&syncWriter{w: o.logB}, nil))}
	for _, f := range edit {
		f(&cfg)
	}
	srvB := httptest.NewServer(api.NewOracleHandler(cfg, oracle.NewIngester(o.dbB, &oracle.LedgerMeters{Ledger: l, ID: e.OracleB, TTL: time.Minute}, now)))
	t.Cleanup(srvB.Close)
	token, err := o.tokensB.Issue(ctx, api.KindPeerOracle, greenminttest.OracleAID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o.peerB = &api.HTTPCosigner{URL: srvB.URL, Token: token.Token}
	o.req = oracle.AttestRequest{SiteID: site.ID, Instrument: greenmint.EAC, From: period.Start, To: period.Start.Add(48 * time.Hour),
		Dataset: greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}}
	return o
}

func (o *twoOracles) submitter() *oracle.Submitter {
	return &oracle.Submitter{Attester: o.attA, Store: o.dbA, Ledger: o.env.Ledger, ID: o.env.OracleA, OracleID: greenminttest.OracleAID,
		Key: o.env.OracleKeys[greenminttest.OracleAID], Peers: []oracle.Cosigner{o.peerB}}
}

func (o *twoOracles) batches(t *testing.T) []greenmint.Batch {
	t.Helper()
	var claims []greenmint.Batch
	if err := greenmint.EvaluateJSON(context.Background(), o.env.Ledger, o.env.Auditor, greenmint.QueryClaimsBySite,
		greenmint.ClaimsQuery{SiteID: o.site.ID, From: greenmint.FormatTime(o.req.From), To: greenmint.FormatTime(o.req.To)}, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestTwoOraclesCosignOverHTTP(t *testing.T) {
	o := newTwoOracles(t, 0)
	res, err := o.submitter().Attest(context.Background(), o.req)
	if err != nil {
		t.Fatal(err)
	}
	if b := o.batches(t); len(b) != 1 || b[0].ID != res.BatchID {
		t.Fatalf("batches = %+v, want the one minted (%s)", b, res.BatchID)
	}
	recs, err := o.dbA.Attestations(context.Background(), store.AttestationMinted)
	if err != nil || len(recs) != 1 || recs[0].BatchID != res.BatchID || len(recs[0].Signed.Signatures) != 2 {
		t.Fatalf("stored attestation = %+v, %v", recs, err)
	}
}

// TestPeerWithDifferentDataRefuses: a peer whose readings differ refuses
// with 409 and the reason attestation_differs, and its answer discloses
// none of its figures (totals, readings root); they are in its log.
func TestPeerWithDifferentDataRefuses(t *testing.T) {
	o := newTwoOracles(t, 2)
	ctx := context.Background()
	_, err := o.submitter().Attest(ctx, o.req)
	if greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		t.Fatalf("Attest with a peer missing readings = %v, want conflict", err)
	}
	if b := o.batches(t); len(b) != 0 {
		t.Fatalf("a refused co-signature still minted %+v", b)
	}
	a, _, err := o.attA.Build(ctx, o.req)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := o.cosignHTTP(t, o.peerB.Token, o.req, a)
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != http.StatusConflict || p.Reason != api.ReasonAttestationDiffers {
		t.Fatalf("co-sign of differing data = %d %s", resp.StatusCode, body)
	}
	for _, secret := range []string{a.ReadingsRoot[:16], strconv.FormatInt(a.Totals.ConsumptionWh, 10), strconv.FormatInt(a.Totals.SupplyWh, 10), "Wh", "totals"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("the 409 answer discloses %q: %s", secret, body)
		}
	}
	if !strings.Contains(o.logB.String(), "co-signature refused") || !strings.Contains(o.logB.String(), p.RequestID) {
		t.Errorf("oracle B's log lacks the difference under request %s:\n%s", p.RequestID, o.logB.String())
	}
}

// cosignHTTP posts a co-sign request to oracle B with token.
func (o *twoOracles) cosignHTTP(t *testing.T, token string, req oracle.AttestRequest, a *greenmint.Attestation) (*http.Response, []byte) {
	t.Helper()
	raw, _ := json.Marshal(api.CosignRequest{SiteID: req.SiteID, Instrument: req.Instrument, From: greenmint.FormatTime(req.From), To: greenmint.FormatTime(req.To), Dataset: req.Dataset, Attestation: *a})
	hr, _ := http.NewRequest(http.MethodPost, o.peerB.URL+"/v1/cosign", bytes.NewReader(raw))
	hr.Header.Set("Content-Type", "application/json")
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// TestCosignNeedsPeerOracleToken: a collector's token, valid for readings,
// is refused (403) by the co-sign endpoint, also for an attestation the
// collector chose, and nothing is signed; a peer-oracle token is admitted.
func TestCosignNeedsPeerOracleToken(t *testing.T) {
	o := newTwoOracles(t, 0)
	ctx := context.Background()
	collector, err := o.tokensB.Issue(ctx, api.KindCollector, "collector-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := o.attA.Build(ctx, o.req)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := o.cosignHTTP(t, collector.Token, o.req, a)
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != http.StatusForbidden || p.Code != greenmint.EFORBIDDEN {
		t.Fatalf("co-sign with a collector token = %d %s, want 403 forbidden", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "signature") {
		t.Fatalf("a collector obtained something: %s", body)
	}
	resp, body = o.cosignHTTP(t, o.peerB.Token, o.req, a)
	var sig greenmint.OracleSignature
	if err := json.Unmarshal(body, &sig); err != nil || resp.StatusCode != http.StatusOK || sig.OracleID != greenminttest.OracleBID {
		t.Fatalf("co-sign with a peer-oracle token = %d %s", resp.StatusCode, body)
	}
}

// gatedCosigner is oracle B's real co-signer, held at a gate: it lets a
// test keep co-signatures in progress.
type gatedCosigner struct {
	inner   *oracle.LocalCosigner
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedCosigner) Cosign(ctx context.Context, req oracle.AttestRequest, a *greenmint.Attestation) (greenmint.OracleSignature, error) {
	g.entered <- struct{}{}
	<-g.gate
	return g.inner.Cosign(ctx, req, a)
}

// TestCosignConcurrencyCap: with one co-signature in progress and a cap of
// one, the next request is answered 429 with Retry-After at once; the
// first completes.
func TestCosignConcurrencyCap(t *testing.T) {
	var gated *gatedCosigner
	o := newTwoOracles(t, 0, func(c *api.OracleConfig) {
		gated = &gatedCosigner{inner: c.Cosigner.(*oracle.LocalCosigner), entered: make(chan struct{}, 4), gate: make(chan struct{})}
		c.Cosigner = gated
		c.Limits.Cosigns = 1
	})
	ctx := context.Background()
	a, _, err := o.attA.Build(ctx, o.req)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan int, 1)
	go func() {
		resp, _ := o.cosignHTTP(t, o.peerB.Token, o.req, a)
		first <- resp.StatusCode
	}()
	<-gated.entered
	resp, body := o.cosignHTTP(t, o.peerB.Token, o.req, a)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second co-sign while one runs = %d (Retry-After %q) %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil || p.Status != 429 || p.Code != greenmint.EUNAVAILABLE {
		t.Fatalf("429 problem = %s", body)
	}
	close(gated.gate)
	if code := <-first; code != http.StatusOK {
		t.Fatalf("the first co-sign = %d", code)
	}
}

// syncWriter serialises writes to w (a server's log read by the test).
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestCrashBetweenSigningAndSubmitting stops after the co-signed
// attestation is stored, restarts (a new Submitter) and resumes: one batch.
// Resuming again, as after a crash between the mint and its bookkeeping,
// mints nothing more.
func TestCrashBetweenSigningAndSubmitting(t *testing.T) {
	o := newTwoOracles(t, 0)
	ctx := context.Background()
	crashing := o.submitter()
	crashing.SetBeforeSubmit(func() error { return errors.New("killed") })
	if _, err := crashing.Attest(ctx, o.req); err == nil {
		t.Fatal("the crash did not happen")
	}
	if b := o.batches(t); len(b) != 0 {
		t.Fatalf("minted before the crash: %+v", b)
	}
	pending, err := o.dbA.Attestations(ctx, store.AttestationSigned)
	if err != nil || len(pending) != 1 {
		t.Fatalf("stored before the crash = %+v, %v", pending, err)
	}
	restarted := o.submitter()
	toResume := []oracle.PendingAttestation{{ID: pending[0].ID, Signed: pending[0].Signed}}
	first, refused, err := restarted.Resume(ctx, toResume)
	if err != nil || len(first) != 1 || len(refused) != 0 {
		t.Fatalf("resume = %+v, %v, %v", first, refused, err)
	}
	again, _, err := restarted.Resume(ctx, toResume) // the bookkeeping was lost: submit again
	if err != nil || len(again) != 1 || again[0].BatchID != first[0].BatchID {
		t.Fatalf("second resume = %+v, %v; want the same batch %s", again, err, first[0].BatchID)
	}
	if b := o.batches(t); len(b) != 1 {
		t.Fatalf("%d batches after two resumes, want 1", len(b))
	}
}

// An attestation the ledger refuses for good (here: its site was
// suspended between co-signing and submitting) is stored as refused with
// the ledger's reason and is not resubmitted; the scheduler does not count
// its hours as attested, and once the site is approved again the same
// hours are attested and minted.
func TestRefusedAttestationDoesNotBlock(t *testing.T) {
	o := newTwoOracles(t, 0)
	ctx := context.Background()
	registry := func(tx string) error {
		_, err := greenmint.SubmitJSON(ctx, o.env.Ledger, o.env.Registry, tx, greenmint.StatusRequest{ID: o.site.ID, Reason: "inspection"}, nil)
		return err
	}
	sub := o.submitter()
	sub.SetBeforeSubmit(func() error { return registry(greenmint.TxSuspendSite) })
	_, err := sub.Attest(ctx, o.req)
	var refused *oracle.Refused
	if !errors.As(err, &refused) {
		t.Fatalf("minting for a suspended site = %v, want a refusal", err)
	}
	stored, err := o.dbA.Attestations(ctx, store.AttestationRefused)
	if err != nil || len(stored) != 1 || stored[0].ID != refused.ID || !strings.Contains(stored[0].Refusal, "suspended") {
		t.Fatalf("refused attestations = %+v, %v", stored, err)
	}
	if pending, _ := o.dbA.Attestations(ctx, store.AttestationSigned); len(pending) != 0 {
		t.Fatalf("still pending: %+v", pending)
	}
	if end, err := o.dbA.LastAttestedEnd(ctx, o.req.SiteID); err != nil || !end.IsZero() {
		t.Fatalf("last attested end = %v, %v; want none", end, err)
	}
	if err := registry(greenmint.TxApproveSite); err != nil {
		t.Fatal(err)
	}
	again := o.req
	again.AttestedAt = time.Date(2023, 7, 1, 0, 1, 0, 0, time.UTC) // a minute on: another ID, within the co-signer's clock
	if res, err := o.submitter().Attest(ctx, again); err != nil || res.BatchID == "" {
		t.Fatalf("attesting again after approval = %+v, %v", res, err)
	}
	if b := o.batches(t); len(b) != 1 {
		t.Fatalf("%d batches, want 1", len(b))
	}
}

// TestCosignEndpointRefusesBadInput sends the co-sign endpoint what a
// misbehaving peer might: no token, a token for another service, a revoked
// peer token, a malformed body, an attestation that does not check, a
// period that is not whole hours. Each gets its code, and nothing is
// signed.
func TestCosignEndpointRefusesBadInput(t *testing.T) {
	o := newTwoOracles(t, 0)
	ctx := context.Background()
	a, _, err := o.attA.Build(ctx, o.req)
	if err != nil {
		t.Fatal(err)
	}
	broken := *a
	broken.Quantity++
	other := api.TokenConfig{Secret: []byte("another-secret-another-secret-xx"), Issuer: "oracle-b", Audience: "oracle-b", Store: o.dbA}
	foreign, err := other.Issue(ctx, api.KindPeerOracle, "x", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := o.tokensB.Issue(ctx, api.KindPeerOracle, "oracle-c", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.dbB.RevokeToken(ctx, revoked.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		req   oracle.AttestRequest
		att   *greenmint.Attestation
		code  string
	}{
		{"no token", "", o.req, a, greenmint.EUNAUTHENTICATED},
		{"token signed with another key", foreign.Token, o.req, a, greenmint.EUNAUTHENTICATED},
		{"revoked peer token", revoked.Token, o.req, a, greenmint.EUNAUTHENTICATED},
		{"attestation that does not check", o.peerB.Token, o.req, &broken, greenmint.EINVALID},
		{"period not whole hours", o.peerB.Token, oracle.AttestRequest{SiteID: o.req.SiteID, Instrument: o.req.Instrument, From: o.req.From.Add(time.Minute), To: o.req.To, Dataset: o.req.Dataset}, a, greenmint.EINVALID},
		{"unknown site", o.peerB.Token, oracle.AttestRequest{SiteID: "NOSITE", Instrument: o.req.Instrument, From: o.req.From, To: o.req.To, Dataset: o.req.Dataset}, a, greenmint.ENOTFOUND},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := o.cosignHTTP(t, tc.token, tc.req, tc.att)
			var p api.Problem
			if err := json.Unmarshal(body, &p); err != nil || p.Code != tc.code {
				t.Fatalf("co-sign = %d %s, want %s", resp.StatusCode, body, tc.code)
			}
		})
	}
	resp, err := http.Post(o.peerB.URL+"/v1/cosign", "application/json", strings.NewReader(`{"site_id":`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("malformed, unauthenticated body = %d", resp.StatusCode)
	}
}

// A co-sign request for hours that already back a batch is refused as what
// it is (R1, naming the batch), not as "attestation differs": the
// requester's data agree, the hours are taken (found in review).
func TestCosignOfClaimedHoursSaysSo(t *testing.T) {
	o := newTwoOracles(t, 0)
	ctx := context.Background()
	a, _, err := o.attA.Build(ctx, o.req)
	if err != nil {
		t.Fatal(err)
	}
	res, err := o.submitter().Attest(ctx, o.req)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := o.cosignHTTP(t, o.peerB.Token, o.req, a)
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("co-sign of minted hours = %d %s, want 409", resp.StatusCode, body)
	}
	if p.Reason == api.ReasonAttestationDiffers || !strings.Contains(p.Detail, res.BatchID) {
		t.Fatalf("co-sign of minted hours answered %+v, want the batch %s named, not %q", p, res.BatchID, api.ReasonAttestationDiffers)
	}
}
