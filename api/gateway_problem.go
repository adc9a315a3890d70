package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humagin"
	"github.com/greenmint/greenmint"
)

// GatewayProblem is the gateway's RFC 9457 problem document: Problem, and
// for a request that fails validation the fields at fault.
type GatewayProblem struct {
	Problem
	Errors  []*huma.ErrorDetail `json:"errors,omitempty" doc:"The fields at fault, for a request that fails validation"`
	headers http.Header
}

// GetHeaders gives huma the problem's headers (Retry-After).
func (p *GatewayProblem) GetHeaders() http.Header { return p.headers }

// Error is the problem's detail.
func (p *GatewayProblem) Error() string { return p.Detail }

// GetStatus is the problem's HTTP status, for huma.
func (p *GatewayProblem) GetStatus() int { return p.Status }

// ContentType makes huma answer problems as application/problem+json.
func (p *GatewayProblem) ContentType(string) string { return "application/problem+json" }

// problemLog is where the gateway's 5xx causes are logged (set by
// NewGateway; huma's error hook is one per process).
var problemLog = slog.New(slog.DiscardHandler)

func init() {
	huma.NewErrorWithContext = newProblem
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return newProblem(nil, status, msg, errs...)
	}
}

// newProblem is huma's error hook: every error an operation returns, and
// every validation failure, becomes a GatewayProblem from the one status
// table (statuses). A greenmint.Error among errs gives the status and code;
// huma's own failures keep their status (422 becomes 400: the gateway
// answers every invalid request 400). 5xx details are generic; the cause is
// logged with the request ID.
func newProblem(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
	requestID := ""
	if ctx != nil {
		if c := humagin.Unwrap(ctx); c != nil {
			requestID = c.GetString("request_id")
		}
	}
	code := ""
	var details []*huma.ErrorDetail
	var cause error
	for _, e := range errs {
		if e == nil {
			continue
		}
		var ge *greenmint.Error
		if errors.As(e, &ge) && cause == nil {
			cause = e
			continue
		}
		var d huma.ErrorDetailer
		if errors.As(e, &d) {
			details = append(details, shortDetail(d.ErrorDetail()))
		} else {
			details = append(details, &huma.ErrorDetail{Message: e.Error()})
		}
	}
	reason := ""
	retryAfter := ""
	if cause != nil {
		code = greenmint.ErrorCode(cause)
		st, known := statuses[code]
		if !known {
			st, code = http.StatusInternalServerError, greenmint.EINTERNAL
		}
		status = st
		var se *statusError
		if errors.As(cause, &se) {
			status = se.status
			if se.retryAfter > 0 {
				retryAfter = strconv.Itoa(int(se.retryAfter.Seconds()))
			}
		}
		var pr *problemReason
		if errors.As(cause, &pr) {
			reason = pr.reason
		}
		msg = greenmint.ErrorMessage(cause)
	} else {
		switch {
		case status == http.StatusUnprocessableEntity || status == http.StatusBadRequest:
			status, code = http.StatusBadRequest, greenmint.EINVALID
			if len(details) > 0 {
				var b strings.Builder
				b.WriteString(msg)
				for i, d := range details {
					if i == 0 {
						b.WriteString(": ")
					} else {
						b.WriteString("; ")
					}
					b.WriteString(d.Error())
				}
				msg = b.String()
			}
		case status == http.StatusNotFound:
			code = greenmint.ENOTFOUND
		case status == http.StatusUnauthorized:
			code = greenmint.EUNAUTHENTICATED
		case status == http.StatusForbidden:
			code = greenmint.EFORBIDDEN
		case status == http.StatusConflict:
			code = greenmint.ECONFLICT
		case status == http.StatusRequestEntityTooLarge, status == http.StatusUnsupportedMediaType, status == http.StatusNotAcceptable:
			code = greenmint.EINVALID
		case status == http.StatusServiceUnavailable:
			code = greenmint.EUNAVAILABLE
		case status >= 500 || status == 0:
			if status == 0 {
				status = http.StatusInternalServerError
			}
			code = greenmint.EINTERNAL
		default:
			code = greenmint.EINVALID
		}
	}
	if status >= 500 {
		problemLog.Error("answered "+strconv.Itoa(status), "request_id", requestID, "err", errors.Join(append([]error{cause}, errs...)...), "message", msg)
		msg = "an internal error occurred; it was logged with the request ID"
		if code == greenmint.EUNAVAILABLE {
			msg = "a service this request needs is unavailable; try again later (the cause was logged with the request ID)"
		}
		details = nil
	}
	p := &GatewayProblem{Problem: Problem{Type: "https://greenmint.dev/problems/" + code, Title: http.StatusText(status), Status: status,
		Detail: msg, Code: code, Reason: reason, RequestID: requestID}, Errors: details}
	if retryAfter != "" {
		p.headers = http.Header{"Retry-After": []string{retryAfter}}
		if ctx != nil {
			ctx.SetHeader("Retry-After", retryAfter)
		}
	}
	return p
}

// maxEchoed bounds how much of a bad value a problem repeats back.
const maxEchoed = 200

// shortDetail is a validation detail whose echoed value is at most
// maxEchoed bytes of its JSON (longer values are cut, with "…"), so a bad
// megabyte is not answered with another.
func shortDetail(d *huma.ErrorDetail) *huma.ErrorDetail {
	if d == nil || d.Value == nil {
		return d
	}
	raw, err := json.Marshal(d.Value)
	if err != nil || len(raw) <= maxEchoed {
		return d
	}
	c := *d
	c.Value = string(raw[:maxEchoed]) + "…"
	c.Message = strings.ReplaceAll(c.Message, fmt.Sprint(d.Value), "…")
	return &c
}
