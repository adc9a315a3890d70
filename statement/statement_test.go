package statement

import (
	"bytes"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"sync"
	"testing"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
)

// want is the Document the fixture's retirement must give, put together
// field by field from the ledger's objects, the fixture's request and the
// grid-state pattern it attested, without the package's code.
func (fx *fixture) want(tb testing.TB) *Document {
	tb.Helper()
	st := fx.in.Statement
	d := &Document{
		Version: 1, ID: st.ID, RetiredBy: consortium.BuyerMSP, Beneficiary: beneficiary, Jurisdiction: "DE-BE",
		Purpose: "scope2-market-based", ReportingYear: 2023, Reason: reason, RetiredAt: st.RetiredAt,
		TxID: fx.retire.TxID, Block: fx.retire.BlockNumber, VerifyURL: verifyURL + st.ID,
	}
	if st.TxID != fx.retire.TxID || len(st.Parts) != len(fx.asked) {
		tb.Fatalf("the ledger's statement %+v is not the retirement %s of %+v", st, fx.retire.TxID, fx.asked)
	}
	sums := map[greenmint.Instrument]int64{}
	for i, p := range st.Parts {
		b := fx.in.Batches[i].Batch
		per := fx.periods[i]
		var surplus int64
		for h := 0; h < per.Hours; h++ {
			if !gap(h) && gridState(h) == greenmint.GridSurplus {
				surplus++
			}
		}
		share := new(big.Rat).SetFrac64(100*surplus, int64(per.Hours)).FloatString(2) // halves away from zero
		unit := map[greenmint.Instrument]string{greenmint.EAC: "Wh", greenmint.CO2E: "gCO2e"}[b.Instrument]
		if p.BatchID != fx.asked[i].BatchID || p.Quantity != fx.asked[i].Quantity || b.ID != p.BatchID {
			tb.Fatalf("part %d on the ledger is %+v, asked %+v", i, p, fx.asked[i])
		}
		d.Parts = append(d.Parts, Part{
			BatchID: b.ID, Instrument: b.Instrument, Quantity: fx.asked[i].Quantity, Unit: unit,
			SiteID: "SITE0042", SiteName: "Almería mining site SITE0042", Country: "ES", GridRegion: "ES",
			Technologies: []string{"solar_pv_utility", "wind_onshore"},
			PeriodStart:  greenmint.FormatTime(per.Start), PeriodEnd: greenmint.FormatTime(per.End()),
			PeriodHours: int64(per.Hours), SurplusHours: surplus, SurplusShare: share,
			AttestationID: b.AttestationID, MintTxID: b.MintTxID,
		})
		sums[b.Instrument] += fx.asked[i].Quantity
	}
	for _, inst := range []greenmint.Instrument{greenmint.CO2E, greenmint.EAC} { // sorted
		if q, ok := sums[inst]; ok {
			d.Totals = append(d.Totals, Total{Instrument: inst, Quantity: q, Unit: map[greenmint.Instrument]string{greenmint.EAC: "Wh", greenmint.CO2E: "gCO2e"}[inst]})
		}
	}
	return d
}

