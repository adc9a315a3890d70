package statement

import (
	"sort"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
)

// report prints a figure as `make bench` turns it into a BENCH line.
func report(b *testing.B, name string, v float64, unit string) {
	b.ReportMetric(v, "BENCH:"+name+":"+unit)
}

// BenchmarkStatementPDF measures how long PDF takes for the statement of a
// retirement from one 744-hour (31-day) EAC batch minted on an embedded
// ledger: the median of 15 renderings after a warm-up, checked once by
// reading the PDF back.
func BenchmarkStatementPDF(b *testing.B) {
	fx := newFixture(b, 744, greenmint.EAC)
	if n := len(fx.in.Batches[0].Attestation.Attestation.Attestation.Hours) + len(fx.in.Batches[0].Attestation.Attestation.Attestation.Gaps); n != 744 {
		b.Fatalf("the batch has %d hours", n)
	}
	data, err := PDF(fx.in) // warm-up
	if err != nil {
		b.Fatal(err)
	}
	if codes := pdfQRCodes(b, data); len(codes) != 1 || codes[0] != fx.in.VerifyURL {
		b.Fatalf("QR codes = %q", codes)
	}
	b.ResetTimer()
	var ms []float64
	for i := 0; i < b.N; i++ {
		for r := 0; r < 15; r++ {
			start := time.Now()
			if _, err := PDF(fx.in); err != nil {
				b.Fatal(err)
			}
			ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		}
	}
	b.StopTimer()
	sort.Float64s(ms)
	report(b, "statement_pdf_ms", ms[len(ms)/2], "ms")
	report(b, "statement_pdf_bytes", float64(len(data)), "bytes")
}
