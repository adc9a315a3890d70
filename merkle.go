package greenmint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
)

// Merkle commitments over the readings an attestation used. Leaves are
// SHA-256(0x00 ‖ data) and inner nodes SHA-256(0x01 ‖ left ‖ right), so a
// leaf can never pass for a node; an odd node at the end of a level is
// carried up unchanged. The empty tree's root is SHA-256 of nothing.

// MerkleLeaf hashes one leaf's data.
func MerkleLeaf(data []byte) [32]byte {
	return sha256.Sum256(append([]byte{0}, data...))
}

func merkleNode(l, r [32]byte) [32]byte {
	var b [65]byte
	b[0] = 1
	copy(b[1:33], l[:])
	copy(b[33:], r[:])
	return sha256.Sum256(b[:])
}

// MerkleRoot returns the root over the leaf hashes, in order.
func MerkleRoot(leaves [][32]byte) [32]byte {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	level := append([][32]byte(nil), leaves...)
	for len(level) > 1 {
		next := make([][32]byte, 0, (len(level)+1)/2)
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
			} else {
				next = append(next, merkleNode(level[i], level[i+1]))
			}
		}
		level = next
	}
	return level[0]
}

// MerkleStep is one sibling on the path from a leaf to the root.
type MerkleStep struct {
	Hash  string `json:"hash"`  // hex
	Right bool   `json:"right"` // the sibling is on the right
}

// MerkleProof returns the inclusion proof of leaf i.
func MerkleProof(leaves [][32]byte, i int) ([]MerkleStep, error) {
	if i < 0 || i >= len(leaves) {
		return nil, Errorf(EINVALID, "leaf %d of %d does not exist", i, len(leaves))
	}
	var proof []MerkleStep
	level := append([][32]byte(nil), leaves...)
	for len(level) > 1 {
		sib := i ^ 1
		if sib < len(level) {
			proof = append(proof, MerkleStep{Hash: hex.EncodeToString(level[sib][:]), Right: sib > i})
		}
		next := make([][32]byte, 0, (len(level)+1)/2)
		for j := 0; j < len(level); j += 2 {
			if j+1 == len(level) {
				next = append(next, level[j])
			} else {
				next = append(next, merkleNode(level[j], level[j+1]))
			}
		}
		level, i = next, i/2
	}
	return proof, nil
}

// VerifyMerkleProof checks that leaf belongs to the tree with the given root.
func VerifyMerkleProof(leaf [32]byte, proof []MerkleStep, root [32]byte) bool {
	h := leaf
	for _, s := range proof {
		sb, err := hex.DecodeString(s.Hash)
		if err != nil || len(sb) != 32 {
			return false
		}
		var sib [32]byte
		copy(sib[:], sb)
		if s.Right {
			h = merkleNode(h, sib)
		} else {
			h = merkleNode(sib, h)
		}
	}
	return bytes.Equal(h[:], root[:])
}
