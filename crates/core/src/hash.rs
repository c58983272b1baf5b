//! 32-byte hashes and their display convention.
//!
//! Bitcoin prints txids and block hashes byte-reversed (the hash is a little-endian
//! 256-bit number); internally we keep the bytes in the order SHA-256 produced them.

use std::fmt;

/// Lowercase hex of `bytes` in the given order.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Decodes hex (either case); `None` on odd length or a non-hex character.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

/// A SHA-256d digest in internal byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// Parses the conventional (byte-reversed) 64-hex-digit form.
    pub fn from_display_hex(s: &str) -> Option<Self> {
        let mut b: [u8; 32] = hex_decode(s)?.try_into().ok()?;
        b.reverse();
        Some(Hash32(b))
    }
    pub fn to_display_hex(&self) -> String {
        let mut b = self.0;
        b.reverse();
        hex_encode(&b)
    }
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_display_hex())
    }
}
impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_display_hex())
    }
}

/// Transaction hash (txid or wtxid).
pub type Txid = Hash32;
/// Block header hash.
pub type BlockHash = Hash32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_byte_reversed() {
        let genesis = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
        let h = Hash32::from_display_hex(genesis).unwrap();
        assert_eq!(h.0[31], 0x00);
        assert_eq!(h.0[0], 0x6f);
        assert_eq!(h.to_string(), genesis);
        assert!(Hash32::from_display_hex("zz").is_none());
        assert!(Hash32::from_display_hex(&genesis[1..]).is_none());
    }
}
