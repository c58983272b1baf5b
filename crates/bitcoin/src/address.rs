//! Addresses: the network-independent key the store indexes, and the strings people use.
//!
//! An `AddressKey` is `[kind][payload]` where kind is the `ScriptType` byte of the address
//! family (P2PK outputs are keyed as the P2PKH address of their public key, which is how
//! explorers show them and how the same key's coins are linked). The string form depends on
//! the network: base58check for P2PKH/P2SH, bech32 (v0) and bech32m (v1+) for segwit.

use std::fmt;

use bech32::segwit;
use fundtrace_core::ScriptType;

use crate::network::Network;

/// Network-independent identity of an address. At most 1 kind byte + 1 version byte + 40.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey {
    len: u8,
    bytes: [u8; 42],
}

impl AddressKey {
    /// Key from a kind and payload. For `WitnessUnknown` the payload is `[version, program..]`.
    pub fn new(kind: ScriptType, payload: &[u8]) -> AddressKey {
        let mut bytes = [0u8; 42];
        bytes[0] = kind as u8;
        bytes[1..1 + payload.len()].copy_from_slice(payload);
        AddressKey { len: 1 + payload.len() as u8, bytes }
    }

    /// Rebuilds a key from its stored bytes; `None` if they are not a well-formed key.
    pub fn from_bytes(b: &[u8]) -> Option<AddressKey> {
        let kind = ScriptType::from_u8(*b.first()?)?;
        let ok = match kind {
            ScriptType::P2pkh | ScriptType::P2sh | ScriptType::P2wpkh => b.len() == 21,
            ScriptType::P2wsh | ScriptType::P2tr => b.len() == 33,
            ScriptType::WitnessUnknown => (4..=42).contains(&b.len()) && (1..=16).contains(&b[1]),
            _ => false,
        };
        ok.then(|| AddressKey::new(kind, &b[1..]))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
    pub fn kind(&self) -> ScriptType {
        ScriptType::from_u8(self.bytes[0]).expect("constructed from a ScriptType")
    }
    pub fn payload(&self) -> &[u8] {
        &self.bytes[1..self.len as usize]
    }

    /// The address string on `network`.
    pub fn encode(&self, network: Network) -> String {
        let mut s = String::with_capacity(64);
        self.encode_into(network, &mut s);
        s
    }

    /// Appends the address string on `network` to `out` (no allocation of its own: the
    /// simulator and exports write hundreds of millions of addresses).
    pub fn encode_into(&self, network: Network, out: &mut String) {
        let (p2pkh, p2sh) = network.base58_versions();
        let hrp = network.bech32_hrp();
        match self.kind() {
            ScriptType::P2pkh => base58check(p2pkh, self.payload(), out),
            ScriptType::P2sh => base58check(p2sh, self.payload(), out),
            ScriptType::P2wpkh | ScriptType::P2wsh => segwit_address(hrp, 0, self.payload(), out),
            ScriptType::P2tr => segwit_address(hrp, 1, self.payload(), out),
            ScriptType::WitnessUnknown => segwit_address(hrp, self.payload()[0], &self.payload()[1..], out),
            other => unreachable!("no address key of kind {other:?}"),
        }
    }

    /// Parses an address string of `network`, validating its checksum. Bech32 is accepted in
    /// either case (not mixed), as BIP173 requires; the canonical form is lowercase.
    pub fn parse(s: &str, network: Network) -> Result<AddressKey, AddressParseError> {
        let (p2pkh, p2sh) = network.base58_versions();
        let hrp = network.bech32_hrp();
        let lower = s.to_ascii_lowercase();
        let bech32_hrp = lower.rsplit_once('1').map(|(h, _)| h);
        if let Some(got) = bech32_hrp.filter(|h| ["bc", "tb", "bcrt"].contains(h)) {
            if got != hrp {
                return Err(AddressParseError::WrongNetwork);
            }
            let (_, version, program) =
                segwit::decode(s).map_err(|e| AddressParseError::Invalid(e.to_string()))?;
            let v = version.to_u8();
            return Ok(match (v, program.len()) {
                (0, 20) => AddressKey::new(ScriptType::P2wpkh, &program),
                (0, 32) => AddressKey::new(ScriptType::P2wsh, &program),
                (1, 32) => AddressKey::new(ScriptType::P2tr, &program),
                _ => {
                    let mut p = vec![v];
                    p.extend_from_slice(&program);
                    AddressKey::new(ScriptType::WitnessUnknown, &p)
                }
            });
        }
        let data = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|e| AddressParseError::Invalid(format!("base58check: {e}")))?;
        if data.len() != 21 {
            return Err(AddressParseError::Invalid(format!(
                "base58 payload is {} bytes, expected 21",
                data.len()
            )));
        }
        match data[0] {
            v if v == p2pkh => Ok(AddressKey::new(ScriptType::P2pkh, &data[1..])),
            v if v == p2sh => Ok(AddressKey::new(ScriptType::P2sh, &data[1..])),
            0x00 | 0x05 | 0x6f | 0xc4 => Err(AddressParseError::WrongNetwork),
            v => Err(AddressParseError::Invalid(format!("unknown base58 version byte {v:#04x}"))),
        }
    }
}

