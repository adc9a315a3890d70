package api_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/statement"
)

// TestStatementDownloads: anyone downloads a retirement statement as a PDF
// and as JSON signed with a key of /.well-known/jwks.json, and the signed
// figures are the ledger's.
func TestStatementDownloads(t *testing.T) {
	e := newGatewayEnv(t, greenminttest.StoreDBs(t)["sqlite"], envOptions{})
	sa, err := e.net.Attest(e.net.Site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.net.Mint(t.Context(), sa)
	if err != nil {
		t.Fatal(err)
	}
	var st api.Written[greenmint.RetirementStatement]
	e.call("POST", "/v1/retirements", e.as("miner"), map[string]any{"parts": []map[string]any{{"batch_id": res.BatchID, "quantity": 123456}},
		"beneficiary": "Acme Offsets GmbH", "jurisdiction": "DE-BE", "purpose": "voluntary-offset", "reporting_year": 2023, "reason": "office"}, 200, &st)
	e.waitVisible(st.TxID)
	pdf := e.call("GET", "/v1/public/retirements/"+st.Result.ID+"/statement.pdf", "", nil, 200, nil)
	if pdf.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf.Body, []byte("%PDF-")) {
		t.Fatalf("the statement PDF: %s, %q…", pdf.Header.Get("Content-Type"), pdf.Body[:min(16, len(pdf.Body))])
	}
	jws := e.call("GET", "/v1/public/retirements/"+st.Result.ID+"/statement.jws", "", nil, 200, nil)
	jwks := e.call("GET", "/.well-known/jwks.json", "", nil, 200, nil)
	doc, err := statement.Verify(bytes.TrimSpace(jws.Body), jwks.Body)
	if err != nil {
		t.Fatalf("the signed statement does not verify with the published keys: %v", err)
	}
	if doc.ID != st.Result.ID || doc.TxID != st.TxID || doc.Block != st.Block || len(doc.Parts) != 1 || doc.Parts[0].Quantity != 123456 ||
		!strings.HasSuffix(doc.VerifyURL, "/v1/public/retirements/"+st.Result.ID) {
		t.Fatalf("signed statement %+v", doc)
	}
	tampered := bytes.Replace(jws.Body, []byte("."), []byte(".e"), 1)
	if _, err := statement.Verify(tampered, jwks.Body); err == nil {
		t.Fatal("a tampered statement verified")
	}
	e.problem(e.do("GET", "/v1/public/retirements/RET-nothing/statement.pdf", "", nil), 404, greenmint.ENOTFOUND)
}
