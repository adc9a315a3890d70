package main

import (
	"testing"

	"github.com/greenmint/greenmint"
)

// TestEveryCodeHasAnExitCode holds the exit-code table to greenmint's one
// list of error codes: a code added there without an exit code here fails,
// and so does an exit code for a code that does not exist.
func TestEveryCodeHasAnExitCode(t *testing.T) {
	known := map[string]bool{}
	for _, code := range greenmint.Codes() {
		known[code] = true
		if exit, ok := exitCodes[code]; !ok || exit == 0 {
			t.Errorf("exitCodes[%q] = %d, %v; want a non-zero exit code", code, exit, ok)
		}
	}
	for code := range exitCodes {
		if !known[code] {
			t.Errorf("exitCodes has %q, which is not in greenmint.Codes()", code)
		}
	}
}
