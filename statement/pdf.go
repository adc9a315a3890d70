package statement

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
	"github.com/yeqown/go-qrcode/v2"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"

	"github.com/greenmint/greenmint"
)

// PDF builds the statement's Document from in (see Build) and renders it as
// an A4 PDF: the retirement's details, every part with its batch's figures,
// the ledger transaction and block, and a QR code of in.VerifyURL. The same
// input gives the same bytes.
func PDF(in Input) ([]byte, error) {
	d, err := Build(in)
	if err != nil {
		return nil, err
	}
	return renderPDF(d)
}

// Layout, in millimetres on A4 portrait.
const (
	pageW, pageH = 210.0, 297.0
	margin       = 18.0
	bottom       = 20.0 // the footer sits in the bottom margin
	labelW       = 46.0
	valueW       = pageW - 2*margin - labelW
	lineH        = 5.2
	qrSize       = 38.0
	qrModulePx   = 8 // pixels per QR module in the embedded image
	qrQuiet      = 4 // the quiet zone, in modules
)

// Font families registered with fpdf: the Go fonts (BSD licence), which
// cover Latin, Greek and Cyrillic (WGL4).
const (
	sans = "gosans"
	mono = "gomono"
)

var purposeNames = map[string]string{
	greenmint.PurposeScope2:     "GHG Protocol Scope 2, market-based",
	greenmint.PurposeVoluntary:  "Voluntary offset",
	greenmint.PurposeCompliance: "Compliance",
	greenmint.PurposeOther:      "Other",
}

var instrumentNames = map[greenmint.Instrument]string{
	greenmint.EAC:  "EAC, energy attribute certificate (1 unit = 1 Wh)",
	greenmint.CO2E: "CO2E, avoided-emission certificate (1 unit = 1 gCO2e)",
}

// glyphs tells which runes the Go fonts draw; the others are shown as "?"
// in the PDF (the signed JSON keeps the exact text).
var glyphs = sync.OnceValues(func() (*sfnt.Font, error) { return sfnt.Parse(goregular.TTF) })

type renderer struct {
	f     *fpdf.Fpdf
	font  *sfnt.Font
	sbuf  sfnt.Buffer
	doc   *Document
	parts int
}

func renderPDF(d *Document) ([]byte, error) {
	const op = "statement.PDF"
	font, err := glyphs()
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, op, err, "cannot read the font")
	}
	qr, err := qrPNG(d.VerifyURL)
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, op, err, "cannot make the QR code")
	}
	f := fpdf.New("P", "mm", "A4", "")
	r := &renderer{f: f, font: font, doc: d, parts: len(d.Parts)}
	f.SetCatalogSort(true) // the same document gives the same bytes
	if t, err := greenmint.ParseTime(d.RetiredAt); err == nil {
		f.SetCreationDate(t)
		f.SetModificationDate(t)
	}
	f.SetTitle(r.text("Retirement statement "+d.ID), true)
	f.SetSubject(r.text("Retirement of certificates for "+d.Beneficiary), true)
	f.SetCreator("Greenmint", true)
	f.SetLang("en")
	// fpdf writes into the font bytes it is given while it subsets them
	// (fpdf v0.12.0, utf8FontFile.getMetrics appends to a slice of the
	// file): each rendering gets its own copies, so that the shared fonts
	// stay intact, renderings are the same and may run concurrently.
	f.AddUTF8FontFromBytes(sans, "", bytes.Clone(goregular.TTF))
	f.AddUTF8FontFromBytes(sans, "B", bytes.Clone(gobold.TTF))
	f.AddUTF8FontFromBytes(mono, "", bytes.Clone(gomono.TTF))
	f.SetMargins(margin, margin, margin)
	f.SetAutoPageBreak(true, bottom)
	f.AliasNbPages("{nb}")
	f.SetFooterFunc(r.footer)
	f.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(qr))
	f.AddPage()
	r.header()
	r.section("Retirement")
	r.row("Beneficiary", d.Beneficiary, false)
	r.row("Jurisdiction", d.Jurisdiction, false)
	r.row("Purpose", purposeLabel(d.Purpose), false)
	r.row("Reporting year", strconv.FormatInt(d.ReportingYear, 10), false)
	r.row("Reason", d.Reason, false)
	r.row("Retired by", d.RetiredBy, false)
	r.row("Retired at", d.RetiredAt, false)
	r.row("Ledger transaction", d.TxID, true)
	r.row("Block", strconv.FormatUint(d.Block, 10), false)
	r.section("Certificates retired")
	for _, t := range d.Totals {
		r.row("Total "+string(t.Instrument), quantityText(t.Instrument, t.Quantity, t.Unit), false)
	}
	r.row("Batches", strconv.Itoa(len(d.Parts)), false)
	for i, p := range d.Parts {
		r.part(i, p)
	}
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, op, err, "cannot render the PDF")
	}
	return buf.Bytes(), nil
}

