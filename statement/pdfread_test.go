package statement

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ledongthuc/pdf"
	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// pdfPages reads a PDF's text back with a PDF reader that shares no code
// with the writer: for each page its lines, top to bottom, each line the
// runs of text on one baseline from left to right joined with " | ". A run
// is one piece of text drawn at one place (a cell), so "Block | 12" is a
// label and its value.
func pdfPages(tb testing.TB, data []byte) [][]string {
	tb.Helper()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatalf("reading the PDF: %v", err)
	}
	type run struct {
		x, y, end float64
		s         strings.Builder
	}
	var pages [][]string
	for i := 1; i <= r.NumPage(); i++ {
		var runs []*run
		for _, g := range r.Page(i).Content().Text {
			if n := len(runs); n > 0 {
				last := runs[n-1]
				// The reader advances x by each glyph's width where it knows
				// it and not at all where it does not (CID fonts): either way
				// the next glyph of a run starts where the last one ended.
				if math.Abs(g.Y-last.y) < 0.01 && math.Abs(g.X-last.end) < 0.5 {
					last.s.WriteString(g.S)
					last.end = g.X + g.W
					continue
				}
			}
			ru := &run{x: g.X, y: g.Y, end: g.X + g.W}
			ru.s.WriteString(g.S)
			runs = append(runs, ru)
		}
		// Lines: runs whose baselines are within a point (cells of one row
		// in fonts of different sizes), top to bottom, left to right.
		sort.SliceStable(runs, func(a, b int) bool { return runs[a].y > runs[b].y })
		var lines [][]*run
		for _, ru := range runs {
			if n := len(lines); n > 0 && math.Abs(lines[n-1][0].y-ru.y) < 1 {
				lines[n-1] = append(lines[n-1], ru)
				continue
			}
			lines = append(lines, []*run{ru})
		}
		var page []string
		for _, l := range lines {
			sort.SliceStable(l, func(a, b int) bool { return l[a].x < l[b].x })
			var cells []string
			for _, ru := range l {
				if s := strings.TrimSpace(ru.s.String()); s != "" {
					cells = append(cells, s)
				}
			}
			if len(cells) > 0 {
				page = append(page, strings.Join(cells, " | "))
			}
		}
		pages = append(pages, page)
	}
	return pages
}

// pdfImages extracts every image XObject of a PDF written as fpdf writes
// PNGs (8-bit grey or RGB, FlateDecode with PNG predictors) by finding the
// objects in the file's bytes and wrapping each image's compressed data in
// a PNG of its own, the way a QR scanner would see the picture.
func pdfImages(tb testing.TB, data []byte) []image.Image {
	tb.Helper()
	num := func(dict, key string) int {
		m := regexp.MustCompile(`/` + key + ` (\d+)`).FindStringSubmatch(dict)
		if m == nil {
			tb.Fatalf("image without /%s: %s", key, dict)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	var out []image.Image
	for _, loc := range regexp.MustCompile(`>>\s*stream\r?\n`).FindAllIndex(data, -1) {
		objStart := bytes.LastIndex(data[:loc[0]], []byte(" obj"))
		dict := string(data[objStart:loc[0]])
		if !strings.Contains(dict, "/Subtype /Image") {
			continue
		}
		if !strings.Contains(dict, "/Filter /FlateDecode") || num(dict, "BitsPerComponent") != 8 {
			tb.Fatalf("unexpected image encoding: %s", dict)
		}
		var colorType byte
		switch {
		case strings.Contains(dict, "/ColorSpace /DeviceGray"):
			colorType = 0
		case strings.Contains(dict, "/ColorSpace /DeviceRGB"):
			colorType = 2
		default:
			tb.Fatalf("unexpected colour space: %s", dict)
		}
		// The stream's length is the last /Length (the DecodeParms have none).
		lengths := regexp.MustCompile(`/Length (\d+)`).FindAllStringSubmatch(dict, -1)
		n, _ := strconv.Atoi(lengths[len(lengths)-1][1])
		stream := data[loc[1] : loc[1]+n]
		if strings.Contains(dict, "/Predictor") {
			stream = wrapPNG(num(dict, "Width"), num(dict, "Height"), colorType, stream)
		} else {
			tb.Fatalf("an image without PNG predictors: %s", dict)
		}
		img, err := png.Decode(bytes.NewReader(stream))
		if err != nil {
			tb.Fatalf("decoding an embedded image: %v", err)
		}
		out = append(out, img)
	}
	return out
}

// wrapPNG makes a PNG file of zlib-compressed, PNG-filtered rows.
func wrapPNG(w, h int, colorType byte, idat []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		io.WriteString(crc, typ)
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, colorType
	chunk("IHDR", ihdr)
	chunk("IDAT", idat)
	chunk("IEND", nil)
	return b.Bytes()
}

// decodeQR finds and decodes the QR code of an image.
func decodeQR(tb testing.TB, img image.Image) (string, error) {
	tb.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// pdfQRCodes decodes every QR code among a PDF's images.
func pdfQRCodes(tb testing.TB, data []byte) []string {
	tb.Helper()
	var out []string
	for _, img := range pdfImages(tb, data) {
		if s, err := decodeQR(tb, img); err == nil {
			out = append(out, s)
		}
	}
	return out
}
