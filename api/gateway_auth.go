package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/identity"
	"github.com/greenmint/greenmint/statement"
)

// The web app's cookies and the security schemes of the OpenAPI document.
const (
	cookieAccess  = "gm_access"  // HttpOnly, SameSite=Strict, Path=/: the access token
	cookieRefresh = "gm_refresh" // HttpOnly, SameSite=Strict, Path=/v1/auth: the refresh token
	cookieCSRF    = "gm_csrf"    // readable by the page, SameSite=Strict: echoed in X-CSRF-Token
	headerCSRF    = "X-CSRF-Token"

	schemeBearer = "bearer"
	schemeCookie = "cookie"
)

// Principal is who a request acts as: a user (access token or session
// cookie) or an organisation's API key.
type Principal struct {
	ID     string // the user's ID, or apikey-<id>: also its ledger identity's name in the keyring
	Login  string // the user's login, or the API key's name
	Org    string // the organisation's MSP ID
	Role   greenmint.Role
	Admin  bool
	APIKey bool
	Scopes []string // an API key's scopes
	Cookie bool     // authenticated by the web app's session cookie
}

type principalKey struct{}

// principalOf returns the request's principal, or nil for an anonymous
// caller.
func principalOf(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// apiKeyUser is the keyring name of an API key's ledger identity.
func apiKeyUser(id string) string { return "apikey-" + id }

// authenticate reads the caller's credential, if any: a bearer access
// token or API key, or the session cookie (whose unsafe requests must echo
// the CSRF cookie in X-CSRF-Token). A bearer credential that does not
// hold is 401 at once, never treated as anonymous (but counted against the
// address's rate limit); a session cookie that does not hold is ignored.
// It then applies the rate limit of the credential, or of the address for
// anonymous callers.
func (g *Gateway) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestURLKey{}, c.Request.URL))
		p, err := g.credential(c)
		if err != nil {
			// A credential that does not hold counts against the address,
			// as an anonymous request: guessing tokens or API keys is rate
			// limited like guessing passwords.
			if wait, ok := g.lim.anonymous.allow(addressKey(c)); !ok {
				fail(c, tooMany(wait))
				return
			}
			c.Header("WWW-Authenticate", `Bearer realm="greenmint"`)
			fail(c, err)
			return
		}
		if p == nil {
			if wait, ok := g.lim.anonymous.allow(addressKey(c)); !ok {
				fail(c, tooMany(wait))
				return
			}
		} else {
			if wait, ok := g.lim.credential.allow(p.ID); !ok {
				fail(c, tooMany(wait))
				return
			}
			c.Header("Cache-Control", "no-store")
			c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), principalKey{}, p))
		}
		c.Next()
	}
}

