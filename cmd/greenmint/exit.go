package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/greenmint/greenmint"
)

// exitCodes maps each error code to the process's exit code, in one
// place; docs/cli.md lists the same table (TestExitCodesDocumented).
var exitCodes = map[string]int{
	greenmint.EINTERNAL:        1,
	greenmint.EINVALID:         2,
	greenmint.ENOTFOUND:        3,
	greenmint.ECONFLICT:        4,
	greenmint.EUNAUTHENTICATED: 5,
	greenmint.EFORBIDDEN:       5,
	greenmint.EUNAVAILABLE:     6,
}

// ExitCode is the exit code for err: 0 for nil, else its code's (exitCodes),
// 1 for an error with no code.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	if c, ok := exitCodes[greenmint.ErrorCode(err)]; ok {
		return c
	}
	return 1
}

// cliError is an error as --json prints it.
type cliError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError writes err on the error stream: {"error":{"code","message"}}
// with --json (looked for in args too, for a command line that did not
// parse), else "greenmint: " and the error.
func (m *Main) writeError(err error, args []string) {
	if m.asJSON || slices.ContainsFunc(args, func(a string) bool { return a == "--json" || a == "--json=true" }) {
		var e cliError
		e.Error.Code, e.Error.Message = greenmint.ErrorCode(err), errorMessage(err)
		raw, _ := json.Marshal(e)
		fmt.Fprintln(m.Err, string(raw))
		return
	}
	fmt.Fprintf(m.Err, "greenmint: %s: %s\n", greenmint.ErrorCode(err), errorMessage(err))
}

// errorMessage is err's text without its code, which a wrapping context
// ("site S1: forbidden: …") puts in the middle.
func errorMessage(err error) string {
	s, code := err.Error(), greenmint.ErrorCode(err)+": "
	if strings.HasPrefix(s, code) {
		return s[len(code):]
	}
	if i := strings.Index(s, ": "+code); i >= 0 {
		return s[:i+2] + s[i+2+len(code):]
	}
	return s
}
