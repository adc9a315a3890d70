package greenmint

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. Every error that leaves a package of Greenmint carries one.
// Codes lists them all; a new code is added there too.
const (
	EINVALID         = "invalid"
	ENOTFOUND        = "not_found"
	ECONFLICT        = "conflict"
	EUNAUTHENTICATED = "unauthenticated"
	EFORBIDDEN       = "forbidden"
	EUNAVAILABLE     = "unavailable"
	EINTERNAL        = "internal"
)

// codes is the one list of error codes: ParseError reads only these, and
// the api's status table has a test that holds it to this list.
var codes = []string{EINVALID, ENOTFOUND, ECONFLICT, EUNAUTHENTICATED, EFORBIDDEN, EUNAVAILABLE, EINTERNAL}

// Codes returns every error code, in a fixed order. Adding a code means
// adding it to this list; ParseError and the api's status table follow it.
func Codes() []string { return append([]string(nil), codes...) }

// Error is Greenmint's one error type: a code a client can act on, the
// operation that failed, a message for people and the underlying error.
//
// Retryable marks a failure that may pass if the same request is made
// again unchanged: a write the ledger invalidated at commit because state
// it read changed meanwhile (an MVCC or phantom read conflict). A
// conflict that is not Retryable is the contract's answer and stays.
// Retryable never crosses the chaincode boundary: only the ledger
// adapters set it.
type Error struct {
	Code      string
	Op        string
	Message   string
	Err       error
	Retryable bool
}

// E returns an *Error for an operation op that failed because of err,
// keeping err as its cause (errors.Is and errors.As see through it). The
// message is format and args, as for fmt.Sprintf, and may be empty. An
// empty code takes the code of err (ErrorCode: EINTERNAL for an error
// without one); the error is Retryable when err is and the code is err's.
func E(code, op string, err error, format string, args ...any) *Error {
	if code == "" {
		code = ErrorCode(err)
		if code == "" {
			code = EINTERNAL
		}
	}
	e := &Error{Code: code, Op: op, Err: err}
	if format != "" {
		e.Message = fmt.Sprintf(format, args...)
	}
	var cause *Error
	if errors.As(err, &cause) && cause.Code == code {
		e.Retryable = cause.Retryable
	}
	return e
}

// Error renders the error as "code: op: message: cause" so that the code
// survives the trip through a Fabric chaincode response, which carries
// only a string. A cause that is itself an *Error is rendered once,
// without its own "code: " prefix: the outer code is the one that counts.
func (e *Error) Error() string {
	return e.Code + ": " + e.text()
}

// text is the error without its code.
func (e *Error) text() string {
	var parts []string
	if e.Op != "" {
		parts = append(parts, e.Op)
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	if e.Err != nil {
		cause := e.Err.Error()
		var inner *Error
		if errors.As(e.Err, &inner) {
			cause = strings.Replace(cause, inner.Error(), inner.text(), 1)
		}
		parts = append(parts, cause)
	}
	return strings.Join(parts, ": ")
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message. It
// keeps no cause: an error that caused this one goes through E, never
// into the message (a test of the module refuses it).
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

// IsRetryable reports whether err may pass if the same request is made
// again unchanged: the first *Error in its chain is Retryable (see Error).
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic text for errors that carry no code (their detail is for logs).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.text()
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
// The result is never Retryable: retryability does not cross the
// chaincode boundary.
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
