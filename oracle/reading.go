package oracle

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
)

// Reasons a reading is rejected. Each result carries one, with a message.
const (
	ReasonMalformed        = "malformed"
	ReasonUnknownMeter     = "unknown_meter"
	ReasonMeterNotApproved = "meter_not_approved"
	ReasonBadSignature     = "bad_signature"
	ReasonSequence         = "sequence_not_higher"
	ReasonMisaligned       = "misaligned_interval"
	ReasonOverlap          = "overlapping_interval"
	ReasonRegister         = "register_not_continuous"
	ReasonEnergyBounds     = "energy_out_of_bounds"
	ReasonFuture           = "interval_in_future"
)

// Outcomes of one reading.
const (
	Accepted  = "accepted"
	Duplicate = "duplicate" // the identical reading again: acknowledged, stored once
	Rejected  = "rejected"
)

// CSVHeader is the header of the CSV wire form.
const CSVHeader = "meter_id,seq,start,end,energy_wh,register_wh,signature"

// Parsed is one reading from the wire, or why it could not be read.
type Parsed struct {
	Line    int // 1-based line of a CSV row, or index+1 in a JSON batch
	Reading greenmint.Reading
	Err     error // a malformed row: EINVALID with the reason
}

// ParseJSON reads one reading ({…}), a batch ({"readings":[…]}) or an
// array ([…]). A batch with one malformed element keeps the others: each
// element is decoded on its own.
func ParseJSON(data []byte) ([]Parsed, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "empty body")
	}
	if !json.Valid(trimmed) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "body is not valid JSON")
	}
	var elems []json.RawMessage
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &elems); err != nil {
			return nil, greenmint.E(greenmint.EINVALID, "", err, "malformed JSON array")
		}
	case '{':
		// Fast path: a well-formed batch decodes in one pass.
		var fast struct {
			Readings []greenmint.Reading `json:"readings"`
		}
		if err := greenmint.DecodeStrict(trimmed, &fast); err == nil && fast.Readings != nil {
			out := make([]Parsed, len(fast.Readings))
			for i, r := range fast.Readings {
				out[i] = Parsed{Line: i + 1, Reading: r}
			}
			return out, nil
		}
		var batch struct {
			Readings []json.RawMessage `json:"readings"`
		}
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if err := dec.Decode(&batch); err == nil && batch.Readings != nil {
			elems = batch.Readings
		} else {
			elems = []json.RawMessage{trimmed}
		}
	default:
		return nil, greenmint.Errorf(greenmint.EINVALID, "body is neither a JSON object nor an array")
	}
	out := make([]Parsed, len(elems))
	for i, e := range elems {
		out[i].Line = i + 1
		if err := greenmint.DecodeStrict(e, &out[i].Reading); err != nil {
			out[i].Err = err
		}
	}
	return out, nil
}

// ParseCSV reads the CSV wire form: the header line, then one reading per
// line with the signature in standard base64. Every non-empty line after the
// header is one row and gets one Parsed, with its line number (R6: one
// result per row). A field may be quoted ("…", with "" for a quote), but a
// quote never spans lines: a malformed row — an unclosed quote, a wrong
// number of fields, a bad number — is reported on its own and every other
// line is read as if it were not there. Blank lines are skipped; a UTF-8
// byte-order mark before the header is ignored. Only a missing or wrong
// header, or a failing reader, is an error for the whole body.
func ParseCSV(r io.Reader) ([]Parsed, error) {
	br := bufio.NewReader(r)
	var out []Parsed
	line, header := 0, false
	for {
		text, rerr := br.ReadString('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return nil, greenmint.E(greenmint.EINVALID, "", rerr, "CSV")
		}
		if text != "" {
			line++
			text = strings.TrimSuffix(strings.TrimSuffix(text, "\n"), "\r")
			if line == 1 {
				text = strings.TrimPrefix(text, "\ufeff")
			}
		}
		switch {
		case text == "":
		case !header:
			head, err := splitCSVLine(text)
			if err != nil {
				return nil, greenmint.E(greenmint.EINVALID, "", err, "CSV header on line %d", line)
			}
			if strings.Join(head, ",") != CSVHeader {
				return nil, greenmint.Errorf(greenmint.EINVALID, "CSV header is %q, want %q", strings.Join(head, ","), CSVHeader)
			}
			header = true
		default:
			p := Parsed{Line: line}
			if rec, err := splitCSVLine(text); err != nil {
				p.Err = greenmint.E(greenmint.EINVALID, "", err, "line %d", line)
			} else {
				p.Reading, p.Err = readingFromCSV(rec)
			}
			out = append(out, p)
		}
		if rerr != nil { // io.EOF
			if !header {
				return nil, greenmint.Errorf(greenmint.EINVALID, "no CSV header")
			}
			return out, nil
		}
	}
}

