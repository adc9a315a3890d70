package api

import (
	"errors"
	"log/slog"
	"net/http"

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
	RequestID string `json:"request_id,omitempty"`
}

// problems writes the last error a handler recorded with c.Error as
// problem+json. Internal errors are logged in full and answered with a
// generic detail.
func problems(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 || c.Writer.Written() {
			return
		}
		err := c.Errors.Last().Err
		code := greenmint.ErrorCode(err)
		status := statuses[code]
		detail := greenmint.ErrorMessage(err)
		if code == greenmint.EINTERNAL {
			log.Error("internal error", "path", c.FullPath(), "request_id", c.GetString("request_id"), "err", err)
			detail = "an internal error occurred; it was logged with the request ID"
		}
		c.Header("Content-Type", "application/problem+json")
		c.JSON(status, Problem{
			Type: "https://greenmint.dev/problems/" + code, Title: http.StatusText(status), Status: status,
			Detail: detail, Code: code, RequestID: c.GetString("request_id"),
		})
	}
}

// fail records err for the problems middleware and stops the chain.
func fail(c *gin.Context, err error) {
	var ge *greenmint.Error
	if !errors.As(err, &ge) {
		err = &greenmint.Error{Code: greenmint.EINTERNAL, Err: err}
	}
	_ = c.Error(err)
	c.Abort()
}
