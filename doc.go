// Package greenmint holds Greenmint's domain: sites, meters, readings,
// attestations, batches, holdings, listings and retirements; the integer
// units they are measured in; the rules of DOMAIN.md (R1–R10, R12, R13) as
// pure functions; the one canonical byte encoding of everything signed or hashed;
// the error type with its codes; and the Ledger port that the API and the
// oracle use to reach the contract.
//
// It imports only the standard library. The contract (package chaincode),
// the ledgers (ledger/embedded, ledger/fabric) and the oracle import it; it
// imports none of them.
package greenmint
