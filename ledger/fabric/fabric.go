// Package fabric is the greenmint.Ledger port on a Hyperledger Fabric
// network, through the Fabric Gateway client (fabric-gateway v1.12.0).
//
// Every call is signed as the acting user's own identity: one gateway per
// identity over one shared gRPC connection, so the contract's access rules
// see the real caller. Submit waits for the commit status; a transaction
// invalidated at commit is an error (ECONFLICT), never a success; an
// endorsement refused by a peer that has not yet committed the previous
// block is proposed again, with backoff, for a bounded time. Contract
// errors come back through the gateway's error details and keep their
// codes. Chaincode events resume from a checkpoint and reconnect after a
// dropped stream.
package fabric

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// Connection is the connection file: where the gateway peer is and how to
// trust it, which channel and chaincode to use, where the users' identities
// live and which identity listens to events.
type Connection struct {
	PeerEndpoint   string `json:"peer_endpoint"`    // host:port of the gateway peer
	TLSRootCert    string `json:"tls_root_cert"`    // PEM file of the CA that signed the peer's TLS certificate
	ServerName     string `json:"server_name"`      // TLS server name to expect (default: the endpoint's host)
	MSPID          string `json:"msp_id"`           // the gateway peer's organisation (default for events_msp_id)
	Channel        string `json:"channel"`          // channel ID
	Chaincode      string `json:"chaincode"`        // chaincode name
	Identities     string `json:"identities"`       // directory of the organisations' MSP folders (consortium layout)
	EventsMSPID    string `json:"events_msp_id"`    // the identity that reads chaincode events
	EventsUser     string `json:"events_user"`      //
	ConflictRetry  int    `json:"conflict_retry"`   // resubmissions after an MVCC or phantom read conflict (default: greenmint.DefaultRetryPolicy's, 7)
	TimeoutSeconds int    `json:"timeout_seconds"`  // per call (default 30)
	LagWaitSeconds int    `json:"lag_wait_seconds"` // how long a write retries while an endorsing peer is behind (default 10)
}

// LoadConnection reads a connection file. Relative paths in it are taken
// from the file's directory.
func LoadConnection(path string) (*Connection, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, greenmint.E(greenmint.ENOTFOUND, "", err, "connection file %s", path)
	}
	var c Connection
	if err := greenmint.DecodeStrict(raw, &c); err != nil {
		return nil, fmt.Errorf("connection file %s: %w", path, err)
	}
	base := filepath.Dir(path)
	for _, p := range []*string{&c.TLSRootCert, &c.Identities} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	return &c, c.check()
}

func (c *Connection) check() error {
	for name, v := range map[string]string{"peer_endpoint": c.PeerEndpoint, "tls_root_cert": c.TLSRootCert, "channel": c.Channel, "chaincode": c.Chaincode} {
		if v == "" {
			return greenmint.Errorf(greenmint.EINVALID, "connection file: %s is required", name)
		}
	}
	if c.ConflictRetry == 0 {
		c.ConflictRetry = greenmint.DefaultRetryPolicy().Attempts - 1
	}
	if c.ConflictRetry < 0 {
		return greenmint.Errorf(greenmint.EINVALID, "connection file: conflict_retry is negative")
	}
	if c.EventsMSPID == "" {
		c.EventsMSPID = c.MSPID
	}
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = 30
	}
	if c.LagWaitSeconds == 0 {
		c.LagWaitSeconds = 10
	}
	if c.LagWaitSeconds < 0 {
		return greenmint.Errorf(greenmint.EINVALID, "connection file: lag_wait_seconds is negative")
	}
	return nil
}

// Ledger is a greenmint.Ledger on Fabric.
type Ledger struct {
	cfg      Connection
	conn     *grpc.ClientConn
	events   *greenmint.Identity
	mu       sync.Mutex
	gateways map[[32]byte]*client.Gateway
}

var _ greenmint.Ledger = (*Ledger)(nil)

// Open connects to the gateway peer. events is the identity that reads
// chaincode events (nil: Events is unavailable).
func Open(c Connection, events *greenmint.Identity) (*Ledger, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	pemBytes, err := os.ReadFile(c.TLSRootCert)
	if err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "", err, "TLS root certificate %s", c.TLSRootCert)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "TLS root certificate %s holds no certificate", c.TLSRootCert)
	}
	server := c.ServerName
	if server == "" {
		server, _, _ = strings.Cut(c.PeerEndpoint, ":")
	}
	conn, err := grpc.NewClient(c.PeerEndpoint, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, server)))
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot reach %s", c.PeerEndpoint)
	}
	return &Ledger{cfg: c, conn: conn, events: events, gateways: map[[32]byte]*client.Gateway{}}, nil
}

