// Package chaincode is Greenmint's certificate contract on
// fabric-contract-api-go: every ledger step of a certificate's life, from
// site registration and minting a verified attestation to transfer, sale,
// retirement, cancellation, withdrawal and audit flags, with access rules
// read from the caller's X.509 identity. Each transaction decodes one JSON
// request, reads state, applies the rules of package greenmint and writes
// state, emitting one event. It runs unchanged on Fabric (as chaincode as a
// service) and on the embedded ledger.
package chaincode
