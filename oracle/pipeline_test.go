package oracle_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

// TestReadingsToMint runs the oracle path end to end on real parts: signed
// readings of the demo week ingested into SQLite, the attestation built from
// them and the ledger, co-signed, minted; it must equal the reference
// computation of package demo, and its readings commitment must prove.
func TestReadingsToMint(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	e, l, site := n.Env, n.Ledger, n.Site
	ref, err := e.Attest(site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID)
	if err != nil {
		t.Fatal(err)
	}
	db := n.DB
	// The same signed readings the reference used, through ingestion.
	readings, err := site.Readings(greenminttest.DemoWeek)
	if err != nil {
		t.Fatal(err)
	}
	in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: l, ID: e.OracleA, TTL: time.Minute}, func() time.Time { return time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC) })
	var batch []oracle.Parsed
	for i, r := range readings {
		batch = append(batch, oracle.Parsed{Line: i + 1, Reading: r})
	}
	sum, err := in.Ingest(ctx, batch)
	if err != nil || sum.Accepted != len(readings) {
		t.Fatalf("ingest: %+v %v", sum, err)
	}
	att := &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleA, Now: func() time.Time { return time.Date(2023, 6, 8, 1, 0, 0, 0, time.UTC) }}
	req := oracle.AttestRequest{SiteID: site.ID, Instrument: greenmint.CO2E, From: greenminttest.DemoWeek.Start, To: greenminttest.DemoWeek.Start.Add(168 * time.Hour),
		Dataset: greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion, SHA256: e.Dataset.SHA256}}
	a, used, err := att.Build(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Totals != ref.Attestation.Totals || a.Quantity != ref.Attestation.Quantity || a.ReadingsRoot != ref.Attestation.ReadingsRoot {
		t.Fatalf("oracle path: totals %+v quantity %d root %s; reference: %+v %d %s", a.Totals, a.Quantity, a.ReadingsRoot, ref.Attestation.Totals, ref.Attestation.Quantity, ref.Attestation.ReadingsRoot)
	}
	// A second oracle builds the same bytes from its own copy of the data.
	b, _, err := att.Build(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := a.Canonical()
	cb, _ := b.Canonical()
	if !bytes.Equal(ca, cb) {
		t.Fatal("two builds of the same period differ")
	}
	sa, err := e.Sign(a, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Mint(ctx, sa)
	if err != nil {
		t.Fatal(err)
	}
	if res.Quantity != ref.Attestation.Quantity {
		t.Fatalf("minted %d, want %d", res.Quantity, ref.Attestation.Quantity)
	}
	// Inclusion proof of one reading; a tampered reading does not prove.
	root, _ := hex.DecodeString(a.ReadingsRoot)
	var r32 [32]byte
	copy(r32[:], root)
	leaf, proof, err := oracle.Proof(used, site.Generation, 13)
	if err != nil {
		t.Fatal(err)
	}
	if !greenmint.VerifyMerkleProof(leaf, proof, r32) {
		t.Fatal("inclusion proof does not verify")
	}
	tampered := used[0]
	for _, r := range used {
		if r.MeterID == site.Generation && r.Seq == 13 {
			tampered = r
		}
	}
	tampered.EnergyWh++
	badLeaf, _ := greenmint.ReadingLeaf(tampered)
	if greenmint.VerifyMerkleProof(badLeaf, proof, r32) {
		t.Fatal("a tampered reading proves")
	}
	// After the mint, the same hours back a batch: the oracle refuses to
	// build (and so to sign) them again and says which batch holds them,
	// instead of signing an attestation the ledger must refuse (R1).
	_, _, err = att.Build(ctx, req)
	if greenmint.ErrorCode(err) != greenmint.ECONFLICT || !strings.Contains(err.Error(), "back batch "+res.BatchID) || !strings.Contains(err.Error(), "R1") {
		t.Fatalf("Build of minted hours = %v, want conflict naming batch %s", err, res.BatchID)
	}
}