// Close closes the gateways and the connection.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range l.gateways {
		g.Close()
	}
	l.gateways = nil
	return l.conn.Close()
}

// gateway returns the gateway that signs as id, one per identity.
func (l *Ledger) gateway(id *greenmint.Identity) (*client.Gateway, error) {
	if id == nil || id.Signer == nil {
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "no identity to sign with")
	}
	key := sha256.Sum256(append([]byte(id.MSPID+"\n"), id.Certificate...))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gateways == nil {
		return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "ledger is closed")
	}
	if g, ok := l.gateways[key]; ok {
		return g, nil
	}
	cert, err := identity.CertificateFromPEM(id.Certificate)
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAUTHENTICATED, "", err, "identity certificate")
	}
	xid, err := identity.NewX509Identity(id.MSPID, cert)
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAUTHENTICATED, "", err, "identity")
	}
	sign, err := identity.NewPrivateKeySign(id.Signer)
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAUTHENTICATED, "", err, "identity key")
	}
	t := time.Duration(l.cfg.TimeoutSeconds) * time.Second
	g, err := client.Connect(xid, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(l.conn),
		client.WithEvaluateTimeout(t), client.WithEndorseTimeout(t), client.WithSubmitTimeout(t), client.WithCommitStatusTimeout(2*t))
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "gateway")
	}
	l.gateways[key] = g
	return g, nil
}

func (l *Ledger) contract(id *greenmint.Identity) (*client.Contract, error) {
	g, err := l.gateway(id)
	if err != nil {
		return nil, err
	}
	return g.GetNetwork(l.cfg.Channel).GetContract(l.cfg.Chaincode), nil
}

