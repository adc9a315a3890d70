package greenmint

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. Every error that leaves a package of Greenmint carries one.
const (
	EINVALID         = "invalid"
	ENOTFOUND        = "not_found"
	ECONFLICT        = "conflict"
	EUNAUTHENTICATED = "unauthenticated"
	EFORBIDDEN       = "forbidden"
	EUNAVAILABLE     = "unavailable"
	EINTERNAL        = "internal"
)

var codes = []string{EINVALID, ENOTFOUND, ECONFLICT, EUNAUTHENTICATED, EFORBIDDEN, EUNAVAILABLE, EINTERNAL}

// Error is Greenmint's one error type: a code a client can act on, the
// operation that failed, a message for people and the underlying error.
type Error struct {
	Code    string
	Op      string
	Message string
	Err     error
}

// Error renders the error as "code: message" so that the code survives the
// trip through a Fabric chaincode response, which carries only a string.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	b.WriteString(": ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Err != nil {
		if e.Message != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil
// and EINTERNAL for an error that carries no code.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic text for errors that carry no code (their detail is for logs).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return strings.TrimPrefix(e.Error(), e.Code+": ")
	}
	return "internal error"
}

// ParseError turns a message produced by (*Error).Error back into an *Error,
// as the ledgers do with chaincode responses: the code, the op (the part
// after the code when it reads as one: a word or dotted words, such as
// Mint or store.Retire) and the rest as the message, causes included, so
// that its Error() is msg. A message without an op whose first part reads
// as one comes back with that op; the text is the same. A message without
// a known code prefix becomes an EINTERNAL error carrying the whole text.
func ParseError(msg string) *Error {
	for _, c := range codes {
		if rest, ok := strings.CutPrefix(msg, c+": "); ok {
			if op, m, ok := strings.Cut(rest, ": "); ok && isOp(op) {
				return &Error{Code: c, Op: op, Message: m}
			}
			return &Error{Code: c, Message: rest}
		}
	}
	return &Error{Code: EINTERNAL, Message: msg}
}

// isOp reports whether s reads as an operation's name: words of letters,
// digits and underscores, each starting with a letter, joined by dots.
func isOp(s string) bool {
	start := true
	for _, r := range s {
		switch {
		case r == '.' && !start:
			start = true
		case r == '_' || (r >= '0' && r <= '9'):
			if start {
				return false
			}
		case (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
			start = false
		default:
			return false
		}
	}
	return s != "" && !start
}
