package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Result is the outcome of one check.
type Result string

// Results.
const (
	Pass Result = "pass"
	Fail Result = "fail"
	Skip Result = "skip" // the bundle does not carry what the check needs
	Note Result = "note" // what the verification's trust rests on
)

// Check is one check Verify ran.
type Check struct {
	Name   string `json:"name"`   // what was checked: "ledger: block 12", "batch EAC-…: R2"
	Result Result `json:"result"` //
	Detail string `json:"detail"` // what was found, figures included
}

// Report is what Verify found: every check, in order.
type Report struct {
	Subject Subject `json:"subject"`
	Ledger  string  `json:"ledger"` // the ledger type
	Checks  []Check `json:"checks"`
}

func (r *Report) add(name string, res Result, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Result: res, Detail: fmt.Sprintf(format, args...)})
}

func (r *Report) pass(name, format string, args ...any) { r.add(name, Pass, format, args...) }
func (r *Report) fail(name, format string, args ...any) { r.add(name, Fail, format, args...) }
func (r *Report) skip(name, format string, args ...any) { r.add(name, Skip, format, args...) }
func (r *Report) note(name, format string, args ...any) { r.add(name, Note, format, args...) }

// result records err as a failure, or passes with the detail.
func (r *Report) result(name string, err error, format string, args ...any) bool {
	if err != nil {
		r.fail(name, "%v", err)
		return false
	}
	r.pass(name, format, args...)
	return true
}

// Failed returns the checks that failed.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Result == Fail {
			out = append(out, c)
		}
	}
	return out
}

// OK reports whether no check failed.
func (r *Report) OK() bool { return len(r.Failed()) == 0 }

// Print writes one line per check: its result in capitals, its name and
// what it found.
func (r *Report) Print(w io.Writer) error {
	for _, c := range r.Checks {
		if _, err := fmt.Fprintf(w, "%-4s  %s: %s\n", strings.ToUpper(string(c.Result)), c.Name, c.Detail); err != nil {
			return err
		}
	}
	return nil
}

// fingerprints lists each organisation's root certificates by the hex
// SHA-256 of their DER bytes, abbreviated.
func fingerprints(m *msps) string {
	var parts []string
	for _, id := range m.ids() {
		var fps []string
		for _, c := range m.certs[id] {
			s := sha256.Sum256(c.Raw)
			fps = append(fps, hex.EncodeToString(s[:])[:16])
		}
		parts = append(parts, id+" "+strings.Join(fps, ","))
	}
	return strings.Join(parts, "; ")
}