// Submit endorses, orders and commits a transaction as id and waits for its
// commit status.
//
// A write that follows another one right away can reach a peer that has
// not yet committed the previous block: the gateway reports the commit as
// soon as its own peer has it, while the other organisation's peer, which
// must endorse too, may still be behind. The gateway asks a peer of its own
// organisation first; when that one endorsed and another refused, answered
// differently or could not be reached, nothing was sent to the orderer, and
// Submit sends a fresh proposal (a new transaction ID; the request, with
// its idempotency key, unchanged) after growing, jittered pauses for up to
// LagWaitSeconds, then answers EUNAVAILABLE naming the peer. A refusal by
// the first endorser is the contract's answer and is returned at once.
//
// A transaction invalidated by an MVCC or phantom-read conflict changed
// nothing either; every contract write re-checks all its rules when it runs
// again, so it is resubmitted as greenmint.DefaultRetryPolicy says (the
// embedded adapter's policy too), with ConflictRetry resubmissions. A
// conflict that persists is a retryable ECONFLICT that says the retries
// ran out; other invalidations are ECONFLICT, not retryable.
func (l *Ledger) Submit(ctx context.Context, id *greenmint.Identity, function string, args ...string) (*greenmint.TxResult, error) {
	c, err := l.contract(id)
	if err != nil {
		return nil, err
	}
	policy := greenmint.DefaultRetryPolicy()
	policy.Attempts = l.cfg.ConflictRetry + 1
	var res *greenmint.TxResult
	err = policy.Do(ctx, "fabric.Submit", func(int) error {
		var err error
		res, err = l.submitOnce(ctx, c, function, args)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// submitOnce proposes, orders and commits one transaction, proposing it
// again while an endorsing peer lags. A transaction invalidated at commit
// by an MVCC or phantom read conflict is a retryable ECONFLICT.
func (l *Ledger) submitOnce(ctx context.Context, c *client.Contract, function string, args []string) (*greenmint.TxResult, error) {
	var lagSince time.Time
	lagWait := time.Duration(l.cfg.LagWaitSeconds) * time.Second
	for lagAttempt := 0; ; {
		result, commit, err := c.SubmitAsyncWithContext(ctx, function, client.WithArguments(args...))
		if err != nil {
			behind, ok := disagreement(err)
			if !ok {
				return nil, mapError(function, err)
			}
			if lagSince.IsZero() {
				lagSince = time.Now()
			}
			if time.Since(lagSince) >= lagWait {
				return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "%s: for %s the endorsing peers did not all endorse (a peer behind, restarting or unavailable); nothing was submitted: %s",
					function, lagWait, behind)
			}
			if err := backoff(ctx, lagAttempt); err != nil {
				return nil, err
			}
			lagAttempt++
			continue
		}
		st, err := commit.StatusWithContext(ctx)
		if err != nil {
			return nil, mapError(function, err)
		}
		if st.Successful {
			return &greenmint.TxResult{TxID: st.TransactionID, BlockNumber: st.BlockNumber, Payload: result}, nil
		}
		conflict := greenmint.Errorf(greenmint.ECONFLICT, "%s: transaction %s invalidated at commit: %s", function, st.TransactionID, st.Code)
		conflict.Retryable = st.Code == peer.TxValidationCode_MVCC_READ_CONFLICT || st.Code == peer.TxValidationCode_PHANTOM_READ_CONFLICT
		return nil, conflict
	}
}

// backoff waits before the next proposal to a lagging peer: 10 ms, doubling
// each attempt up to 640 ms, with up to half of it again as jitter.
func backoff(ctx context.Context, attempt int) error {
	d := 10 * time.Millisecond << min(attempt, 6)
	return sleep(ctx, d+rand.N(d/2+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return greenmint.E(greenmint.EUNAVAILABLE, "", ctx.Err(), "")
	case <-t.C:
		return nil
	}
}

// Evaluate runs a query as id on the gateway peer.
func (l *Ledger) Evaluate(ctx context.Context, id *greenmint.Identity, function string, args ...string) ([]byte, error) {
	c, err := l.contract(id)
	if err != nil {
		return nil, err
	}
	out, err := c.EvaluateWithContext(ctx, function, client.WithArguments(args...))
	if err != nil {
		return nil, mapError(function, err)
	}
	return out, nil
}

// collectFailed begins the gateway's answer when its first endorser, a peer
// of the gateway's own organisation, endorsed the proposal and the other
// endorsements the policy requires could not be collected: a peer refused,
// answered with different results ("ProposalResponsePayloads do not
// match") or could not be reached. A refusal by the first endorser is
// "failed to endorse transaction" instead (Fabric v2.4 to v3.1,
// internal/pkg/gateway/endorse.go).
const collectFailed = "failed to collect enough transaction endorsements"

// noPeers is in the gateway's answer when no combination of the peers it
// currently sees as alive can satisfy the endorsement policy (Fabric v2.4
// to v3.1, internal/pkg/gateway/api.go); the gateway sent no proposal.
const noPeers = "no combination of peers can be derived"

// disagreement reports whether err is the gateway's collectFailed answer,
// and what the other peers said. The peers then disagree: the one that
// refused is behind (it has not committed a block the gateway's peer has)
// or unavailable. Nothing was sent to the orderer, so a fresh proposal is
// safe.
//
// It reports the same for the gateway's noPeers answer: the gateway's view
// of the network has no live peer set that satisfies the endorsement
// policy (a peer restarting, or not yet back in the gateway's discovery).
// No proposal went out, so a fresh one is as safe.
func disagreement(err error) (string, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return "", false
	}
	if st.Code() == codes.FailedPrecondition && strings.Contains(st.Message(), noPeers) {
		return "no live set of peers satisfies the endorsement policy: " + st.Message(), true
	}
	if st.Code() != codes.Aborted || !strings.HasPrefix(st.Message(), collectFailed) {
		return "", false
	}
	var who []string
	for _, d := range st.Details() {
		if d, ok := d.(*gateway.ErrorDetail); ok {
			who = append(who, fmt.Sprintf("peer %s (%s): %s", d.GetAddress(), d.GetMspId(), d.GetMessage()))
		}
	}
	if len(who) == 0 {
		who = append(who, st.Message())
	}
	return strings.Join(who, "; "), true
}

// mapError turns a gateway error into a greenmint.Error: the contract's
// own error, code and message, when the contract produced it (found by
// contractError in the peers' error details or the status message); else
// EUNAVAILABLE when the call was cancelled or timed out (keeping
// context.Canceled or context.DeadlineExceeded as the cause) or the
// network could not be reached, EUNAUTHENTICATED when a peer refused the
// caller, EINTERNAL otherwise. The gRPC error itself is not kept: code
// above the adapter never sees it; its text is in the message.
func mapError(function string, err error) error {
	st, _ := status.FromError(err)
	var details []string
	for _, d := range st.Details() {
		if d, ok := d.(*gateway.ErrorDetail); ok {
			details = append(details, d.GetMessage())
		}
	}
	for _, m := range append(details, st.Message()) {
		if e, ok := contractError(m); ok {
			return e
		}
	}
	msg := strings.Join(append(details, st.Message()), " | ")
	switch {
	case errors.Is(err, context.Canceled) || st.Code() == codes.Canceled:
		return greenmint.E(greenmint.EUNAVAILABLE, "fabric."+function, context.Canceled, "%s", msg)
	case errors.Is(err, context.DeadlineExceeded) || st.Code() == codes.DeadlineExceeded:
		return greenmint.E(greenmint.EUNAVAILABLE, "fabric."+function, context.DeadlineExceeded, "%s", msg)
	case st.Code() == codes.Unavailable || st.Code() == codes.FailedPrecondition && strings.Contains(st.Message(), noPeers):
		return greenmint.Errorf(greenmint.EUNAVAILABLE, "%s: %s", function, msg)
	case st.Code() == codes.PermissionDenied || refusedCreator(details, st.Message()):
		return greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: the network refused the caller: %s", function, msg)
	}
	return &greenmint.Error{Code: greenmint.EINTERNAL, Op: "fabric." + function, Message: msg}
}

// contractError finds the contract's error in a peer's or the gateway's
// message: the chaincode's response message, which is (*greenmint.Error).Error's
// text ("conflict: Bootstrap: …", chaincode.errorText), after what Fabric
// puts in front of it ("chaincode response 500, ", "evaluate call to
// endorser returned error: "). It reads the text at the start of a line or
// after ", " or ": " with greenmint.ParseError, the first place that starts
// with a code of greenmint.Codes.
func contractError(msg string) (*greenmint.Error, bool) {
	codes := greenmint.Codes()
	for _, line := range strings.Split(msg, "\n") {
		for rest := line; ; {
			for _, c := range codes {
				if strings.HasPrefix(rest, c+": ") {
					return greenmint.ParseError(strings.TrimSuffix(rest, `"`)), true
				}
			}
			i := strings.IndexAny(rest, ",:")
			if i < 0 {
				break
			}
			rest = rest[i+1:]
			if !strings.HasPrefix(rest, " ") {
				continue
			}
			rest = rest[1:]
		}
	}
	return nil, false
}

// refusedCreator reports whether a peer refused the proposal's creator
// (an organisation not on the channel, a certificate its CA did not issue
// or that is not valid, an access policy). Fabric says so only in text: the
// gateway passes the peer's error message on in an ErrorDetail, under the
// same gRPC code as other endorsement failures (Aborted to Endorse,
// FailedPrecondition to Evaluate), so these phrases of the peer's
// (core/endorser, core/policy) are matched.
func refusedCreator(details []string, message string) bool {
	for _, m := range append(details, message) {
		if strings.Contains(m, "access denied") || strings.Contains(m, "creator org unknown") || strings.Contains(m, "creator certificate is not valid") {
			return true
		}
	}
	return false
}

// Events delivers chaincode events from block fromBlock on, reading as the
// connection's events identity. The gateway client does not reconnect by
// itself: when the stream breaks, Events reconnects from the block of the
// last event it delivered and skips what it already delivered.
func (l *Ledger) Events(ctx context.Context, fromBlock uint64) (<-chan greenmint.ChaincodeEvent, error) {
	if l.events == nil {
		return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "no events identity configured (events_msp_id, events_user)")
	}
	g, err := l.gateway(l.events)
	if err != nil {
		return nil, err
	}
	network := g.GetNetwork(l.cfg.Channel)
	out := make(chan greenmint.ChaincodeEvent, 256)
	go func() {
		defer close(out)
		next, seen := fromBlock, map[string]bool{}
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			events, err := network.ChaincodeEvents(ctx, l.cfg.Chaincode, client.WithStartBlock(next))
			if err == nil {
				for ev := range events {
					backoff = 100 * time.Millisecond
					if ev.BlockNumber < next || (ev.BlockNumber == next && seen[ev.TransactionID]) {
						continue
					}
					if ev.BlockNumber > next {
						next, seen = ev.BlockNumber, map[string]bool{}
					}
					seen[ev.TransactionID] = true
					select {
					case out <- greenmint.ChaincodeEvent{BlockNumber: ev.BlockNumber, TxID: ev.TransactionID, Name: ev.EventName, Payload: ev.Payload}:
					case <-ctx.Done():
						return
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}()
	return out, nil
}

// MarshalConnection writes a connection file.
func MarshalConnection(c Connection) ([]byte, error) { return json.MarshalIndent(c, "", "  ") }