impl fmt::Debug for AddressKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}:{}", self.kind(), fundtrace_core::hex_encode(self.payload()))
    }
}

/// Base58check of `[version][20-byte hash]`. A fixed-size specialisation (the 25-byte number
/// divided by 58^5 per step in 32-bit limbs): the simulator and exports encode millions of
/// addresses, and the generic encoder was a tenth of the simulator's time.
fn base58check(version: u8, payload: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    debug_assert_eq!(payload.len(), 20);
    let mut bytes = [0u8; 28]; // 3 zero bytes of padding + 25 bytes, as 7 big-endian u32 limbs
    bytes[3] = version;
    bytes[4..24].copy_from_slice(payload);
    let check = crate::hash::sha256d(&bytes[3..24]);
    bytes[24..28].copy_from_slice(&check.0[..4]);
    let mut limbs = [0u32; 7];
    for (l, c) in limbs.iter_mut().zip(bytes.chunks_exact(4)) {
        *l = u32::from_be_bytes(c.try_into().unwrap());
    }
    const BIG: u64 = 58 * 58 * 58 * 58 * 58;
    let mut digits = [0u8; 35]; // little-endian base-58 digits
    let mut n = 0;
    while limbs.iter().any(|&l| l != 0) {
        let mut rem = 0u64;
        for l in limbs.iter_mut() {
            let cur = (rem << 32) | *l as u64;
            *l = (cur / BIG) as u32;
            rem = cur % BIG;
        }
        for _ in 0..5 {
            digits[n] = (rem % 58) as u8;
            rem /= 58;
            n += 1;
        }
    }
    while n > 0 && digits[n - 1] == 0 {
        n -= 1;
    }
    let zeros = bytes[3..].iter().take_while(|&&b| b == 0).count();
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(digits[..n].iter().rev().map(|&d| ALPHABET[d as usize] as char));
}

/// A segwit address (BIP173 bech32 for version 0, BIP350 bech32m for 1..=16), written
/// directly: the bech32 crate's formatter-based encoder was the simulator's largest cost
/// after hashing. Checked against that crate in the tests.
fn segwit_address(hrp: &str, version: u8, program: &[u8], out: &mut String) {
    const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let mut sym = [0u8; 1 + 65]; // version + up to 40 bytes as 5-bit groups
    sym[0] = version;
    let mut n = 1;
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in program {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            sym[n] = ((acc >> bits) & 31) as u8;
            n += 1;
        }
    }
    if bits > 0 {
        sym[n] = ((acc << (5 - bits)) & 31) as u8;
        n += 1;
    }
    let mut chk = 1u32;
    for c in hrp.bytes() {
        chk = polymod_step(chk, c >> 5);
    }
    chk = polymod_step(chk, 0);
    for c in hrp.bytes() {
        chk = polymod_step(chk, c & 31);
    }
    for &v in &sym[..n] {
        chk = polymod_step(chk, v);
    }
    for _ in 0..6 {
        chk = polymod_step(chk, 0);
    }
    chk ^= if version == 0 { 1 } else { 0x2bc8_30a3 };
    out.push_str(hrp);
    out.push('1');
    out.extend(sym[..n].iter().map(|&v| CHARSET[v as usize] as char));
    out.extend((0..6).map(|i| CHARSET[((chk >> (5 * (5 - i))) & 31) as usize] as char));
}

