package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/bundle"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// story is a network where an EAC batch and a CO2E batch were minted, part
// of each transferred to the buyer and retired in one statement.
type story struct {
	net       *greenminttest.Network
	eac, co2e string
	statement string
}

// TestEmbeddedBundles builds bundles from a real embedded network and
// verifies them, whole and tampered.
func TestEmbeddedBundles(t *testing.T) {
	s, err := newStory(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *story)
	}{
		{"BatchVerifies", testBatchVerifies},
		{"StatementVerifies", testStatementVerifies},
		{"BuildRefusesUnknown", testBuildRefusesUnknown},
		{"TamperedBatch", testTamperedBatch},
		{"TrustedHeadCatchesARewrittenChain", testTrustedHead},
		{"TamperedStatement", testTamperedStatement},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
}

func newStory(t *testing.T) (*story, error) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	week2 := greenminttest.Period{Start: greenminttest.DemoWeek.End(), Hours: 7 * 24}
	s := &story{net: n}
	if _, err := greenmint.SubmitJSON(ctx, n.Ledger, n.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		inst   greenmint.Instrument
		period greenminttest.Period
		id     *string
	}{{greenmint.EAC, greenminttest.DemoWeek, &s.eac}, {greenmint.CO2E, week2, &s.co2e}} {
		readings, err := n.Site.Readings(p.period)
		if err != nil {
			return nil, err
		}
		if err := n.DB.SaveReadings(ctx, readings, nil, p.period.End()); err != nil {
			return nil, err
		}
		sa, err := n.Attest(n.Site, p.inst, p.period, greenminttest.OracleAID, greenminttest.OracleBID)
		if err != nil {
			return nil, err
		}
		res, err := n.Mint(ctx, sa)
		if err != nil {
			return nil, err
		}
		*p.id = res.BatchID
		if _, err := greenmint.SubmitJSON(ctx, n.Ledger, n.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: 100, PriceMinor: 5000, Currency: "EUR"}, nil); err != nil {
			return nil, err
		}
		if _, err := greenmint.SubmitJSON(ctx, n.Ledger, n.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: n.Buyer.MSPID, Quantity: 1000}, nil); err != nil {
			return nil, err
		}
	}
	var st greenmint.RetirementStatement
	req := greenmint.RetireRequest{
		Parts:       []greenmint.RetirePart{{BatchID: s.eac, Quantity: 400}, {BatchID: s.co2e, Quantity: 250}},
		Beneficiary: "Acme Mining SL", Jurisdiction: "ES-AN", Purpose: greenmint.PurposeVoluntary, ReportingYear: 2023, Reason: "2023 claim",
	}
	if _, err := greenmint.SubmitJSON(ctx, n.Ledger, n.Buyer, greenmint.TxRetire, req, &st); err != nil {
		return nil, err
	}
	s.statement = st.ID
	// A transaction after the retirement, so the head lies beyond it.
	if _, err := greenmint.SubmitJSON(ctx, n.Ledger, n.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: s.eac, To: n.Buyer.MSPID, Quantity: 5}, nil); err != nil {
		return nil, err
	}
	return s, nil
}