// wantLines is what a reader of the PDF must find, in this order, on the
// statement's pages: label | value for every figure of d.
func wantLines(d *Document) []string {
	qty := func(inst greenmint.Instrument, q int64) string {
		if inst == greenmint.CO2E {
			return fmt.Sprintf("%s (%d gCO2e)", greenmint.FormatTonnes(q), q)
		}
		return fmt.Sprintf("%s (%d Wh)", greenmint.FormatMWh(q), q)
	}
	lines := []string{
		"GREENMINT REGISTRY",
		"Retirement statement",
		d.ID,
		"Verify this statement at",
		d.VerifyURL,
		"Retirement",
		"Beneficiary | " + d.Beneficiary,
		"Jurisdiction | " + d.Jurisdiction,
		"Purpose | GHG Protocol Scope 2, market-based (scope2-market-based)",
		fmt.Sprintf("Reporting year | %d", d.ReportingYear),
		"Reason | " + d.Reason,
		"Retired by | " + d.RetiredBy,
		"Retired at | " + d.RetiredAt,
		"Ledger transaction | " + d.TxID,
		fmt.Sprintf("Block | %d", d.Block),
		"Certificates retired",
	}
	for _, t := range d.Totals {
		lines = append(lines, fmt.Sprintf("Total %s | %s", t.Instrument, qty(t.Instrument, t.Quantity)))
	}
	lines = append(lines, fmt.Sprintf("Batches | %d", len(d.Parts)))
	for i, p := range d.Parts {
		inst := map[greenmint.Instrument]string{
			greenmint.EAC:  "EAC, energy attribute certificate (1 unit = 1 Wh)",
			greenmint.CO2E: "CO2E, avoided-emission certificate (1 unit = 1 gCO2e)",
		}[p.Instrument]
		lines = append(lines,
			fmt.Sprintf("Part %d of %d", i+1, len(d.Parts)),
			"Batch | "+p.BatchID,
			"Instrument | "+inst,
			"Quantity retired | "+qty(p.Instrument, p.Quantity),
			fmt.Sprintf("Site | %s (%s)", p.SiteName, p.SiteID),
			"Country | "+p.Country,
			"Grid region | "+p.GridRegion,
			"Technology | "+strings.Join(p.Technologies, ", "),
			fmt.Sprintf("Hourly period | %s to %s (%d hours)", p.PeriodStart, p.PeriodEnd, p.PeriodHours),
			fmt.Sprintf("Grid surplus hours | %s %% of the period's hours (%d of %d)", p.SurplusShare, p.SurplusHours, p.PeriodHours),
			"Attestation | "+p.AttestationID,
			"Minted in transaction | "+p.MintTxID,
		)
	}
	return lines
}

// checkPDF reads a statement's PDF back and checks that it shows every
// figure of d in order, a footer on every page naming the statement, its
// transaction, block and page, and a QR code of d.VerifyURL.
func checkPDF(t *testing.T, data []byte, d *Document) {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		t.Fatalf("PDF starts with %q", data[:min(len(data), 8)])
	}
	pages := pdfPages(t, data)
	var body []string
	for i, page := range pages {
		n := len(page)
		if n < 2 {
			t.Fatalf("page %d has %d lines", i+1, n)
		}
		if want := fmt.Sprintf("%s · transaction %s · block %d", d.ID, d.TxID, d.Block); page[n-2] != want {
			t.Errorf("page %d footer = %q, want %q", i+1, page[n-2], want)
		}
		if want := fmt.Sprintf("Page %d of %d", i+1, len(pages)); page[n-1] != want {
			t.Errorf("page %d footer = %q, want %q", i+1, page[n-1], want)
		}
		body = append(body, page[:n-2]...)
	}
	at := 0
	for _, w := range wantLines(d) {
		found := false
		for ; at < len(body); at++ {
			if body[at] == w {
				found, at = true, at+1
				break
			}
		}
		if !found {
			t.Fatalf("the PDF has no line %q after the ones before it; its lines:\n%s", w, strings.Join(body, "\n"))
		}
	}
	codes := pdfQRCodes(t, data)
	if len(codes) != 1 || codes[0] != d.VerifyURL {
		t.Errorf("QR codes in the PDF = %q, want [%q]", codes, d.VerifyURL)
	}
}