/// One step of the bech32 checksum (BIP173's polymod), with the generator's combinations for
/// the five bits shifted out precomputed.
fn polymod_step(chk: u32, v: u8) -> u32 {
    const GEN: [u32; 5] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3];
    const TABLE: [u32; 32] = {
        let mut t = [0u32; 32];
        let mut b = 0;
        while b < 32 {
            let mut i = 0;
            while i < 5 {
                if (b >> i) & 1 == 1 {
                    t[b] ^= GEN[i];
                }
                i += 1;
            }
            b += 1;
        }
        t
    };
    ((chk & 0x1ff_ffff) << 5) ^ v as u32 ^ TABLE[(chk >> 25) as usize]
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressParseError {
    /// Not an address at all: bad characters, checksum, length or version.
    Invalid(String),
    /// A valid address, but of another network than the store's.
    WrongNetwork,
}

impl fmt::Display for AddressParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressParseError::Invalid(why) => write!(f, "malformed address: {why}"),
            AddressParseError::WrongNetwork => write!(f, "address belongs to another network"),
        }
    }
}

impl std::error::Error for AddressParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round trips with vectors from BIP173/BIP350 and well-known mainnet addresses.
    #[test]
    fn published_vectors_round_trip() {
        let cases = [
            ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", ScriptType::P2pkh),
            ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", ScriptType::P2sh),
            ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", ScriptType::P2wpkh),
            ("bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", ScriptType::P2wsh),
            ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", ScriptType::P2tr),
            ("bc1sw50qgdz25j", ScriptType::WitnessUnknown),
        ];
        for (s, kind) in cases {
            let k = AddressKey::parse(s, Network::Main).unwrap();
            assert_eq!(k.kind(), kind, "{s}");
            assert_eq!(k.encode(Network::Main), s);
            assert_eq!(AddressKey::from_bytes(k.as_bytes()), Some(k));
        }
    }

    #[test]
    fn fast_base58check_matches_the_generic_encoder() {
        let mut rng = fundtrace_core::testdata::XorShift(0x9e37_79b9_7f4a_7c15);
        for i in 0..2000u32 {
            let mut payload: [u8; 20] = rng.bytes(20).try_into().unwrap();
            if i % 7 == 0 {
                payload[..(i as usize % 20)].fill(0); // leading zeros become leading '1's
            }
            for version in [0x00u8, 0x05, 0x6f, 0xc4] {
                let mut v = vec![version];
                v.extend_from_slice(&payload);
                let mut s = String::new();
                base58check(version, &payload, &mut s);
                assert_eq!(s, bs58::encode(v).with_check().into_string());
            }
        }
    }

    /// The direct segwit encoder against the bech32 crate, for every witness version, the
    /// program lengths addresses use and the extremes BIP173 allows, on every network.
    #[test]
    fn fast_segwit_encoder_matches_the_bech32_crate() {
        let mut rng = fundtrace_core::testdata::XorShift(0x2545_f491_4f6c_dd1d);
        for i in 0..3000usize {
            let len = [20, 32, 2, 40, 25][i % 5];
            let version = if len == 20 || len == 32 { (i / 5 % 17) as u8 } else { 1 + (i % 16) as u8 };
            let program = rng.bytes(len);
            for network in [Network::Main, Network::Testnet4, Network::Regtest] {
                let hrp = bech32::Hrp::parse(network.bech32_hrp()).unwrap();
                let want = segwit::encode(hrp, bech32::Fe32::try_from(version).unwrap(), &program).unwrap();
                let mut got = String::new();
                segwit_address(network.bech32_hrp(), version, &program, &mut got);
                assert_eq!(got, want, "version {version}, {len} bytes");
            }
        }
    }

    #[test]
    fn bech32_case_is_normalised_and_errors_are_distinguished() {
        let upper = "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4";
        let k = AddressKey::parse(upper, Network::Main).unwrap();
        assert_eq!(k.encode(Network::Main), upper.to_lowercase());
        // BIP173 invalid: mixed case; BIP350: v0 program with bech32m checksum.
        assert!(matches!(
            AddressKey::parse("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kV8f3t4", Network::Main),
            Err(AddressParseError::Invalid(_))
        ));
        assert!(matches!(
            AddressKey::parse("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", Network::Main),
            Err(AddressParseError::Invalid(_))
        ));
        // One changed character breaks the base58 checksum.
        assert!(matches!(
            AddressKey::parse("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", Network::Main),
            Err(AddressParseError::Invalid(_))
        ));
        assert_eq!(
            AddressKey::parse("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", Network::Regtest),
            Err(AddressParseError::WrongNetwork)
        );
        assert_eq!(
            AddressKey::parse("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", Network::Main),
            Err(AddressParseError::WrongNetwork)
        );
        assert!(matches!(AddressKey::parse("hello", Network::Main), Err(AddressParseError::Invalid(_))));
    }
}
