package bundle

// CompositeKeyForTest exposes the verifier's spelling of the contract's keys.
var CompositeKeyForTest = compositeKey