// TestStatementFromLedger makes the statement of a bulk retirement of an
// EAC and a CO2E batch minted, transferred and retired on a real embedded
// ledger, and checks the Document, the PDF read back (text and QR code) and
// the JWS verified against every figure, as the ledger and the fixture's
// attestations give them.
func TestStatementFromLedger(t *testing.T) {
	fx := newFixture(t, 7*24, greenmint.EAC, greenmint.CO2E)
	want := fx.want(t)

	d, err := Build(fx.in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("Build = %+v\nwant    %+v", d, want)
	}
	for _, p := range d.Parts {
		if p.SurplusHours == 0 || p.SurplusShare == "0.00" {
			t.Fatalf("part %s has no surplus hours: the fixture's pattern did not reach the ledger", p.BatchID)
		}
	}

	t.Run("PDF", func(t *testing.T) {
		data, err := PDF(fx.in)
		if err != nil {
			t.Fatal(err)
		}
		checkPDF(t, data, want)
		again, err := PDF(fx.in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, again) {
			t.Error("the same statement gave two different PDFs")
		}
	})

	t.Run("JWS", func(t *testing.T) {
		k := newKey(t, "statement-2026-1")
		jws, err := Signed(fx.in, k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Verify(jws, jwksOf(t, k))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Verify(Signed) = %+v\nwant %+v", got, want)
		}
	})
}

// TestBuildRefusesMismatchedInput: every piece of the input must belong to
// the statement and to each other.
func TestBuildRefusesMismatchedInput(t *testing.T) {
	fx := newFixture(t, 24, greenmint.EAC, greenmint.CO2E)
	cases := []struct {
		name   string
		change func(in *Input)
	}{
		{"no parts", func(in *Input) { in.Statement.Parts = nil }},
		{"no transaction", func(in *Input) { in.Statement.TxID = "" }},
		{"relative URL", func(in *Input) { in.VerifyURL = "/v1/public/retirements/" + in.Statement.ID }},
		{"other scheme", func(in *Input) { in.VerifyURL = "ftp://registry.example/x" }},
		{"missing batch", func(in *Input) { in.Batches = in.Batches[:1] }},
		{"batch twice", func(in *Input) { in.Batches[1] = in.Batches[0] }},
		{"batch of no part", func(in *Input) {
			in.Batches[0].Batch.ID += "-9"
			in.Batches[0].Attestation.BatchID = in.Batches[0].Batch.ID
		}},
		{"attestation of another batch", func(in *Input) { in.Batches[0].Attestation = in.Batches[1].Attestation }},
		{"attestation record of another batch", func(in *Input) { in.Batches[0].Attestation.BatchID = in.Batches[1].Batch.ID }},
		{"other site", func(in *Input) { in.Batches[0].Site.ID = "SITE0043" }},
		{"other country", func(in *Input) { in.Batches[0].Site.Country = "PT" }},
		{"other period", func(in *Input) { in.Batches[0].Batch.PeriodEnd = in.Batches[1].Batch.PeriodEnd }},
		{"other instrument", func(in *Input) { in.Statement.Parts[0].Instrument = greenmint.CO2E }},
		{"unknown instrument", func(in *Input) { in.Statement.Parts[0].Instrument = "REC" }},
		{"zero quantity", func(in *Input) { in.Statement.Parts[0].Quantity = 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := cloneInput(t, fx.in)
			tc.change(&in)
			if _, err := Build(in); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Errorf("Build = %v, want invalid", err)
			}
			if _, err := PDF(in); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Errorf("PDF = %v, want invalid", err)
			}
			if _, err := Signed(in, newKey(t, "k")); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Errorf("Signed = %v, want invalid", err)
			}
		})
	}
	if _, err := Build(cloneInput(t, fx.in)); err != nil {
		t.Fatalf("Build of the unchanged input = %v", err)
	}
}

