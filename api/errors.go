package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/greenmint/greenmint"
)

// statuses maps every error code to its HTTP status: the one table.
var statuses = map[string]int{
	greenmint.EINVALID:         http.StatusBadRequest,
	greenmint.ENOTFOUND:        http.StatusNotFound,
	greenmint.ECONFLICT:        http.StatusConflict,
	greenmint.EUNAUTHENTICATED: http.StatusUnauthorized,
	greenmint.EFORBIDDEN:       http.StatusForbidden,
	greenmint.EUNAVAILABLE:     http.StatusServiceUnavailable,
	greenmint.EINTERNAL:        http.StatusInternalServerError,
}

// Problem is an RFC 9457 problem document with Greenmint's code.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	Reason    string `json:"reason,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// Problem reasons: a stable word a client can act on, beside the code.
const (
	// ReasonAttestationDiffers: the peer rebuilt the attestation from its
	// own readings and its bytes differ. Which figures differ is logged by
	// the peer, never sent.
	ReasonAttestationDiffers = "attestation_differs"
)

// problems writes the last error a handler recorded with c.Error as
// problem+json. A code missing from the table is answered 500. Every 5xx
// is logged in full with the request ID and answered with a generic
// detail.
func problems(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 || c.Writer.Written() {
			return
		}
		err := c.Errors.Last().Err
		code := greenmint.ErrorCode(err)
		status, known := statuses[code]
		var se *statusError
		if errors.As(err, &se) {
			status = se.status
			if se.retryAfter > 0 {
				c.Header("Retry-After", strconv.Itoa(int(se.retryAfter/time.Second)))
			}
		}
		if !known {
			status, code = http.StatusInternalServerError, greenmint.EINTERNAL
		}
		detail := greenmint.ErrorMessage(err)
		if status >= 500 {
			log.Error("answered "+strconv.Itoa(status), "method", c.Request.Method, "path", c.FullPath(), "request_id", c.GetString("request_id"), "err", err)
			// A 5xx's text comes from below the service (a database
			// driver, the ledger's gRPC status): it may name hosts, users
			// or tables, so it goes to the log only.
			detail = "an internal error occurred; it was logged with the request ID"
			if code == greenmint.EUNAVAILABLE {
				detail = "a service this request needs is unavailable; try again later (the cause was logged with the request ID)"
			}
		}
		var pr *problemReason
		reason := ""
		if errors.As(err, &pr) {
			reason = pr.reason
		}
		c.Header("Content-Type", "application/problem+json")
		c.JSON(status, Problem{
			Type: "https://greenmint.dev/problems/" + code, Title: http.StatusText(status), Status: status,
			Detail: detail, Code: code, Reason: reason, RequestID: c.GetString("request_id"),
		})
	}
}

// problemReason attaches a Problem reason to an error.
type problemReason struct {
	reason string
	err    *greenmint.Error
}

func (e *problemReason) Error() string { return e.err.Error() }
func (e *problemReason) Unwrap() error { return e.err }

// fail records err for the problems middleware and stops the chain.
func fail(c *gin.Context, err error) {
	var ge *greenmint.Error
	if !errors.As(err, &ge) {
		err = &greenmint.Error{Code: greenmint.EINTERNAL, Err: err}
	}
	_ = c.Error(err)
	c.Abort()
}