func buildBatch(t *testing.T, s *story, id string) *bundle.Bundle {
	t.Helper()
	b, err := bundle.BuildBatch(context.Background(), s.net.Ledger, nil, s.net.Auditor, id, bundle.Options{Readings: s.net.DB})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func failures(r *bundle.Report) string {
	var b strings.Builder
	for _, c := range r.Failed() {
		fmt.Fprintf(&b, "%s: %s\n", c.Name, c.Detail)
	}
	return b.String()
}

func mustVerify(t *testing.T, b *bundle.Bundle, opts bundle.VerifyOptions) *bundle.Report {
	t.Helper()
	raw, err := bundle.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := bundle.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	rep := bundle.Verify(again, opts)
	if !rep.OK() {
		var out bytes.Buffer
		_ = rep.Print(&out)
		t.Fatalf("Verify failed:\n%s", out.String())
	}
	return rep
}

func TestCompositeKeyIsTheShims(t *testing.T) {
	// The verifier spells the contract's keys itself; they must be the shim's.
	for _, k := range [][]string{{"policy"}, {"batch", "EAC-ES-SITE0042-20230601-0001"}, {"dataset", "ipcc", "2024.1"}} {
		want, err := shim.CreateCompositeKey(k[0], k[1:])
		if err != nil {
			t.Fatal(err)
		}
		if got := bundle.CompositeKeyForTest(k[0], k[1:]...); got != want {
			t.Errorf("compositeKey(%q) = %q, want %q", k, got, want)
		}
	}
}

func testBatchVerifies(t *testing.T, s *story) {
	for _, id := range []string{s.eac, s.co2e} {
		b := buildBatch(t, s, id)
		rep := mustVerify(t, b, bundle.VerifyOptions{})
		if testing.Verbose() {
			var out bytes.Buffer
			_ = rep.Print(&out)
			t.Logf("greenmint verify:\n%s", out.String())
		}
		if b.Batches[0].Readings == nil || len(b.Batches[0].Readings.Readings) != 2*7*24 {
			t.Errorf("batch %s: the bundle carries no readings, or not the week's %d", id, 2*7*24)
		}
		var names []string
		for _, c := range rep.Checks {
			names = append(names, c.Name)
		}
		for _, want := range []string{"ledger: header chain", "ledger: block 0", "oracle signatures (R5)", "R2", "quantity", "dataset pin (R9)", "readings", "history", "R1 site-hours", "R12", "ledger: trust anchor", "ledger: MSP roots"} {
			if !strings.Contains(strings.Join(names, "\n"), want) {
				t.Errorf("batch %s: no check named %q among %q", id, want, names)
			}
		}
		// The head a verifier obtained independently: the ledger's.
		last, err := s.net.Ledger.Block(s.net.Ledger.Height() - 1)
		if err != nil {
			t.Fatal(err)
		}
		head, _ := last.Hash()
		mustVerify(t, b, bundle.VerifyOptions{Head: head})
	}
}

func testStatementVerifies(t *testing.T, s *story) {
	b, err := bundle.BuildStatement(context.Background(), s.net.Ledger, s.net.Ledger, s.net.Auditor, s.statement, bundle.Options{Readings: s.net.DB})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Batches) != 2 {
		t.Fatalf("statement bundle holds %d batches, want 2", len(b.Batches))
	}
	rep := mustVerify(t, b, bundle.VerifyOptions{})
	var parts int
	for _, c := range rep.Checks {
		if strings.Contains(c.Name, ": part of ") && c.Result == bundle.Pass {
			parts++
		}
	}
	if parts != 2 {
		t.Errorf("%d statement parts verified, want 2", parts)
	}
}

func testBuildRefusesUnknown(t *testing.T, s *story) {
	ctx := context.Background()
	if _, err := bundle.BuildBatch(ctx, s.net.Ledger, nil, s.net.Auditor, "EAC-XX-NONE-20230601-0001", bundle.Options{}); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		t.Errorf("BuildBatch(unknown) = %v, want not_found", err)
	}
	if _, err := bundle.BuildStatement(ctx, s.net.Ledger, nil, s.net.Auditor, "RET-0000000000000000", bundle.Options{}); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		t.Errorf("BuildStatement(unknown) = %v, want not_found", err)
	}
}

// mutation changes one thing in a bundle's JSON.
type mutation struct {
	name string
	path string                                 // dot-separated path into the JSON
	edit func(v any) any                        // the new value at path
	all  func(t *testing.T, doc map[string]any) // or an edit of the whole document
	want []string                               // each must appear in a failed check
}

