//! The two hash constructions Bitcoin uses everywhere.

use fundtrace_core::Hash32;
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};

/// SHA-256 applied twice (txids, block hashes, merkle nodes, base58 checksums).
pub fn sha256d(data: &[u8]) -> Hash32 {
    Hash32(Sha256::digest(Sha256::digest(data)).into())
}

/// SHA-256d of the concatenation of `parts`, without copying them together.
pub fn sha256d_parts(parts: &[&[u8]]) -> Hash32 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    Hash32(Sha256::digest(h.finalize()).into())
}

/// RIPEMD-160 of SHA-256: the 20-byte key and script hashes inside P2PKH/P2SH/P2WPKH.
pub fn hash160(data: &[u8]) -> [u8; 20] {
    Ripemd160::digest(Sha256::digest(data)).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundtrace_core::hex_encode;

    #[test]
    fn known_vectors() {
        // sha256d("hello") from the Bitcoin wiki's protocol documentation.
        assert_eq!(
            hex_encode(&sha256d(b"hello").0),
            "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
        );
        assert_eq!(
            sha256d_parts(&[b"he", b"", b"llo"]),
            sha256d(b"hello")
        );
        // hash160 of the genesis coinbase public key is the payload of 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa.
        let pk = fundtrace_core::hex_decode("04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f").unwrap();
        assert_eq!(hex_encode(&hash160(&pk)), "62e907b15cbf27d5425399ebf6f0fb50ebb88f18");
    }
}