// cloneInput deep-copies an input through its JSON.
func cloneInput(tb testing.TB, in Input) Input {
	tb.Helper()
	b, err := greenmint.Canonical(in)
	if err != nil {
		tb.Fatal(err)
	}
	var out Input
	if err := greenmint.DecodeStrict(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestPercent holds the surplus share's arithmetic: hundredths of a percent,
// halves rounded up, integers only.
func TestPercent(t *testing.T) {
	cases := []struct {
		num, den int64
		want     string
	}{
		{0, 168, "0.00"},
		{168, 168, "100.00"},
		{1, 3, "33.33"},
		{2, 3, "66.67"},
		{1, 8, "12.50"},
		{1, 800, "0.13"},  // 0.125 rounds up
		{1, 1600, "0.06"}, // 0.0625 rounds down
		{1, 744, "0.13"},
		{743, 744, "99.87"},
		{40, 168, "23.81"},
		{1, 0, ""},
		{2, 1, ""},
		{-1, 5, ""},
	}
	for _, tc := range cases {
		if got := percent(tc.num, tc.den); got != tc.want {
			t.Errorf("percent(%d, %d) = %q, want %q", tc.num, tc.den, got, tc.want)
		}
	}
}

// TestTechnologiesAndSurplus: only allocations that matched energy name a
// technology; only attested hours in surplus count.
func TestTechnologiesAndSurplus(t *testing.T) {
	hours := []greenmint.AttestedHour{
		{GridState: greenmint.GridSurplus, Allocations: []greenmint.Allocation{{Technology: "wind_onshore", MatchedWh: 5}, {Technology: "solar_pv_utility", MatchedWh: 0}}},
		{GridState: greenmint.GridNormal, Allocations: []greenmint.Allocation{{Technology: "hydro", MatchedWh: 1}}},
		{GridState: greenmint.GridUnknown, Allocations: []greenmint.Allocation{{Technology: "wind_onshore", MatchedWh: 3}}},
		{GridState: greenmint.GridSurplus},
	}
	if got, want := technologies(hours), []string{"hydro", "wind_onshore"}; !reflect.DeepEqual(got, want) {
		t.Errorf("technologies = %q, want %q", got, want)
	}
	if got := surplusHours(hours); got != 2 {
		t.Errorf("surplusHours = %d, want 2", got)
	}
	if got := technologies(nil); got == nil || len(got) != 0 {
		t.Errorf("technologies(nil) = %#v, want an empty list", got)
	}
}

// TestPDFManyParts lays a long bulk retirement over several pages: every
// part is read back in order, a long reason wraps and reads back whole, each
// page has its footer, and the QR code is there once.
func TestPDFManyParts(t *testing.T) {
	fx := newFixture(t, 24, greenmint.EAC)
	in := cloneInput(t, fx.in)
	base := in.Batches[0]
	in.Statement.Parts, in.Batches = nil, nil
	for i := 0; i < 9; i++ {
		b := cloneInput(t, Input{Batches: []Batch{base}}).Batches[0]
		b.Batch.ID = fmt.Sprintf("%s-%02d", base.Batch.ID, i)
		b.Attestation.BatchID = b.Batch.ID
		in.Batches = append(in.Batches, b)
		in.Statement.Parts = append(in.Statement.Parts, greenmint.RetirementPart{BatchID: b.Batch.ID, Instrument: greenmint.EAC, Quantity: int64(1_000_001 * (i + 1))})
	}
	in.Statement.Beneficiary = "Acme 中文 Ltd"
	in.Statement.Reason = strings.Repeat("A reason long enough to wrap over several lines of the value column. ", 6) + "End."
	data, err := PDF(in)
	if err != nil {
		t.Fatal(err)
	}
	pages := pdfPages(t, data)
	if len(pages) < 3 {
		t.Fatalf("9 parts on %d pages", len(pages))
	}
	var body []string
	for i, p := range pages {
		if want := fmt.Sprintf("Page %d of %d", i+1, len(pages)); p[len(p)-1] != want {
			t.Errorf("page %d ends with %q, want %q", i+1, p[len(p)-1], want)
		}
		body = append(body, p[:len(p)-2]...)
	}
	want := []string{"Beneficiary | Acme ?? Ltd"}
	for i, p := range in.Statement.Parts {
		want = append(want, fmt.Sprintf("Part %d of 9", i+1), "Batch | "+p.BatchID,
			fmt.Sprintf("Quantity retired | %s (%d Wh)", greenmint.FormatMWh(p.Quantity), p.Quantity))
	}
	at := 0
	for _, w := range want {
		for ; at < len(body) && body[at] != w; at++ {
		}
		if at == len(body) {
			t.Fatalf("no line %q in order; lines:\n%s", w, strings.Join(body, "\n"))
		}
	}
	// The reason: its first line beside the label, the others alone below.
	var reasonLines []string
	for i, l := range body {
		if r, ok := strings.CutPrefix(l, "Reason | "); ok {
			reasonLines = append(reasonLines, r)
			for _, next := range body[i+1:] {
				if strings.Contains(next, " | ") {
					break
				}
				reasonLines = append(reasonLines, next)
			}
			break
		}
	}
	if got := strings.Join(reasonLines, " "); len(reasonLines) < 3 || got != in.Statement.Reason {
		t.Errorf("reason read back in %d lines: %q, want %q", len(reasonLines), got, in.Statement.Reason)
	}
	if codes := pdfQRCodes(t, data); len(codes) != 1 || codes[0] != in.VerifyURL {
		t.Errorf("QR codes = %q, want [%q]", codes, in.VerifyURL)
	}
}

// TestPrintableText: what the Go fonts cannot draw is shown as "?", control
// characters as spaces; line breaks stay.
func TestPrintableText(t *testing.T) {
	font, err := glyphs()
	if err != nil {
		t.Fatal(err)
	}
	r := &renderer{font: font}
	cases := []struct{ in, want string }{
		{"Müller & Søn Energía", "Müller & Søn Energía"},
		{"Ωmega Привет Łódź", "Ωmega Привет Łódź"},
		{"Acme 中文 Ltd", "Acme ?? Ltd"},
		{"a\tb\x01c\x7f", "a b c "},
		{"bad \xff byte", "bad ? byte"},
		{"two\nlines", "two\nlines"},
	}
	for _, tc := range cases {
		if got := r.text(tc.in); got != tc.want {
			t.Errorf("text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestPDFFontsIntact: fpdf writes into the font bytes it subsets, so PDF
// hands it copies; the shared Go fonts stay as they were, and renderings
// made at the same time give the same bytes.
func TestPDFFontsIntact(t *testing.T) {
	fonts := map[string][]byte{"goregular": goregular.TTF, "gobold": gobold.TTF, "gomono": gomono.TTF}
	before := map[string][]byte{}
	for name, b := range fonts {
		before[name] = bytes.Clone(b)
	}
	d := &Document{
		Version: 1, ID: "RET-1", RetiredBy: "BuyerMSP", Beneficiary: "Müller", Jurisdiction: "DE", Purpose: greenmint.PurposeScope2, ReportingYear: 2024, Reason: "r",
		RetiredAt: "2024-01-01T00:00:00Z", TxID: strings.Repeat("ab", 32), Block: 3, VerifyURL: "https://registry.example/v1/public/retirements/RET-1",
		Parts: []Part{{BatchID: "EAC-ES-S-20240101-0001", Instrument: greenmint.EAC, Quantity: 5, Unit: UnitWh, Technologies: []string{"hydro"},
			SiteID: "S", SiteName: "Site", Country: "ES", GridRegion: "ES", AttestationID: "att", MintTxID: "mint",
			PeriodStart: "2024-01-01T00:00:00Z", PeriodEnd: "2024-01-02T00:00:00Z", PeriodHours: 24, SurplusHours: 1, SurplusShare: "4.17"}},
		Totals: []Total{{Instrument: greenmint.EAC, Quantity: 5, Unit: UnitWh}},
	}
	out := make([][]byte, 4)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if out[i], err = renderPDF(d); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i := range out {
		if !bytes.Equal(out[i], out[0]) {
			t.Errorf("rendering %d differs from rendering 0", i)
		}
	}
	for name, b := range fonts {
		if !bytes.Equal(b, before[name]) {
			t.Errorf("rendering changed the bytes of %s", name)
		}
	}
	checkPDF(t, out[0], d)
}