func testTamperedBatch(t *testing.T, s *story) {
	b := buildBatch(t, s, s.eac)
	raw, err := bundle.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	mintBlock := b.Batches[0].Attestation.Block
	blockIndex := func(n uint64) string {
		for i, rb := range b.Ledger.Blocks {
			if rb.Number == n {
				return strconv.Itoa(i)
			}
		}
		t.Fatalf("block %d not in the bundle", n)
		return ""
	}
	att := "batches.0.attestation.value.attestation.attestation."
	p := "batch " + s.eac + ": "
	cases := []mutation{
		{name: "an hour's matched Wh", path: att + "hours.5.matched_wh", edit: add(1),
			want: []string{p + "attestation: the bundle's copy differs from what transaction", p + "oracle signatures (R5)", p + "R2: hour 2023-06-01T05:00:00Z"}},
		{name: "an hour's consumption", path: att + "hours.30.consumption_wh", edit: add(-1000),
			want: []string{p + "attestation: the bundle's copy differs", p + "readings: hour 2023-06-02T06:00:00Z: the consumption meters' readings add up"}},
		{name: "the totals", path: att + "totals.matched_wh", edit: add(1), want: []string{p + "R2: totals"}},
		{name: "the quantity", path: att + "quantity", edit: add(1), want: []string{p + "quantity: the attestation states quantity"}},
		{name: "a signature byte", path: "batches.0.attestation.value.attestation.signatures.0.signature", edit: flipBase64(3),
			want: []string{p + "oracle signatures (R5): forbidden: signature of oracle"}},
		{name: "a signer", path: "batches.0.attestation.value.attestation.signatures.1.oracle_id", edit: set("oracle-x"),
			want: []string{p + "oracle signatures (R5)"}},
		{name: "an oracle key", path: "batches.0.oracles.0.value.public_key", edit: flipBase64(5),
			want: []string{p + "oracle oracle-a: the bundle's copy differs from what transaction"}},
		{name: "an oracle's status", path: "batches.0.oracles.1.value.status", edit: set("revoked"), want: []string{p + "oracle oracle-b: the bundle's copy differs"}},
		{name: "the oracle's registration reference", path: "batches.0.oracles.0.tx", edit: add(1), want: []string{p + "oracle oracle-a"}},
		{name: "the threshold", path: "batches.0.policy.value.threshold", edit: set(json.Number("1")), want: []string{p + "policy: the bundle's copy differs"}},
		{name: "the dataset factor", path: "batches.0.dataset.value.grid_factors.0.firm_g_per_mwh", edit: add(7), want: []string{p + "dataset: the bundle's copy differs"}},
		{name: "the attestation's factor", path: att + "factors.intermittent_g_per_mwh", edit: add(7),
			want: []string{p + "dataset pin (R9): the attestation's grid factors", p + "oracle signatures (R5)"}},
		{name: "the dataset pin", path: att + "dataset.sha256", edit: set(strings.Repeat("ab", 32)), want: []string{p + "dataset pin (R9): the attestation pins"}},
		{name: "the Merkle root", path: att + "readings_root", edit: set(strings.Repeat("0", 64)),
			want: []string{p + "readings: the 336 readings make Merkle root", p + "oracle signatures (R5)"}},
		{name: "the bundle's root", path: "batches.0.readings.root", edit: set(strings.Repeat("1", 64)), want: []string{p + "readings: the 336 readings make Merkle root"}},
		{name: "a reading", path: "batches.0.readings.readings.7.energy_wh", edit: add(1), want: []string{p + "readings: the 336 readings make Merkle root"}},
		{name: "a reading's signature", path: "batches.0.readings.readings.9.signature", edit: flipBase64(2), want: []string{p + "readings: the 336 readings make Merkle root"}},
		{name: "a meter key", path: "batches.0.meters.0.value.public_key", edit: flipBase64(4), want: []string{p + "meter SITE0042-CONS: the bundle's copy differs"}},
		{name: "the site's region", path: "batches.0.site.value.grid_region", edit: set("FR"), want: []string{p + "site: the bundle's copy differs"}},
		{name: "a history entry's value", path: "batches.0.history.1.value.retired", edit: add(1), want: []string{p + "history: version 2 (transaction"}},
		{name: "a history entry's tx ID", path: "batches.0.history.1.tx_id", edit: set(strings.Repeat("e", 64)), want: []string{p + "history: version 2"}},
		{name: "a history entry's time", path: "batches.0.history.0.timestamp", edit: set("2020-01-01T00:00:00Z"), want: []string{p + "history: version 1", "it states time 2020-01-01T00:00:00Z"}},
		{name: "a history entry left out", all: func(t *testing.T, doc map[string]any) {
			h := get(t, doc, "batches.0.history").([]any)
			put(t, doc, "batches.0.history", append([]any{h[0]}, h[2:]...))
		}, want: []string{p + "history: version 2", "read batch/" + s.eac + " as written at"}},
		{name: "the mint's tx ID", path: "batches.0.attestation.tx_id", edit: set(strings.Repeat("d", 64)), want: []string{p + "attestation: transaction"}},
		{name: "a block byte", path: "ledger.blocks." + blockIndex(mintBlock) + ".bytes", edit: flipBase64(200), want: []string{fmt.Sprintf("ledger: block %d", mintBlock)}},
		{name: "a block hash link", path: "ledger.headers.3.previous_hash", edit: set(strings.Repeat("0", 64)), want: []string{"ledger: header chain: block 3's previous_hash"}},
		{name: "the head", path: "ledger.head.hash", edit: set(strings.Repeat("f", 64)), want: []string{"ledger: header chain: the head's hash"}},
		{name: "a certificate", all: func(t *testing.T, doc map[string]any) {
			editBlock(t, doc, 0, func(blk *embedded.Block) { blk.Data.Config.Orgs[1].RootCertPEM = blk.Data.Config.Orgs[0].RootCertPEM })
		}, want: []string{"ledger: block 0: its header differs from header 0 of the chain", "ledger: block 18: block 0, with the channel's certificate authorities, does not verify"}},
		{name: "a write, with the chain rehashed", all: func(t *testing.T, doc map[string]any) {
			editBlock(t, doc, mintBlock, func(blk *embedded.Block) {
				for i, w := range blk.Data.Transactions[b.Batches[0].Attestation.Tx].Writes {
					if strings.HasPrefix(w.Key, "\x00policy") || strings.HasPrefix(w.Key, "\x00batch\x00") {
						blk.Data.Transactions[b.Batches[0].Attestation.Tx].Writes[i].Value = bytes.Replace(w.Value, []byte(`"retired":0`), []byte(`"retired":1`), 1)
					}
				}
			})
			rehash(t, doc, mintBlock)
		}, want: []string{p + "history: version 1"}},
		{name: "the subject", path: "subject.id", edit: set("EAC-ES-SITE0042-20230601-0009"), want: []string{"subject: a batch bundle of"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			if tc.all != nil {
				tc.all(t, doc)
			} else {
				put(t, doc, tc.path, tc.edit(get(t, doc, tc.path)))
			}
			out, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			bd, err := bundle.Decode(out)
			if err != nil {
				t.Fatal(err)
			}
			rep := bundle.Verify(bd, bundle.VerifyOptions{})
			got := failures(rep)
			if rep.OK() {
				t.Fatalf("Verify(%s tampered) passed", tc.name)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Verify(%s tampered): no failure says %q; failures:\n%s", tc.name, w, got)
				}
			}
		})
	}
}

