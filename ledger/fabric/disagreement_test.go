package fabric

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gatewayError builds the gRPC status the Fabric gateway answers an
// endorsement with, its details naming the peers that failed.
func gatewayError(t *testing.T, code codes.Code, msg string, details ...*gateway.ErrorDetail) error {
	t.Helper()
	st := status.New(code, msg)
	for _, d := range details {
		var err error
		if st, err = st.WithDetails(d); err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

// TestDisagreement holds the line between a lagging peer, whose refusal is
// retried with a fresh proposal, and the gateway's own peer, whose refusal
// is the contract's answer: the gateway asks its own organisation's peer
// first and answers "failed to endorse transaction" when that one refuses,
// "failed to collect enough transaction endorsements" when it endorsed and
// another peer did not.
func TestDisagreement(t *testing.T) {
	lagging := &gateway.ErrorDetail{Address: "127.0.0.1:39050", MspId: "MinerMSP",
		Message: "chaincode response 500, not_found: RegisterMeter: site SITE0102 does not exist"}
	tests := []struct {
		name     string
		err      error
		retry    bool
		mappedTo string // the code of mapError when not retried
	}{
		{"other peer behind", gatewayError(t, codes.Aborted, collectFailed+", see attached details for more info", lagging), true, ""},
		{"payloads differ", gatewayError(t, codes.Aborted, collectFailed+", see attached details for more info",
			&gateway.ErrorDetail{Address: "127.0.0.1:39050", MspId: "MinerMSP", Message: "ProposalResponsePayloads do not match"}), true, ""},
		{"other peer down", gatewayError(t, codes.Aborted, collectFailed+", see attached details for more info",
			&gateway.ErrorDetail{Address: "127.0.0.1:39050", MspId: "MinerMSP", Message: "rpc error: code = Unavailable desc = connection refused"}), true, ""},
		{"gateway's peer refuses", gatewayError(t, codes.Aborted, "failed to endorse transaction, see attached details for more info",
			&gateway.ErrorDetail{Address: "127.0.0.1:38050", MspId: "RegistryMSP", Message: lagging.Message}), false, greenmint.ENOTFOUND},
		{"no endorsers", gatewayError(t, codes.Unavailable, "no peers available"), false, greenmint.EUNAVAILABLE},
		// A peer restarting, not yet back in the gateway's discovery: seen in
		// make test-fabric after TestFabricEventsSurvivePeerRestart.
		{"no live peer set", gatewayError(t, codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy: no peer combination can satisfy the endorsement policy"), true, ""},
		{"not a gRPC error", greenmint.Errorf(greenmint.EINVALID, "x"), false, greenmint.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			behind, retry := disagreement(tc.err)
			if retry != tc.retry {
				t.Fatalf("disagreement = %v (%q), want %v", retry, behind, tc.retry)
			}
			if retry && !strings.Contains(behind, "127.0.0.1:39050 (MinerMSP)") && !strings.Contains(behind, "no live set of peers") {
				t.Fatalf("the lagging peer is not named: %q", behind)
			}
			if !retry {
				if got := greenmint.ErrorCode(mapError("RegisterMeter", tc.err)); got != tc.mappedTo {
					t.Fatalf("mapError code = %q, want %q", got, tc.mappedTo)
				}
			}
		})
	}
}

// TestMapError holds the reading of the gateway's errors: the contract's
// code and message come back through greenmint.ParseError from whichever
// message carries them, a cancelled or timed-out call keeps its context
// error as the cause, and the gRPC error itself never leaves the adapter.
func TestMapError(t *testing.T) {
	detail := func(msg string) *gateway.ErrorDetail {
		return &gateway.ErrorDetail{Address: "127.0.0.1:38050", MspId: "RegistryMSP", Message: msg}
	}
	tests := []struct {
		name string
		err  error
		code string
		msg  string  // the greenmint.Error's text after its code, when the contract produced it
		is   []error // what errors.Is must find
	}{
		{"endorse, in a detail", gatewayError(t, codes.Aborted, "failed to endorse transaction, see attached details for more info",
			detail("chaincode response 500, conflict: Bootstrap: the ledger is already bootstrapped")),
			greenmint.ECONFLICT, "Bootstrap: the ledger is already bootstrapped", nil},
		{"evaluate, in the status", gatewayError(t, codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, not_found: GetBatch: no batch nope"),
			greenmint.ENOTFOUND, "GetBatch: no batch nope", nil},
		{"internal from the contract", gatewayError(t, codes.Aborted, "failed to endorse transaction, see attached details for more info",
			detail("chaincode response 500, internal: Mint: chaincode panicked: x")), greenmint.EINTERNAL, "Mint: chaincode panicked: x", nil},
		{"a code inside a word is not one", gatewayError(t, codes.Aborted, "failed to endorse transaction", detail("preconflict: x")), greenmint.EINTERNAL, "", nil},
		{"cancelled", fmt.Errorf("endorse: %w", status.FromContextError(context.Canceled).Err()), greenmint.EUNAVAILABLE, "", []error{context.Canceled}},
		{"timed out", gatewayError(t, codes.DeadlineExceeded, "endorsement timeout expired while collecting first endorsement"), greenmint.EUNAVAILABLE, "", []error{context.DeadlineExceeded}},
		{"creator refused", gatewayError(t, codes.Aborted, "failed to endorse transaction, see attached details for more info",
			detail("error validating proposal: access denied: channel [greenmint] creator org unknown, creator is malformed")), greenmint.EUNAUTHENTICATED, "", nil},
		{"permission denied", gatewayError(t, codes.PermissionDenied, "no"), greenmint.EUNAUTHENTICATED, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := mapError("F", tc.err)
			var ge *greenmint.Error
			if !errors.As(err, &ge) || ge.Code != tc.code {
				t.Fatalf("mapError(%v) = %v, want code %q", tc.err, err, tc.code)
			}
			if tc.msg != "" && greenmint.ErrorMessage(err) != tc.msg {
				t.Errorf("message = %q, want %q", greenmint.ErrorMessage(err), tc.msg)
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			if _, ok := status.FromError(errors.Unwrap(err)); errors.Unwrap(err) != nil && ok && len(tc.is) == 0 {
				t.Errorf("the gRPC error leaks out: %v", err)
			}
		})
	}
}