// csvFields is the number of fields of a CSV row; splitCSVLine stops
// splitting beyond it.
const csvFields = 7

// splitCSVLine splits one line of CSV into its fields (RFC 4180, except
// that a quoted field ends on its line).
func splitCSVLine(s string) ([]string, error) {
	var fields []string
	for {
		if len(fields) == csvFields {
			return nil, errors.New("more than 7 fields")
		}
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for {
				j := strings.IndexByte(s[i:], '"')
				if j < 0 {
					return nil, errors.New("a quoted field is not closed on its line")
				}
				b.WriteString(s[i : i+j])
				i += j + 1
				if i < len(s) && s[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			fields = append(fields, b.String())
			if s = s[i:]; s == "" {
				return fields, nil
			}
			if s[0] != ',' {
				return nil, errors.New("text after a closing quote")
			}
			s = s[1:]
			continue
		}
		f, rest, more := strings.Cut(s, ",")
		if strings.IndexByte(f, '"') >= 0 {
			return nil, errors.New(`a quote inside an unquoted field`)
		}
		fields = append(fields, f)
		if !more {
			return fields, nil
		}
		s = rest
	}
}

func readingFromCSV(rec []string) (greenmint.Reading, error) {
	if len(rec) != 7 {
		return greenmint.Reading{}, greenmint.Errorf(greenmint.EINVALID, "%d fields, want 7", len(rec))
	}
	var r greenmint.Reading
	var err error
	r.MeterID, r.Start, r.End = rec[0], rec[2], rec[3]
	ints := []struct {
		name string
		dst  *int64
		s    string
	}{{"seq", &r.Seq, rec[1]}, {"energy_wh", &r.EnergyWh, rec[4]}, {"register_wh", &r.RegisterWh, rec[5]}}
	for _, f := range ints {
		if *f.dst, err = strconv.ParseInt(f.s, 10, 64); err != nil {
			return greenmint.Reading{}, greenmint.Errorf(greenmint.EINVALID, "%s %q is not a 64-bit integer", f.name, f.s)
		}
	}
	if r.Signature, err = base64.StdEncoding.DecodeString(rec[6]); err != nil {
		return greenmint.Reading{}, greenmint.Errorf(greenmint.EINVALID, "signature is not base64")
	}
	return r, nil
}

// FormatCSVRow renders a reading as a CSV row (without newline).
func FormatCSVRow(r greenmint.Reading) string {
	return fmt.Sprintf("%s,%d,%s,%s,%d,%d,%s", r.MeterID, r.Seq, r.Start, r.End, r.EnergyWh, r.RegisterWh, base64.StdEncoding.EncodeToString(r.Signature))
}

// Head is what the oracle remembers of a meter's last accepted reading.
type Head = greenmint.MeterHead

// Verdict is the outcome of checking one reading.
type Verdict struct {
	Outcome string
	Reason  string
	Message string
}

func reject(reason, format string, args ...any) Verdict {
	return Verdict{Outcome: Rejected, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Identical reports whether two readings have the same canonical encoding,
// signature included: a reading sent again is a duplicate only if it is
// identical to the stored one.
func Identical(a, b greenmint.Reading) bool {
	return bytes.Equal(greenmint.CanonicalReading(a), greenmint.CanonicalReading(b))
}

// Check applies R6 to one reading of a meter whose last accepted reading is
// head: CheckStatic, then CheckSequence. It is pure: the caller looks up
// duplicates (a sequence at or below the head whose stored reading is
// Identical) before calling it.
func Check(r greenmint.Reading, m *greenmint.Meter, head Head, toleranceBP int64, now time.Time) Verdict {
	if v := CheckStatic(r, m, toleranceBP, now); v.Outcome != Accepted {
		return v
	}
	return CheckSequence(r, head)
}

// CheckStatic checks what needs no history: a registered, approved meter,
// its signature over the canonical bytes, one interval of the meter's
// resolution aligned to it, not in the future, and energy within capacity ×
// duration × (1 + tolerance). Readings can be checked this way in parallel.
func CheckStatic(r greenmint.Reading, m *greenmint.Meter, toleranceBP int64, now time.Time) Verdict {
	if m == nil {
		return reject(ReasonUnknownMeter, "meter %q is not registered", r.MeterID)
	}
	if m.Status != greenmint.StatusApproved {
		return reject(ReasonMeterNotApproved, "meter %s is %s", m.ID, m.Status)
	}
	if len(r.Signature) != ed25519.SignatureSize {
		return reject(ReasonBadSignature, "signature has %d bytes, want %d", len(r.Signature), ed25519.SignatureSize)
	}
	if err := greenmint.VerifyReadingSignature(r, m.PublicKey); err != nil {
		return reject(ReasonBadSignature, "signature does not verify with meter %s's key", m.ID)
	}
	start, err1 := greenmint.ParseTime(r.Start)
	end, err2 := greenmint.ParseTime(r.End)
	if err1 != nil || err2 != nil {
		return reject(ReasonMalformed, "start and end must be RFC 3339 UTC timestamps")
	}
	step := time.Duration(m.IntervalMinutes) * time.Minute
	if step <= 0 || end.Sub(start) != step || start.Truncate(step) != start {
		return reject(ReasonMisaligned, "interval %s–%s is not one aligned %d-minute interval", r.Start, r.End, m.IntervalMinutes)
	}
	if end.After(now.Add(time.Minute)) {
		return reject(ReasonFuture, "interval ends at %s, in the future", r.End)
	}
	if r.Seq <= 0 {
		return reject(ReasonSequence, "sequence %d is not positive", r.Seq)
	}
	if r.EnergyWh < 0 || r.RegisterWh < 0 || r.RegisterWh < r.EnergyWh {
		return reject(ReasonEnergyBounds, "energy %d Wh and register %d Wh must be non-negative with register ≥ energy", r.EnergyWh, r.RegisterWh)
	}
	bound := new(big.Int).Mul(big.NewInt(m.CapacityW), big.NewInt(int64(step/time.Minute)))
	bound.Mul(bound, big.NewInt(10_000+toleranceBP))
	bound.Quo(bound, big.NewInt(60*10_000))
	if big.NewInt(r.EnergyWh).Cmp(bound) > 0 {
		return reject(ReasonEnergyBounds, "energy %d Wh exceeds capacity %d W × %d min (+%d bp) = %s Wh", r.EnergyWh, m.CapacityW, m.IntervalMinutes, toleranceBP, bound)
	}
	return Verdict{Outcome: Accepted}
}

// CheckSequence checks a statically valid reading against its meter's last
// accepted one: a higher sequence, an interval after it, and a register
// continuous with it (exactly, when the interval follows directly; not
// backwards, after a gap).
func CheckSequence(r greenmint.Reading, head Head) Verdict {
	if !head.Known {
		return Verdict{Outcome: Accepted}
	}
	if r.Seq <= head.Seq {
		return reject(ReasonSequence, "sequence %d is not higher than the last accepted %d", r.Seq, head.Seq)
	}
	start, _ := greenmint.ParseTime(r.Start)
	if start.Before(head.End) {
		return reject(ReasonOverlap, "interval starts at %s, before the last accepted reading ended (%s)", r.Start, greenmint.FormatTime(head.End))
	}
	before := r.RegisterWh - r.EnergyWh
	if start.Equal(head.End) && before != head.RegisterWh {
		return reject(ReasonRegister, "register %d − energy %d = %d Wh, but the last reading left the register at %d Wh", r.RegisterWh, r.EnergyWh, before, head.RegisterWh)
	}
	if before < head.RegisterWh {
		return reject(ReasonRegister, "register went backwards: %d − %d < %d Wh", r.RegisterWh, r.EnergyWh, head.RegisterWh)
	}
	return Verdict{Outcome: Accepted}
}

// Advance returns the head after accepting r.
func Advance(r greenmint.Reading) Head {
	end, _ := greenmint.ParseTime(r.End)
	return Head{Seq: r.Seq, End: end, RegisterWh: r.RegisterWh, Known: true}
}