// A forger who rewrites a block and recomputes every hash up to a new head
// passes the bundle's own checks; the head obtained independently is what
// catches it.
func testTrustedHead(t *testing.T, s *story) {
	b := buildBatch(t, s, s.eac)
	head := b.Ledger.Head.Hash
	raw, _ := bundle.Marshal(b)
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	last := b.Ledger.Blocks[len(b.Ledger.Blocks)-1].Number
	editBlock(t, doc, last, func(blk *embedded.Block) { blk.Data.Transactions[0].Response.Message = "rewritten" })
	rehash(t, doc, last)
	out, _ := json.Marshal(doc)
	bd, err := bundle.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep := bundle.Verify(bd, bundle.VerifyOptions{}); !rep.OK() {
		t.Fatalf("a consistently rewritten chain fails without a trusted head:\n%s", failures(rep))
	}
	rep := bundle.Verify(bd, bundle.VerifyOptions{Head: head})
	if got := failures(rep); !strings.Contains(got, "ledger: trust anchor: the bundle's head") {
		t.Errorf("Verify(rewritten, trusted head) failures:\n%s\nwant the trust anchor named", got)
	}
}

func testTamperedStatement(t *testing.T, s *story) {
	b, err := bundle.BuildStatement(context.Background(), s.net.Ledger, nil, s.net.Auditor, s.statement, bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := bundle.Marshal(b)
	name := "statement " + s.statement
	for _, tc := range []mutation{
		{name: "the beneficiary", path: "statement.value.beneficiary", edit: set("Someone Else"), want: []string{name + ": the bundle's copy differs"}},
		{name: "a part's quantity", path: "statement.value.parts.1.quantity", edit: add(1), want: []string{name + ": the bundle's copy differs"}},
		{name: "a batch left out", all: func(t *testing.T, doc map[string]any) {
			put(t, doc, "batches", get(t, doc, "batches").([]any)[:1])
		}, want: []string{name + ": part of " + s.co2e + ": batch " + s.co2e + " is not in the bundle"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			if tc.all != nil {
				tc.all(t, doc)
			} else {
				put(t, doc, tc.path, tc.edit(get(t, doc, tc.path)))
			}
			out, _ := json.Marshal(doc)
			bd, err := bundle.Decode(out)
			if err != nil {
				t.Fatal(err)
			}
			got := failures(bundle.Verify(bd, bundle.VerifyOptions{}))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Verify(%s tampered): no failure says %q; failures:\n%s", tc.name, w, got)
				}
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, in := range []string{`{}`, `{"format":"greenmint-proof-bundle","version":2}`, `{"format":"x","version":1}`, `not json`, `{"format":"greenmint-proof-bundle","version":1,"extra":1}`} {
		if _, err := bundle.Decode([]byte(in)); greenmint.ErrorCode(err) != greenmint.EINVALID {
			t.Errorf("Decode(%s) = %v, want invalid", in, err)
		}
	}
}

// JSON path helpers.

func step(t *testing.T, cur any, k string) any {
	t.Helper()
	switch c := cur.(type) {
	case map[string]any:
		v, ok := c[k]
		if !ok {
			t.Fatalf("no key %q", k)
		}
		return v
	case []any:
		i, err := strconv.Atoi(k)
		if err != nil || i >= len(c) {
			t.Fatalf("no index %q", k)
		}
		return c[i]
	}
	t.Fatalf("cannot step into %T with %q", cur, k)
	return nil
}

func get(t *testing.T, doc map[string]any, path string) any {
	t.Helper()
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		cur = step(t, cur, k)
	}
	return cur
}

func put(t *testing.T, doc map[string]any, path string, v any) {
	t.Helper()
	keys := strings.Split(path, ".")
	var parent any = doc
	if len(keys) > 1 {
		parent = get(t, doc, strings.Join(keys[:len(keys)-1], "."))
	}
	switch c := parent.(type) {
	case map[string]any:
		c[keys[len(keys)-1]] = v
	case []any:
		i, _ := strconv.Atoi(keys[len(keys)-1])
		c[i] = v
	}
}

func add(d int64) func(any) any {
	return func(v any) any {
		n, err := v.(json.Number).Int64()
		if err != nil {
			panic(err)
		}
		return json.Number(strconv.FormatInt(n+d, 10))
	}
}

func set(x any) func(any) any { return func(any) any { return x } }

func flipBase64(at int) func(any) any {
	return func(v any) any {
		raw, err := base64.StdEncoding.DecodeString(v.(string))
		if err != nil {
			panic(err)
		}
		raw[at%len(raw)] ^= 0x01
		return base64.StdEncoding.EncodeToString(raw)
	}
}

// editBlock decodes block n of the document, edits it and stores its
// canonical bytes with the data hash recomputed.
func editBlock(t *testing.T, doc map[string]any, n uint64, edit func(*embedded.Block)) {
	t.Helper()
	for _, rb := range get(t, doc, "ledger.blocks").([]any) {
		m := rb.(map[string]any)
		if m["number"].(json.Number).String() != strconv.FormatUint(n, 10) {
			continue
		}
		raw, _ := base64.StdEncoding.DecodeString(m["bytes"].(string))
		var blk embedded.Block
		if err := json.Unmarshal(raw, &blk); err != nil {
			t.Fatal(err)
		}
		edit(&blk)
		data, _ := greenmint.Canonical(blk.Data)
		blk.Header.DataHash = greenmint.SHA256Hex(data)
		out, _ := greenmint.Canonical(blk)
		m["bytes"] = base64.StdEncoding.EncodeToString(out)
		return
	}
	t.Fatalf("block %d not in the bundle", n)
}

// rehash makes the headers from block n on, the head and every block of the
// bundle at or after n agree with block n's new data hash.
func rehash(t *testing.T, doc map[string]any, n uint64) {
	t.Helper()
	blocks := map[uint64]map[string]any{}
	for _, rb := range get(t, doc, "ledger.blocks").([]any) {
		m := rb.(map[string]any)
		k, _ := strconv.ParseUint(m["number"].(json.Number).String(), 10, 64)
		blocks[k] = m
	}
	decodeBlock := func(m map[string]any) embedded.Block {
		raw, _ := base64.StdEncoding.DecodeString(m["bytes"].(string))
		var blk embedded.Block
		if err := json.Unmarshal(raw, &blk); err != nil {
			t.Fatal(err)
		}
		return blk
	}
	headers := get(t, doc, "ledger.headers").([]any)
	prev := ""
	for i := uint64(0); i < uint64(len(headers)); i++ {
		h := headers[i].(map[string]any)
		if i >= n {
			if i > n {
				h["previous_hash"] = prev
			}
			if m, ok := blocks[i]; ok {
				blk := decodeBlock(m)
				if i > n {
					blk.Header.PreviousHash = prev
				}
				h["data_hash"] = blk.Header.DataHash
				out, _ := greenmint.Canonical(blk)
				m["bytes"] = base64.StdEncoding.EncodeToString(out)
			}
		}
		var hdr embedded.BlockHeader
		hdr.Number = i
		hdr.PreviousHash, _ = h["previous_hash"].(string)
		hdr.DataHash, _ = h["data_hash"].(string)
		raw, _ := greenmint.Canonical(hdr)
		sum := sha256.Sum256(raw)
		prev = hex.EncodeToString(sum[:])
	}
	put(t, doc, "ledger.head.hash", prev)
}

// FuzzVerify: whatever bytes a bundle file holds, Decode and Verify never
// panic, and the bundle built from the ledger verifies.
func FuzzVerify(f *testing.F) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(f)
	sa, err := n.Attest(n.Site, greenmint.EAC, greenminttest.Period{Start: greenminttest.DemoWeek.Start.Add(10 * 3600e9), Hours: 3}, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		f.Fatal(err)
	}
	res, err := n.Mint(ctx, sa)
	if err != nil {
		f.Fatal(err)
	}
	b, err := bundle.BuildBatch(ctx, n.Ledger, nil, n.Auditor, res.BatchID, bundle.Options{})
	if err != nil {
		f.Fatal(err)
	}
	raw, err := bundle.Marshal(b)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"format":"greenmint-proof-bundle","version":1,"subject":{"kind":"batch","id":"X"},"created_at":"","ledger":{"type":"fabric","channel":"c","chaincode":"cc","blocks":[{"number":0,"bytes":"CgA="}]},"batches":[{"id":"X","history":[],"attestation":{"tx_id":"","block":0,"tx":0,"value":null},"policy":{"tx_id":"","block":0,"tx":0,"value":{}},"oracles":[],"dataset":{"tx_id":"","block":0,"tx":0,"value":null},"site":{"tx_id":"","block":0,"tx":0,"value":null},"meters":[]}]}`))
	f.Add([]byte(`{"format":"greenmint-proof-bundle","version":1,"subject":{"kind":"statement","id":"R"},"created_at":"","ledger":{"type":"embedded","channel":"c","chaincode":"cc","headers":[],"blocks":[{"number":0,"bytes":"e30="}]},"statement":{"tx_id":"","block":0,"tx":0,"value":{"parts":[{"batch_id":"X"}]}},"batches":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		bd, err := bundle.Decode(data)
		if err != nil {
			return
		}
		rep := bundle.Verify(bd, bundle.VerifyOptions{})
		if bytes.Equal(data, raw) && !rep.OK() {
			t.Fatalf("the built bundle does not verify:\n%s", failures(rep))
		}
	})
}
