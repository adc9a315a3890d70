package chaincode_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/greenmint/greenmint"
)

// FuzzContractRequests sends arbitrary request bytes to the contract's
// transactions through the embedded ledger, as any member of the channel
// could. A request must never crash the contract or surface as an internal
// error, and whatever it does R3 must still hold.
func FuzzContractRequests(f *testing.F) {
	w := newWorld(f)
	res := w.mintWeek(f, greenmint.EAC)
	w.mustCall(f, w.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
	functions := []string{greenmint.TxTransfer, greenmint.TxMint, greenmint.TxRetire, greenmint.TxListForSale, greenmint.TxRegisterSite, greenmint.TxRegisterMeter, greenmint.TxPublishDataset, greenmint.TxReserveListing, greenmint.QueryHoldingsByOwner, greenmint.QueryClaimsBySite, greenmint.TxAmendSite, greenmint.TxAmendMeter}
	sa := w.signedWeek(f, greenmint.CO2E)
	seeds := []struct {
		fn  uint8
		req string
	}{
		{0, mustJSON(f, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Buyer.MSPID, Quantity: 1})},
		{0, `{"batch_id":"` + res.BatchID + `","to":"BuyerMSP","quantity":-1}`},
		{1, mustJSON(f, greenmint.MintRequest{Attestation: *sa})},
		{2, mustJSON(f, greenmint.RetireRequest{Parts: []greenmint.RetirePart{{BatchID: res.BatchID, Quantity: 5}}, Beneficiary: "x", Jurisdiction: "ES", Purpose: "other", ReportingYear: 2023})},
		{3, `{"batch_id":"` + res.BatchID + `","quantity":3,"price_minor":0,"currency":"EUR"}`},
		{4, `{"site_id":"SITE0001","name":"n","country":"ES","grid_region":"ES","capacity_w":1}`},
		{5, `{"meter_id":"m","site_id":"SITE0042","kind":"generation","technology":"wind_onshore","capacity_w":1,"interval_minutes":15,"public_key":"AAAA"}`},
		{7, `{"listing_id":"LST-x"}`},
		{8, `{"owner":"MinerMSP","page_size":1000000}`},
		{9, `{"site_id":"SITE0042","from":"2023-06-01T00:00:00Z","to":"2023-01-01T00:00:00Z"}`},
		{10, `{"site_id":"SITE0042","name":"n","country":"ES","grid_region":"Spain","capacity_w":1}`},
		{11, `{"meter_id":"SITE0042-PV","site_id":"SITE0042","kind":"consumption","capacity_w":1,"interval_minutes":15,"public_key":"AAAA"}`},
		{0, `[]`}, {0, `null`}, {0, ``}, {1, `{"attestation":{"attestation":{"hours":null}}}`},
	}
	for _, s := range seeds {
		f.Add(s.fn, s.req)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, fn uint8, req string) {
		name := functions[int(fn)%len(functions)]
		for _, id := range []*greenmint.Identity{w.Miner, w.OracleA} {
			_, err := w.Ledger.Submit(ctx, id, name, req)
			switch greenmint.ErrorCode(err) {
			case "", greenmint.EINVALID, greenmint.ENOTFOUND, greenmint.ECONFLICT, greenmint.EFORBIDDEN:
			default:
				t.Fatalf("%s(%q) as %s = %v", name, req, id.MSPID, err)
			}
		}
		var b greenmint.Batch
		out, err := w.Ledger.Evaluate(ctx, w.Auditor, greenmint.QueryGetBatch, mustJSON(t, greenmint.IDQuery{ID: res.BatchID}))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatal(err)
		}
		if err := greenmint.CheckBatchSupply(&b); err != nil {
			t.Fatal(err)
		}
	})
}
