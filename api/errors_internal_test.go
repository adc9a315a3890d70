package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/greenmint/greenmint"
)

// TestProblemStatuses: an error code missing from the status table is
// answered 500 (not 200) with a generic detail, a panic 500, and every 5xx
// is logged with its request ID; a 4xx is not logged.
func TestProblemStatuses(t *testing.T) {
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(requestID(), securityHeaders(), problems(log), recovery())
	r.GET("/unknown-code", func(c *gin.Context) { fail(c, &greenmint.Error{Code: "teapot", Message: "secret detail"}) })
	r.GET("/unavailable", func(c *gin.Context) { fail(c, greenmint.Errorf(greenmint.EUNAVAILABLE, "the ledger is down")) })
	r.GET("/plain-error", func(c *gin.Context) { fail(c, errors.New("disk on fire")) })
	r.GET("/panic", func(c *gin.Context) { panic("boom") })
	r.GET("/invalid", func(c *gin.Context) { fail(c, greenmint.Errorf(greenmint.EINVALID, "bad input")) })
	srv := httptest.NewServer(r)
	defer srv.Close()
	tests := []struct {
		path   string
		status int
		code   string
		logged string // what the log must hold; "" for nothing
		hidden string // what the answer must not hold
	}{
		{"/unknown-code", 500, greenmint.EINTERNAL, "secret detail", "secret detail"},
		{"/unavailable", 503, greenmint.EUNAVAILABLE, "the ledger is down", ""},
		{"/plain-error", 500, greenmint.EINTERNAL, "disk on fire", "disk on fire"},
		{"/panic", 500, greenmint.EINTERNAL, "boom", "boom"},
		{"/invalid", 400, greenmint.EINVALID, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			logBuf.Reset()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
			req.Header.Set("X-Request-ID", "req-"+strings.TrimPrefix(tc.path, "/"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var p Problem
			err = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if err != nil || resp.StatusCode != tc.status || p.Status != tc.status || p.Code != tc.code {
				t.Fatalf("GET %s = %d %+v, want %d %s", tc.path, resp.StatusCode, p, tc.status, tc.code)
			}
			if tc.hidden != "" && strings.Contains(p.Detail, tc.hidden) {
				t.Errorf("the answer shows %q: %+v", tc.hidden, p)
			}
			logged := logBuf.String()
			if tc.logged == "" {
				if logged != "" {
					t.Errorf("a %d was logged: %s", tc.status, logged)
				}
				return
			}
			if !strings.Contains(logged, tc.logged) || !strings.Contains(logged, "request_id=req-") || !strings.Contains(logged, "level=ERROR") {
				t.Errorf("log = %q, want %q with the request ID", logged, tc.logged)
			}
		})
	}
}

// TestEveryCodeHasAStatus holds the status table to greenmint's one list of
// error codes: a code added there without an HTTP status here fails, and
// so does a status for a code that does not exist.
func TestEveryCodeHasAStatus(t *testing.T) {
	known := map[string]bool{}
	for _, code := range greenmint.Codes() {
		known[code] = true
		if s, ok := statuses[code]; !ok || s < 400 {
			t.Errorf("statuses[%q] = %d, %v; want a 4xx or 5xx status", code, s, ok)
		}
	}
	for code := range statuses {
		if !known[code] {
			t.Errorf("statuses has %q, which is not in greenmint.Codes()", code)
		}
	}
}