func (r *renderer) header() {
	f, d := r.f, r.doc
	textW := pageW - 2*margin - qrSize - 6
	f.SetTextColor(90, 110, 90)
	f.SetFont(sans, "B", 9)
	f.CellFormat(textW, 5, "GREENMINT REGISTRY", "", 2, "L", false, 0, "")
	f.SetTextColor(0, 0, 0)
	f.SetFont(sans, "B", 20)
	f.CellFormat(textW, 11, "Retirement statement", "", 2, "L", false, 0, "")
	f.SetFont(mono, "", 11)
	f.CellFormat(textW, 7, r.text(d.ID), "", 2, "L", false, 0, "")
	f.Ln(2)
	f.SetFont(sans, "", 8.5)
	f.SetTextColor(60, 60, 60)
	for _, l := range r.split("These certificates were retired on the Greenmint ledger and can never be transferred, sold or retired again. Scan the QR code or open the address below to verify this statement.", textW) {
		f.CellFormat(textW, 4.2, l, "", 2, "L", false, 0, "")
	}
	f.SetTextColor(0, 0, 0)
	qrX := pageW - margin - qrSize
	f.ImageOptions("qr", qrX, margin, qrSize, qrSize, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, d.VerifyURL)
	f.SetFont(sans, "", 7)
	f.SetXY(qrX, margin+qrSize)
	f.CellFormat(qrSize, 4, "Scan to verify", "", 0, "C", false, 0, "")
	f.SetXY(margin, max(f.GetY(), margin+qrSize+5))
	f.SetFont(sans, "B", 8.5)
	f.CellFormat(0, lineH, "Verify this statement at", "", 1, "L", false, 0, "")
	f.SetFont(mono, "", 8)
	f.SetTextColor(20, 70, 150)
	for _, l := range r.split(d.VerifyURL, pageW-2*margin) {
		f.CellFormat(0, 4.4, l, "", 1, "L", false, 0, d.VerifyURL)
	}
	f.SetTextColor(0, 0, 0)
	f.Ln(2)
}

func (r *renderer) section(title string) {
	f := r.f
	if f.GetY()+3*lineH > pageH-bottom {
		f.AddPage()
	}
	f.Ln(3)
	f.SetFont(sans, "B", 12.5)
	f.CellFormat(0, 7, title, "", 1, "L", false, 0, "")
	f.SetDrawColor(120, 160, 120)
	f.SetLineWidth(0.3)
	f.Line(margin, f.GetY(), pageW-margin, f.GetY())
	f.Ln(1.5)
}

// part renders one part as a block, kept on one page when it fits.
func (r *renderer) part(i int, p Part) {
	f := r.f
	rows := [][3]string{
		{"Batch", p.BatchID, "mono"},
		{"Instrument", instrumentNames[p.Instrument], ""},
		{"Quantity retired", quantityText(p.Instrument, p.Quantity, p.Unit), ""},
		{"Site", p.SiteName + " (" + p.SiteID + ")", ""},
		{"Country", p.Country, ""},
		{"Grid region", p.GridRegion, ""},
		{"Technology", strings.Join(p.Technologies, ", "), ""},
		{"Hourly period", fmt.Sprintf("%s to %s (%d hours)", p.PeriodStart, p.PeriodEnd, p.PeriodHours), ""},
		{"Grid surplus hours", fmt.Sprintf("%s %% of the period's hours (%d of %d)", p.SurplusShare, p.SurplusHours, p.PeriodHours), ""},
		{"Attestation", p.AttestationID, "mono"},
		{"Minted in transaction", p.MintTxID, "mono"},
	}
	if p.ReplacedBy != "" {
		rows = append(rows, [3]string{"Replaced by", p.ReplacedBy + " (withdrawn after a correction; the retirement carries over)", ""})
	}
	h := 9.0
	for _, row := range rows {
		r.setValueFont(row[2] == "mono")
		h += float64(len(r.split(row[1], valueW))) * lineH
	}
	if f.GetY()+h > pageH-bottom && h < pageH-bottom-margin {
		f.AddPage()
	}
	f.Ln(2.5)
	f.SetFont(sans, "B", 10.5)
	f.CellFormat(0, 6.5, r.text(fmt.Sprintf("Part %d of %d", i+1, r.parts)), "", 1, "L", false, 0, "")
	for _, row := range rows {
		r.row(row[0], row[1], row[2] == "mono")
	}
}

