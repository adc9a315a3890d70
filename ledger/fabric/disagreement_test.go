package fabric

import (
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
