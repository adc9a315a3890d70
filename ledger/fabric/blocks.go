package fabric

import (
	"context"
	"strconv"

	"github.com/greenmint/greenmint"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"
)

// The methods below read committed blocks as the peers deliver them (a
// marshalled common.Block, with the orderer's signatures and every
// transaction's endorsements), through the gateway peer's query system
// chaincode, qscc, as id: the channel's Readers policy decides who may.
// Package bundle builds offline proofs from them.

// BlockFormat names the bytes BlockBytes returns: "fabric", a marshalled
// common.Block.
func (l *Ledger) BlockFormat() string { return "fabric" }

// qscc evaluates a query system chaincode function on the channel as id.
func (l *Ledger) qscc(ctx context.Context, id *greenmint.Identity, function string, args ...string) ([]byte, error) {
	g, err := l.gateway(id)
	if err != nil {
		return nil, err
	}
	c := g.GetNetwork(l.cfg.Channel).GetContract("qscc")
	out, err := c.EvaluateWithContext(ctx, function, client.WithArguments(append([]string{l.cfg.Channel}, args...)...))
	if err != nil {
		return nil, mapError(function, err)
	}
	return out, nil
}

// BlockBytes returns block n of the channel (qscc GetBlockByNumber).
func (l *Ledger) BlockBytes(ctx context.Context, id *greenmint.Identity, n uint64) ([]byte, error) {
	return l.qscc(ctx, id, "GetBlockByNumber", strconv.FormatUint(n, 10))
}

// BlockOfTx returns the number and bytes of the block holding transaction
// txID (qscc GetBlockByTxID).
func (l *Ledger) BlockOfTx(ctx context.Context, id *greenmint.Identity, txID string) (uint64, []byte, error) {
	raw, err := l.qscc(ctx, id, "GetBlockByTxID", txID)
	if err != nil {
		return 0, nil, err
	}
	var b common.Block
	if err := proto.Unmarshal(raw, &b); err != nil || b.GetHeader() == nil {
		return 0, nil, greenmint.E(greenmint.EINTERNAL, "fabric.BlockOfTx", err, "the block of transaction %s does not decode", txID)
	}
	return b.GetHeader().GetNumber(), raw, nil
}

// ChainHeight returns the channel's height (qscc GetChainInfo).
func (l *Ledger) ChainHeight(ctx context.Context, id *greenmint.Identity) (uint64, error) {
	raw, err := l.qscc(ctx, id, "GetChainInfo")
	if err != nil {
		return 0, err
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(raw, &info); err != nil {
		return 0, greenmint.E(greenmint.EINTERNAL, "fabric.ChainHeight", err, "the chain info does not decode")
	}
	return info.GetHeight(), nil
}