// row writes a label and its value, the value wrapped in its column; a row
// that does not fit on the page starts the next one.
func (r *renderer) row(label, value string, monospace bool) {
	f := r.f
	r.setValueFont(monospace)
	lines := r.split(value, valueW)
	if f.GetY()+float64(len(lines))*lineH > pageH-bottom {
		f.AddPage()
	}
	y := f.GetY()
	f.SetFont(sans, "B", 9)
	f.SetTextColor(70, 70, 70)
	f.CellFormat(labelW, lineH, label, "", 0, "L", false, 0, "")
	f.SetTextColor(0, 0, 0)
	r.setValueFont(monospace)
	for i, l := range lines {
		f.SetXY(margin+labelW, y+float64(i)*lineH)
		f.CellFormat(valueW, lineH, l, "", 1, "L", false, 0, "")
	}
}

func (r *renderer) setValueFont(monospace bool) {
	if monospace {
		r.f.SetFont(mono, "", 8.5)
	} else {
		r.f.SetFont(sans, "", 9.5)
	}
}

// split makes text printable and wraps it to width w in the current font,
// keeping its line breaks; an empty text is one empty line.
func (r *renderer) split(text string, w float64) []string {
	var out []string
	for _, para := range strings.Split(r.text(text), "\n") {
		lines := r.f.SplitText(para, w)
		if len(lines) == 0 {
			lines = []string{""}
		}
		out = append(out, lines...)
	}
	return out
}

func (r *renderer) footer() {
	f, d := r.f, r.doc
	f.SetY(-14)
	f.SetFont(sans, "", 7.5)
	f.SetTextColor(100, 100, 100)
	f.CellFormat(0, 4, r.text(fmt.Sprintf("%s · transaction %s · block %d", d.ID, d.TxID, d.Block)), "", 2, "L", false, 0, "")
	f.CellFormat(0, 4, fmt.Sprintf("Page %d of {nb}", f.PageNo()), "", 0, "R", false, 0, "")
	f.SetTextColor(0, 0, 0)
}

// text makes s printable with the Go fonts: invalid UTF-8 and runes the
// fonts lack become "?", control characters other than newlines become
// spaces.
func (r *renderer) text(s string) string {
	var b strings.Builder
	for i, c := range s {
		switch {
		case c == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteByte('?')
		case c == '\n':
			b.WriteRune(c)
		case unicode.IsControl(c):
			b.WriteByte(' ')
		case !r.hasGlyph(c):
			b.WriteByte('?')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func (r *renderer) hasGlyph(c rune) bool {
	if c < 0x7f {
		return true
	}
	g, err := r.font.GlyphIndex(&r.sbuf, c)
	return err == nil && g != 0
}

func purposeLabel(p string) string {
	if n, ok := purposeNames[p]; ok {
		return n + " (" + p + ")"
	}
	return p
}

// quantityText is "0.500000 MWh (500000 Wh)": the quantity as a person reads
// it, then in the instrument's units.
func quantityText(inst greenmint.Instrument, q int64, unit string) string {
	return fmt.Sprintf("%s (%d %s)", formatQuantity(inst, q), q, unit)
}

// formatQuantity renders a quantity as a person reads it: EAC in MWh, CO2E
// in tCO2e, six decimals, exactly.
func formatQuantity(inst greenmint.Instrument, q int64) string {
	if inst == greenmint.CO2E {
		return greenmint.FormatTonnes(q)
	}
	return greenmint.FormatMWh(q)
}

// qrPNG draws the QR code of text (byte mode, error correction M) as a
// grey-scale PNG with a quiet zone of four modules.
func qrPNG(text string) ([]byte, error) {
	qr, err := qrcode.NewWith(text, qrcode.WithEncodingMode(qrcode.EncModeByte), qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return nil, err
	}
	var m matrixWriter
	if err := qr.Save(&m); err != nil {
		return nil, err
	}
	bits := m.mat.Bitmap()
	n := len(bits) + 2*qrQuiet
	img := image.NewGray(image.Rect(0, 0, n*qrModulePx, n*qrModulePx))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range bits {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := 0; dy < qrModulePx; dy++ {
				for dx := 0; dx < qrModulePx; dx++ {
					img.SetGray((x+qrQuiet)*qrModulePx+dx, (y+qrQuiet)*qrModulePx+dy, color.Gray{})
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// matrixWriter keeps the QR code's matrix (qrcode.Writer).
type matrixWriter struct{ mat qrcode.Matrix }

func (w *matrixWriter) Write(mat qrcode.Matrix) error { w.mat = mat; return nil }
func (w *matrixWriter) Close() error                  { return nil }
