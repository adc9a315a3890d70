// Package embedded is a one-machine ledger that runs Greenmint's contract
// through the real shim.Chaincode interface with Hyperledger Fabric's
// semantics: proposals signed by the caller and verified against the
// organisations' CAs, simulation against committed state, MVCC and
// phantom-read validation at commit, hash-chained blocks made durable
// before acknowledgement, key history, and chaincode events readable from
// any block. It implements the greenmint.Ledger port.
package embedded