func (g *Gateway) credential(c *gin.Context) (*Principal, error) {
	ctx := c.Request.Context()
	if h := c.GetHeader("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "the Authorization header must be \"Bearer <token>\"")
		}
		if strings.HasPrefix(tok, "gm_") {
			return g.apiKeyPrincipal(ctx, tok)
		}
		return g.tokenPrincipal(tok, false)
	}
	ck, err := c.Cookie(cookieAccess)
	if err != nil || ck == "" {
		return nil, nil
	}
	p, err := g.tokenPrincipal(ck, true)
	if err != nil {
		// The cookie is sent by the browser, not presented by the caller:
		// one that does not hold (expired, of a dropped signing key, or
		// planted by a sibling site) is no credential, so its user can
		// still sign in and read public pages; operations that need a
		// user answer 401.
		return nil, nil
	}
	if unsafeMethod(c.Request.Method) {
		if err := checkCSRF(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// checkCSRF is the double-submit check of a cookie-authenticated unsafe
// request: X-CSRF-Token must equal the gm_csrf cookie, which only a page
// of the gateway's own origin can read.
func checkCSRF(c *gin.Context) error {
	ck, _ := c.Cookie(cookieCSRF)
	h := c.GetHeader(headerCSRF)
	if ck == "" || h == "" || subtle.ConstantTimeCompare([]byte(ck), []byte(h)) != 1 {
		return &statusError{status: http.StatusForbidden, err: greenmint.Errorf(greenmint.EFORBIDDEN, "a request authenticated by the session cookie must send the %s header equal to the %s cookie", headerCSRF, cookieCSRF)}
	}
	return nil
}

func (g *Gateway) tokenPrincipal(tok string, cookie bool) (*Principal, error) {
	cl, err := g.tokens.verify(g.cfg.Auth, tok, g.cfg.Now())
	if err != nil {
		return nil, err
	}
	return &Principal{ID: cl.Subject, Org: cl.Org, Role: greenmint.Role(cl.Role), Admin: cl.Admin, Cookie: cookie}, nil
}

// tokenCache remembers access tokens already verified, by their exact
// bytes, until they expire: a client sends the same token many times in
// its ten minutes, and each Ed25519 verification costs more than the rest
// of authentication. A token is in it only after VerifyAccess accepted it,
// and leaves at its exp (with auth's leeway); the cache holds at most
// maxTokens (then it starts over).
type tokenCache struct {
	mu sync.Mutex
	m  map[string]*auth.Claims
}

const maxTokens = 10_000

func (c *tokenCache) verify(a *auth.Service, tok string, now time.Time) (*auth.Claims, error) {
	c.mu.Lock()
	cl, ok := c.m[tok]
	c.mu.Unlock()
	if ok && cl.ExpiresAt != nil && now.Before(cl.ExpiresAt.Add(auth.Leeway)) {
		return cl, nil
	}
	cl, err := a.VerifyAccess(tok)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxTokens {
		c.m = map[string]*auth.Claims{}
	}
	c.m[tok] = cl
	c.mu.Unlock()
	return cl, nil
}

func (g *Gateway) apiKeyPrincipal(ctx context.Context, tok string) (*Principal, error) {
	k, err := g.cfg.Auth.VerifyAPIKey(ctx, tok)
	if err != nil {
		return nil, err
	}
	p := &Principal{ID: apiKeyUser(k.ID), Login: k.Name, Org: k.Org, APIKey: true, Scopes: k.Scopes}
	info, err := g.cfg.Keyring.Info(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	p.Role = info.Role
	return p, nil
}

// streamCaps bounds the live event streams open at once: per caller (a
// principal, or an address for anonymous callers) and in all, so that no
// one can hold the server's connections with streams.
type streamCaps struct {
	mu    sync.Mutex
	per   map[string]int
	total int
}

const (
	maxStreamsPerCaller = 4
	maxStreams          = 128
)

// streamLimit admits a request to an event stream while the caps allow it
// (429 otherwise) and frees its place when the stream ends.
func (g *Gateway) streamLimit() gin.HandlerFunc {
	return func(c *gin.Context) {
		p := c.Request.URL.Path
		if p != "/v1/events" && p != "/v1/public/events" {
			c.Next()
			return
		}
		// A resume position that does not parse is refused before the
		// stream starts (its answer could not be a problem after).
		for _, f := range []struct{ name, v string }{{"Last-Event-ID", c.GetHeader("Last-Event-ID")}, {"after", c.Query("after")}} {
			if _, _, ok := parseEventID(f.v); f.v != "" && (!ok || len(f.v) > 40) {
				fail(c, greenmint.Errorf(greenmint.EINVALID, "%s %.40q is neither <block>-<index> nor an event id this stream sent", f.name, f.v))
				return
			}
		}
		who := "address:" + addressKey(c)
		if pr := principalOf(c.Request.Context()); pr != nil {
			who = pr.ID
		}
		g.streams.mu.Lock()
		if g.streams.per == nil {
			g.streams.per = map[string]int{}
		}
		if g.streams.per[who] >= maxStreamsPerCaller || g.streams.total >= maxStreams {
			g.streams.mu.Unlock()
			fail(c, tooMany(5*time.Second))
			return
		}
		g.streams.per[who]++
		g.streams.total++
		g.streams.mu.Unlock()
		defer func() {
			g.streams.mu.Lock()
			if g.streams.per[who]--; g.streams.per[who] == 0 {
				delete(g.streams.per, who)
			}
			g.streams.total--
			g.streams.mu.Unlock()
		}()
		c.Next()
	}
}

// access is who may call an operation.
type access struct {
	public bool             // anyone, signed in or not
	roles  []greenmint.Role // users (and API keys) of these roles; empty: any role
	scope  string           // the API-key scope that admits keys; "": no API keys
	admin  bool             // an organisation's admin only
}

const accessKey = "greenmint.access"

// authorize is the huma middleware that enforces each operation's access
// before its input is read.
func (g *Gateway) authorize(ctx huma.Context, next func(huma.Context)) {
	acc, _ := ctx.Operation().Metadata[accessKey].(access)
	if acc.public {
		next(ctx)
		return
	}
	p := principalOf(ctx.Context())
	if p == nil {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="greenmint"`)
		_ = huma.WriteErr(g.api, ctx, http.StatusUnauthorized, "", greenmint.Errorf(greenmint.EUNAUTHENTICATED, "sign in first: send an access token or API key as Authorization: Bearer, or the session cookie"))
		return
	}
	if err := acc.admits(p); err != nil {
		_ = huma.WriteErr(g.api, ctx, http.StatusForbidden, "", err)
		return
	}
	next(ctx)
}

func (a access) admits(p *Principal) error {
	if p.APIKey && a.scope == "" {
		return greenmint.Errorf(greenmint.EFORBIDDEN, "API keys cannot call this operation; sign in as a user")
	}
	if p.APIKey && !slices.Contains(p.Scopes, a.scope) {
		return greenmint.Errorf(greenmint.EFORBIDDEN, "this API key lacks the scope %s", a.scope)
	}
	if a.admin && !p.Admin {
		return greenmint.Errorf(greenmint.EFORBIDDEN, "only an organisation's admin may do this")
	}
	if len(a.roles) > 0 && !slices.Contains(a.roles, p.Role) {
		return greenmint.Errorf(greenmint.EFORBIDDEN, "this is for the roles %v; you act as %s", a.roles, p.Role)
	}
	return nil
}

// operation describes one route for huma and the OpenAPI document.
func operation(method, path, id, summary, tag string, acc access) huma.Operation {
	op := huma.Operation{Method: method, Path: path, OperationID: id, Summary: summary, Tags: []string{tag},
		Metadata: map[string]any{accessKey: acc}}
	switch method {
	case http.MethodPost:
		op.DefaultStatus = http.StatusOK
	}
	// 401 and 403 on public operations too: a credential presented that
	// does not hold is 401 on every route, and a cookie-authenticated
	// unsafe request without its CSRF token is 403 (refresh, logout).
	op.Errors = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable}
	if acc.public {
		op.Security = []map[string][]string{{}}
	} else {
		op.Security = []map[string][]string{{schemeBearer: {}}, {schemeCookie: {}}}
	}
	if method != http.MethodGet {
		op.Errors = append(op.Errors, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity)
	}
	var who []string
	switch {
	case acc.public:
		who = append(who, "anyone")
	default:
		for _, r := range acc.roles {
			who = append(who, string(r))
		}
		if len(who) == 0 {
			who = append(who, "any signed-in user")
		}
		if acc.admin {
			who = append(who, "(admins only)")
		}
		if acc.scope != "" {
			who = append(who, "or an API key with scope "+acc.scope)
		}
	}
	op.Description = "Who: " + strings.Join(who, ", ") + "."
	return op
}

// identityFor returns the principal's own ledger identity, enrolling it
// with its organisation's CA on first use and re-enrolling it when the
// user's role changed since.
func (g *Gateway) identityFor(ctx context.Context, p *Principal) (*greenmint.Identity, error) {
	id, err := g.cfg.Keyring.Identity(ctx, p.ID)
	if greenmint.ErrorCode(err) == greenmint.ENOTFOUND && !p.APIKey {
		if _, err := g.cfg.Keyring.Enroll(ctx, p.ID, p.Org, p.Role); err != nil && greenmint.ErrorCode(err) != greenmint.ECONFLICT {
			return nil, err
		}
		return g.cfg.Keyring.Identity(ctx, p.ID)
	}
	if err != nil {
		return nil, err
	}
	if id.MSPID != p.Org {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "your ledger identity is of %s, not %s", id.MSPID, p.Org)
	}
	if role, err := g.roleOfCert(id.Certificate); err != nil {
		return nil, err
	} else if role != p.Role && !p.APIKey {
		// The identity is re-enrolled in the role the user has now, never
		// in an older token's claim (which would undo an admin's change).
		u, err := g.cfg.Auth.User(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		if u.Role != p.Role {
			return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "your role changed since this access token was issued: refresh your session")
		}
		if _, err := g.cfg.Keyring.Reenroll(ctx, p.ID, p.Role); err != nil {
			return nil, err
		}
		return g.cfg.Keyring.Identity(ctx, p.ID)
	}
	return id, nil
}

// certRoles remembers the role attribute of certificates already parsed.
var certRoles sync.Map // string(certificate PEM) → greenmint.Role

func (g *Gateway) roleOfCert(pemBytes []byte) (greenmint.Role, error) {
	if r, ok := certRoles.Load(string(pemBytes)); ok {
		return r.(greenmint.Role), nil
	}
	cert, err := identity.ParseCertPEM(pemBytes)
	if err != nil {
		return "", greenmint.E(greenmint.EINTERNAL, "api.roleOfCert", err, "")
	}
	r, ok := identity.RoleOf(cert)
	if !ok {
		return "", greenmint.Errorf(greenmint.EINTERNAL, "api.roleOfCert: a ledger identity's certificate has no role attribute")
	}
	certRoles.Store(string(pemBytes), r)
	return r, nil
}

// jwks serves the public keys of the access tokens and, when configured,
// of the retirement statements.
func (g *Gateway) jwks(c *gin.Context) {
	raw, err := g.cfg.Auth.JWKS()
	if err != nil {
		fail(c, err)
		return
	}
	if g.cfg.StatementKey != nil {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(raw, &set); err != nil {
			fail(c, greenmint.E(greenmint.EINTERNAL, "api.jwks", err, ""))
			return
		}
		for _, sk := range append([]statement.Key{*g.cfg.StatementKey}, g.cfg.PreviousStatementKeys...) {
			k, err := statement.PublicJWK(sk)
			if err != nil {
				fail(c, err)
				return
			}
			set.Keys = append(set.Keys, k)
		}
		if raw, err = json.Marshal(set); err != nil {
			fail(c, greenmint.E(greenmint.EINTERNAL, "api.jwks", err, ""))
			return
		}
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/jwk-set+json", raw)
}

// ---- the auth routes ----

// UserView is a user as the API shows it.
type UserView struct {
	ID        string         `json:"id"`
	Login     string         `json:"login"`
	Org       string         `json:"org" doc:"The organisation's MSP ID"`
	Role      greenmint.Role `json:"role" enum:"registry,miner,oracle,auditor,buyer"`
	Admin     bool           `json:"admin"`
	CreatedAt time.Time      `json:"created_at,omitzero"`
}

func userView(u auth.User) UserView {
	return UserView{ID: u.ID, Login: u.Login, Org: u.Org, Role: u.Role, Admin: u.Admin, CreatedAt: u.CreatedAt}
}

// LoginBody is a password login.
type LoginBody struct {
	Login    string `json:"login" minLength:"1" maxLength:"64"`
	Password string `json:"password" minLength:"1" maxLength:"256"`
	Session  string `json:"session,omitempty" enum:"token,cookie" doc:"token (default): the tokens in the body, for scripts; cookie: HttpOnly SameSite cookies and a CSRF cookie, for the web app"`
}

// SessionView is what a login or refresh returns.
type SessionView struct {
	User             UserView  `json:"user"`
	TokenType        string    `json:"token_type,omitempty" doc:"Bearer (token sessions only)"`
	AccessToken      string    `json:"access_token,omitempty" doc:"token sessions only"`
	ExpiresIn        int64     `json:"expires_in" doc:"Seconds until the access token expires"`
	RefreshToken     string    `json:"refresh_token,omitempty" doc:"token sessions only; shown once, rotates on every use"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	CSRFToken        string    `json:"csrf_token,omitempty" doc:"cookie sessions only: send it as X-CSRF-Token on unsafe requests"`
}

type sessionOutput struct {
	SetCookie []http.Cookie `header:"Set-Cookie"`
	Body      SessionView
}

// RefreshBody names the refresh token of a token session; a cookie
// session sends none (the gm_refresh cookie is read).
type RefreshBody struct {
	RefreshToken string `json:"refresh_token,omitempty" maxLength:"200"`
}

type refreshInput struct {
	Cookie string `cookie:"gm_refresh"`
	CSRF   string `header:"X-CSRF-Token"`
	CSRFCk string `cookie:"gm_csrf"`
	Body   *RefreshBody
}

// InviteBody is an admin's invitation.
type InviteBody struct {
	Login    string         `json:"login" minLength:"3" maxLength:"64"`
	Role     greenmint.Role `json:"role" enum:"registry,miner,oracle,auditor,buyer"`
	Admin    bool           `json:"admin,omitempty"`
	TTLHours int64          `json:"ttl_hours,omitempty" minimum:"0" maximum:"720" doc:"How long it can be accepted; default 168 (7 days)"`
}

// InvitationView is a made invitation: its secret is shown this once.
type InvitationView struct {
	Secret    string         `json:"secret" doc:"Give it to the invitee; shown once"`
	Login     string         `json:"login"`
	Org       string         `json:"org"`
	Role      greenmint.Role `json:"role"`
	Admin     bool           `json:"admin"`
	ExpiresAt time.Time      `json:"expires_at"`
}

// AcceptBody accepts an invitation with a new password.
type AcceptBody struct {
	Secret   string `json:"secret" minLength:"1" maxLength:"200"`
	Password string `json:"password" minLength:"12" maxLength:"256"`
}

// RoleBody sets a user's role and admin flag.
type RoleBody struct {
	Role  greenmint.Role `json:"role" enum:"registry,miner,oracle,auditor,buyer"`
	Admin bool           `json:"admin"`
}

// APIKeyBody makes an API key.
type APIKeyBody struct {
	Name   string   `json:"name" minLength:"1" maxLength:"100"`
	Scopes []string `json:"scopes" minItems:"1" maxItems:"6" enum:"readings:write,readings:read,attestations:write,ledger:read,certificates:write,market:write"`
}

// APIKeyView is an API key without its secret.
type APIKeyView struct {
	ID         string         `json:"id"`
	Org        string         `json:"org"`
	Name       string         `json:"name"`
	Scopes     []string       `json:"scopes"`
	Role       greenmint.Role `json:"role,omitempty" doc:"The role its ledger identity acts in: its creator's role"`
	CreatedBy  string         `json:"created_by"`
	CreatedAt  time.Time      `json:"created_at"`
	RevokedAt  time.Time      `json:"revoked_at,omitzero"`
	LastUsedAt time.Time      `json:"last_used_at,omitzero"`
	Key        string         `json:"key,omitempty" doc:"gm_<id>_<secret>: shown once, when made"`
}

func apiKeyView(k auth.APIKey) APIKeyView {
	return APIKeyView{ID: k.ID, Org: k.Org, Name: k.Name, Scopes: k.Scopes, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, LastUsedAt: k.LastUsedAt}
}

type bodyOf[T any] struct{ Body T }

// IdemHeader is every write's Idempotency-Key header.
type IdemHeader struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"128" doc:"Retrying with the same key and body returns the first answer (draft-ietf-httpapi-idempotency-key-header); on ledger writes it is also the contract's idempotency key (R10)"`
}

func (g *Gateway) authRoutes() {
	anyone := access{public: true}
	signedIn := access{}
	admin := access{admin: true}

	huma.Register(g.api, operation(http.MethodPost, "/auth/login", "login", "Sign in with a login and password", "auth", anyone),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body LoginBody
		}) (*sessionOutput, error) {
			s, err := g.cfg.Auth.Login(ctx, in.Body.Login, in.Body.Password)
			if err != nil {
				return nil, err
			}
			return g.session(s, in.Body.Session == "cookie")
		})
	huma.Register(g.api, operation(http.MethodPost, "/auth/refresh", "refresh", "Trade a refresh token (or the session cookie) for new tokens; the old one is spent", "auth", anyone),
		func(ctx context.Context, in *refreshInput) (*sessionOutput, error) {
			tok, cookie, err := refreshToken(in)
			if err != nil {
				return nil, err
			}
			s, err := g.cfg.Auth.Refresh(ctx, tok)
			if err != nil {
				return nil, err
			}
			return g.session(s, cookie)
		})
	huma.Register(g.api, operation(http.MethodPost, "/auth/logout", "logout", "End the session: its refresh family is revoked and the cookies cleared", "auth", anyone),
		func(ctx context.Context, in *refreshInput) (*struct {
			SetCookie []http.Cookie `header:"Set-Cookie"`
		}, error) {
			tok, _, err := refreshToken(in)
			if err != nil {
				return nil, err
			}
			if err := g.cfg.Auth.Logout(ctx, tok); err != nil {
				return nil, err
			}
			return &struct {
				SetCookie []http.Cookie `header:"Set-Cookie"`
			}{SetCookie: g.clearCookies()}, nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/me", "me", "Who you are: your user or API key, organisation and role", "auth", signedIn),
		func(ctx context.Context, _ *struct{}) (*bodyOf[UserView], error) {
			p := principalOf(ctx)
			if p.APIKey {
				return &bodyOf[UserView]{UserView{ID: p.ID, Login: p.Login, Org: p.Org, Role: p.Role}}, nil
			}
			u, err := g.cfg.Auth.User(ctx, p.ID)
			if err != nil {
				return nil, err
			}
			return &bodyOf[UserView]{userView(u)}, nil
		})
	huma.Register(g.api, operation(http.MethodPost, "/invitations", "invite", "Invite a user into your organisation with a role", "auth", admin),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body InviteBody
		}) (*bodyOf[InvitationView], error) {
			secret, inv, err := g.cfg.Auth.Invite(ctx, principalOf(ctx).ID, auth.Invite{Login: in.Body.Login, Role: in.Body.Role, Admin: in.Body.Admin, TTL: time.Duration(in.Body.TTLHours) * time.Hour})
			if err != nil {
				return nil, err
			}
			return &bodyOf[InvitationView]{InvitationView{Secret: secret, Login: inv.Login, Org: inv.Org, Role: inv.Role, Admin: inv.Admin, ExpiresAt: inv.ExpiresAt}}, nil
		})
	huma.Register(g.api, operation(http.MethodPost, "/invitations/accept", "acceptInvitation", "Accept an invitation: the user is made, with a ledger identity from the organisation's CA", "auth", anyone),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body AcceptBody
		}) (*bodyOf[UserView], error) {
			u, err := g.cfg.Auth.Accept(ctx, in.Body.Secret, in.Body.Password)
			if err != nil {
				return nil, err
			}
			if _, err := g.cfg.Keyring.Enroll(ctx, u.ID, u.Org, u.Role); err != nil {
				g.cfg.Log.Warn("enrolling an invited user failed; retried at their first write", "user", u.ID, "err", err)
			}
			return &bodyOf[UserView]{userView(u)}, nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/users", "listUsers", "The users of your organisation", "auth", admin),
		func(ctx context.Context, in *struct{ PageParams }) (*listOutput[UserView], error) {
			us, err := g.cfg.Auth.ListUsers(ctx, principalOf(ctx).ID)
			if err != nil {
				return nil, err
			}
			out := []UserView{}
			for _, u := range us {
				out = append(out, userView(u))
			}
			return pageOf(ctx, out, in.PageParams)
		})
	huma.Register(g.api, operation(http.MethodPut, "/users/{id}/role", "setUserRole", "Set a user's role and admin flag; their ledger identity is re-enrolled in the new role", "auth", admin),
		func(ctx context.Context, in *struct {
			IdemHeader
			ID   string `path:"id" maxLength:"64"`
			Body RoleBody
		}) (*bodyOf[UserView], error) {
			if err := g.cfg.Auth.SetRole(ctx, principalOf(ctx).ID, in.ID, in.Body.Role, in.Body.Admin); err != nil {
				return nil, err
			}
			u, err := g.cfg.Auth.User(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			if _, err := g.cfg.Keyring.Reenroll(ctx, u.ID, u.Role); err != nil && greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				return nil, err
			}
			return &bodyOf[UserView]{userView(u)}, nil
		})
	huma.Register(g.api, operation(http.MethodPost, "/api-keys", "createAPIKey", "Make an API key for a machine of your organisation; the key is shown once", "auth", admin),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body APIKeyBody
		}) (*bodyOf[APIKeyView], error) {
			p := principalOf(ctx)
			secret, k, err := g.cfg.Auth.CreateAPIKey(ctx, p.ID, in.Body.Name, in.Body.Scopes)
			if err != nil {
				return nil, err
			}
			if _, err := g.cfg.Keyring.Enroll(ctx, apiKeyUser(k.ID), p.Org, p.Role); err != nil {
				_ = g.cfg.Auth.RevokeAPIKey(ctx, p.ID, k.ID)
				return nil, err
			}
			v := apiKeyView(k)
			v.Role, v.Key = p.Role, secret
			return &bodyOf[APIKeyView]{v}, nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/api-keys", "listAPIKeys", "Your organisation's API keys (never their secrets)", "auth", admin),
		func(ctx context.Context, in *struct{ PageParams }) (*listOutput[APIKeyView], error) {
			ks, err := g.cfg.Auth.ListAPIKeys(ctx, principalOf(ctx).ID)
			if err != nil {
				return nil, err
			}
			out := []APIKeyView{}
			for _, k := range ks {
				out = append(out, apiKeyView(k))
			}
			return pageOf(ctx, out, in.PageParams)
		})
	huma.Register(g.api, operation(http.MethodDelete, "/api-keys/{id}", "revokeAPIKey", "Revoke an API key of your organisation", "auth", admin),
		func(ctx context.Context, in *struct {
			IdemHeader
			ID string `path:"id" maxLength:"64"`
		}) (*struct{}, error) {
			return nil, g.cfg.Auth.RevokeAPIKey(ctx, principalOf(ctx).ID, in.ID)
		})
}

func refreshToken(in *refreshInput) (tok string, cookie bool, err error) {
	if in.Body != nil && in.Body.RefreshToken != "" {
		return in.Body.RefreshToken, false, nil
	}
	if in.Cookie == "" {
		return "", false, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "send the refresh token in the body, or the session cookie")
	}
	if in.CSRF == "" || subtle.ConstantTimeCompare([]byte(in.CSRF), []byte(in.CSRFCk)) != 1 {
		return "", false, &statusError{status: http.StatusForbidden, err: greenmint.Errorf(greenmint.EFORBIDDEN, "a request authenticated by the session cookie must send the %s header equal to the %s cookie", headerCSRF, cookieCSRF)}
	}
	return in.Cookie, true, nil
}

// session answers a login or refresh: the tokens in the body, or cookies.
func (g *Gateway) session(s auth.Session, cookie bool) (*sessionOutput, error) {
	now := g.cfg.Now()
	v := SessionView{User: userView(s.User), ExpiresIn: int64(s.AccessExpiresAt.Sub(now).Seconds()), RefreshExpiresAt: s.RefreshExpiresAt}
	if !cookie {
		v.TokenType, v.AccessToken, v.RefreshToken = "Bearer", s.AccessToken, s.RefreshToken
		return &sessionOutput{Body: v}, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "api.session", err, "")
	}
	v.CSRFToken = base64.RawURLEncoding.EncodeToString(b)
	return &sessionOutput{Body: v, SetCookie: []http.Cookie{
		{Name: cookieAccess, Value: s.AccessToken, Path: "/", MaxAge: int(s.AccessExpiresAt.Sub(now).Seconds()), HttpOnly: true, Secure: g.cfg.SecureCookies, SameSite: http.SameSiteStrictMode},
		{Name: cookieRefresh, Value: s.RefreshToken, Path: "/v1/auth", MaxAge: int(s.RefreshExpiresAt.Sub(now).Seconds()), HttpOnly: true, Secure: g.cfg.SecureCookies, SameSite: http.SameSiteStrictMode},
		{Name: cookieCSRF, Value: v.CSRFToken, Path: "/", MaxAge: int(s.RefreshExpiresAt.Sub(now).Seconds()), Secure: g.cfg.SecureCookies, SameSite: http.SameSiteStrictMode},
	}}, nil
}

func (g *Gateway) clearCookies() []http.Cookie {
	var out []http.Cookie
	for _, c := range []struct{ name, path string }{{cookieAccess, "/"}, {cookieRefresh, "/v1/auth"}, {cookieCSRF, "/"}} {
		out = append(out, http.Cookie{Name: c.name, Value: "", Path: c.path, MaxAge: -1, HttpOnly: c.name != cookieCSRF, Secure: g.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	}
	return out
}
