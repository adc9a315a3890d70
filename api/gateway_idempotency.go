package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// headerIdempotencyKey is the draft-ietf-httpapi-idempotency-key-header
// request header.
const headerIdempotencyKey = "Idempotency-Key"

// maxIdempotencyKey is the longest key: the contract's limit, since the
// key is carried to it.
const maxIdempotencyKey = 128

// replayedHeaders are the response headers a replay repeats.
var replayedHeaders = []string{"Content-Type", "Location", "Link"}

// idempotency honours Idempotency-Key on every write (POST, PUT, PATCH,
// DELETE) outside /v1/auth: the first request with a key runs and its
// answer is kept (IdempotencyTTL) under the caller and the key; the same
// key with the same method, route and body answers that again
// (Idempotent-Replayed: true) without running anything; with another
// body 422; while the first is still running 409. An answer of 5xx or 429
// is not kept: the client may retry with the same key. Ledger writes also
// carry the key to the contract (R10), so even a retry after the gateway
// forgot it never applies twice.
func (g *Gateway) idempotency() gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader(headerIdempotencyKey)
		if key == "" || !unsafeMethod(c.Request.Method) || strings.HasPrefix(c.Request.URL.Path, "/v1/auth/") {
			c.Next()
			return
		}
		if len(key) > maxIdempotencyKey || !printableASCII(key) {
			fail(c, greenmint.Errorf(greenmint.EINVALID, "the %s header has 1 to %d printable ASCII characters", headerIdempotencyKey, maxIdempotencyKey))
			return
		}
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			fail(c, &statusError{status: http.StatusRequestEntityTooLarge, err: greenmint.E(greenmint.EINVALID, "", err, "the body is too large or unreadable")})
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		principal := "anonymous:" + addressKey(c)
		if p := principalOf(c.Request.Context()); p != nil {
			principal = p.ID
		}
		h := sha256.New()
		h.Write([]byte(c.Request.Method + " " + c.Request.URL.Path + "?" + c.Request.URL.RawQuery + "\n"))
		h.Write(body)
		hash := hex.EncodeToString(h.Sum(nil))
		now := g.cfg.Now()
		ctx := c.Request.Context()
		prev, begun, err := g.cfg.DB.BeginIdempotent(ctx, store.IdempotencyRecord{Principal: principal, Key: key, RequestHash: hash,
			State: store.IdempotencyPending, CreatedAt: now, ExpiresAt: now.Add(g.cfg.IdempotencyTTL)})
		if err != nil {
			fail(c, err)
			return
		}
		if !begun {
			switch {
			case prev.RequestHash != hash:
				fail(c, &statusError{status: http.StatusUnprocessableEntity, err: greenmint.Errorf(greenmint.EINVALID, "Idempotency-Key %q was used for a different request (another method, route or body); use a new key", key)})
			case prev.State != store.IdempotencyDone:
				fail(c, greenmint.Errorf(greenmint.ECONFLICT, "a request with Idempotency-Key %q is still being processed; retry later", key))
			default:
				for k, v := range prev.Headers {
					c.Header(k, v)
				}
				c.Header("Idempotent-Replayed", "true")
				c.Data(prev.Status, prev.Headers["Content-Type"], prev.Body)
				c.Abort()
			}
			return
		}
		w := &capturingWriter{ResponseWriter: c.Writer}
		c.Writer = w
		c.Next()
		status := w.Status()
		// The answer is kept even if the client has gone: the request ran.
		bg := context.WithoutCancel(ctx)
		if status >= 500 || status == http.StatusTooManyRequests {
			if err := g.cfg.DB.AbandonIdempotent(bg, principal, key); err != nil {
				g.cfg.Log.Error("idempotency: abandon", "key", key, "err", err)
			}
			return
		}
		hdr := map[string]string{}
		for _, k := range replayedHeaders {
			if v := w.Header().Get(k); v != "" {
				hdr[k] = v
			}
		}
		if err := g.cfg.DB.CompleteIdempotent(bg, principal, key, status, hdr, w.buf.Bytes()); err != nil {
			g.cfg.Log.Error("idempotency: complete", "key", key, "status", strconv.Itoa(status), "err", err)
		}
	}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// capturingWriter keeps a copy of the body it writes.
type capturingWriter struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (w *capturingWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *capturingWriter) WriteString(s string) (int, error) {
	w.buf.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}
