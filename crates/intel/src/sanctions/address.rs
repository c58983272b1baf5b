//! Address strings as sanctions lists publish them and as people type them: validated by the
//! checksum of their format and normalised to one canonical string, so that a lookup never
//! depends on case or prefix and a mistyped or truncated address is never mistaken for a clean
//! one.
//!
//! Canonical forms: base58 strings as they are (base58 is case-sensitive); bech32 and cashaddr
//! lowercase (cashaddr without its `bitcoincash:` prefix); EVM `0x` + lowercase hex.

use bech32::primitives::decode::{CheckedHrpstring, CheckedHrpstringError, ChecksumError};
use fundtrace_bitcoin::{AddressKey, AddressParseError, Network};
use sha3::{Digest, Keccak256};

/// The address families told apart by their shape and checked by their own checksum.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Format {
    /// Bitcoin mainnet: base58check P2PKH/P2SH, bech32/bech32m segwit.
    Bitcoin,
    /// Ethereum and EVM chains: `0x` + 40 hex digits, EIP-55 checksum when mixed-case.
    Evm,
    /// Base58check of another coin (Litecoin, Tron, Dash, Zcash transparent, ...).
    Base58Check,
    /// Base58check in Ripple's alphabet (XRP).
    Ripple,
    /// Bitcoin Cash's cashaddr.
    CashAddr,
    /// Bech32/bech32m of another coin (Litecoin `ltc1`, Zcash `zs1`, ...).
    Bech32,
    /// Monero's block base58 with a Keccak checksum.
    Monero,
    /// An asset this version of fundtrace has no checker for: kept exactly as published.
    Unchecked,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Bitcoin => "bitcoin",
            Format::Evm => "evm",
            Format::Base58Check => "base58check",
            Format::Ripple => "ripple",
            Format::CashAddr => "cashaddr",
            Format::Bech32 => "bech32",
            Format::Monero => "monero",
            Format::Unchecked => "unchecked",
        }
    }

    pub fn from_name(s: &str) -> Option<Format> {
        use Format::*;
        [Bitcoin, Evm, Base58Check, Ripple, CashAddr, Bech32, Monero, Unchecked].into_iter().find(|f| f.name() == s)
    }
}

/// A validated address in canonical form.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Normalized {
    pub address: String,
    pub format: Format,
}

/// Validates `s` in whichever format its shape says and returns its canonical form, or why it
/// is not a valid address (checksum, length, characters, unknown format).
pub fn normalize(s: &str) -> Result<Normalized, String> {
    let s = s.trim();
    let ok = |format| move |address| Normalized { address, format };
    if s.is_empty() {
        return Err("empty".into());
    }
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("0x") {
        return evm(s).map(ok(Format::Evm));
    }
    if lower.starts_with("bitcoincash:") {
        return cashaddr(&s["bitcoincash:".len()..]).map(ok(Format::CashAddr));
    }
    // A failure in a format the shape only suggests is kept, and reported if nothing fits.
    let mut suggested: Option<String> = None;
    if let Some((hrp, _)) = lower.rsplit_once('1').filter(|(h, d)| bech32_shaped(h, d)) {
        if ["bc", "tb", "bcrt"].contains(&hrp) {
            // The bech32 checksum's verdict says more than the segwit decoder's.
            return bitcoin(s).map(ok(Format::Bitcoin)).map_err(|why| bech32_any(s).err().unwrap_or(why));
        }
        match bech32_any(s) {
            Ok(a) => return Ok(ok(Format::Bech32)(a)),
            Err(e) => suggested = Some(e),
        }
    }
    if (lower.starts_with('q') || lower.starts_with('p')) && [42, 61].contains(&s.len()) {
        match cashaddr(s) {
            Ok(a) => return Ok(ok(Format::CashAddr)(a)),
            Err(e) => suggested = suggested.or(Some(e)),
        }
    }
    if (s.starts_with('4') || s.starts_with('8')) && [95, 106].contains(&s.len()) {
        return monero(s).map(ok(Format::Monero));
    }
    if s.starts_with('r') {
        if let Ok(a) = ripple(s) {
            return Ok(ok(Format::Ripple)(a));
        }
    }
    if s.bytes().all(|c| BASE58.contains(&c)) {
        return match base58check(s) {
            // A mainnet P2PKH/P2SH address, checksum verified: base58 is canonical as written.
            Ok(payload) if payload.len() == 21 && [0x00, 0x05].contains(&payload[0]) => Ok(ok(Format::Bitcoin)(s.to_string())),
            Ok(_) => Ok(ok(Format::Base58Check)(s.to_string())),
            Err(e) => Err(suggested.unwrap_or(e)),
        };
    }
    Err(suggested.unwrap_or_else(|| "unknown address format".into()))
}

/// The formats an asset's addresses may take as OFAC publishes them; `None` for an asset
/// fundtrace has no checker for (its addresses are kept as published, see [`Format::Unchecked`]).
pub fn formats_of(asset: &str) -> Option<&'static [Format]> {
    use Format::*;
    Some(match asset {
        "XBT" => &[Bitcoin],
        "ETH" | "ETC" | "ARB" | "BSC" => &[Evm],
        // Stablecoins live on several chains: Ethereum, Tron, and Omni on Bitcoin addresses.
        "USDT" | "USDC" => &[Evm, Base58Check, Bitcoin],
        "TRX" | "DASH" | "XVG" => &[Base58Check],
        // Litecoin P2SH once used Bitcoin's version byte 0x05.
        "LTC" => &[Base58Check, Bitcoin, Bech32],
        // Legacy Bitcoin Cash and Bitcoin SV addresses use Bitcoin's version bytes.
        "BCH" => &[CashAddr, Bitcoin],
        "BSV" => &[Bitcoin],
        "BTG" | "ZEC" => &[Base58Check, Bech32],
        "XRP" => &[Ripple],
        "XMR" => &[Monero],
        _ => return None,
    })
}

/// Validates an address published under `asset`. A valid address is accepted even in a format
/// the asset does not take: OFAC mislabels now and then (2024-05-03 lists the Tron address
/// TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq as XBT), and an address on the list must screen as
/// listed; [`usual_for`] tells the report which ones to point out.
pub fn check(asset: &str, token: &str) -> Result<Normalized, String> {
    match normalize(token) {
        Ok(n) => Ok(n),
        Err(_) if formats_of(asset).is_none() => unchecked(token),
        Err(why) => Err(why),
    }
}

/// Whether `format` is one `asset`'s addresses take (true for assets without a checker).
pub fn usual_for(asset: &str, format: Format) -> bool {
    formats_of(asset).is_none_or(|f| f.contains(&format))
}

/// An address of an asset without a checker: plausible characters and length only.
fn unchecked(token: &str) -> Result<Normalized, String> {
    let plausible = (20..=128).contains(&token.len()) && token.bytes().all(|c| c.is_ascii_alphanumeric() || c == b':');
    if plausible {
        Ok(Normalized { address: token.to_string(), format: Format::Unchecked })
    } else {
        Err(format!("{token:?} does not look like an address"))
    }
}

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BECH32_CHARS: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_shaped(hrp: &str, data: &str) -> bool {
    !hrp.is_empty() && hrp.bytes().all(|c| c.is_ascii_lowercase()) && data.len() >= 6 && data.bytes().all(|c| BECH32_CHARS.contains(&c))
}

fn bitcoin(s: &str) -> Result<String, String> {
    match AddressKey::parse(s, Network::Main) {
        Ok(k) => Ok(k.encode(Network::Main)),
        Err(AddressParseError::WrongNetwork) => Err("a Bitcoin address of another network than mainnet".into()),
        Err(AddressParseError::Invalid(why)) => Err(why),
    }
}

fn base58check(s: &str) -> Result<Vec<u8>, String> {
    base58check_in(s, bs58::Alphabet::BITCOIN)
}

fn base58check_in(s: &str, alphabet: &bs58::Alphabet) -> Result<Vec<u8>, String> {
    let payload = bs58::decode(s).with_alphabet(alphabet).with_check(None).into_vec().map_err(|e| match e {
        bs58::decode::Error::InvalidChecksum { .. } => "base58check checksum mismatch".to_string(),
        bs58::decode::Error::InvalidCharacter { character, index } => {
            format!("character {character:?} at position {} is not base58", index + 1)
        }
        bs58::decode::Error::NoChecksum => "too short to hold a base58check checksum".to_string(),
        other => format!("base58check: {other}"),
    })?;
    // One version byte (two for Zcash) and a 20-byte hash: anything else is not an address.
    if !(21..=22).contains(&payload.len()) {
        return Err(format!("base58check payload of {} bytes, not an address (21 or 22 expected)", payload.len()));
    }
    Ok(payload)
}

fn ripple(s: &str) -> Result<String, String> {
    base58check_in(s, bs58::Alphabet::RIPPLE).map(|_| s.to_string())
}

fn bech32_any(s: &str) -> Result<String, String> {
    match CheckedHrpstring::new::<bech32::Bech32>(s) {
        Ok(_) => Ok(s.to_ascii_lowercase()),
        Err(_) if CheckedHrpstring::new::<bech32::Bech32m>(s).is_ok() => Ok(s.to_ascii_lowercase()),
        Err(CheckedHrpstringError::Checksum(ChecksumError::InvalidResidue)) => Err("bech32 checksum mismatch".into()),
        Err(e) => Err(with_sources(&e)),
    }
}

/// `bech32: <error>: <its source>...`: the crate's messages are terse without their sources.
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut out = format!("bech32: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

/// `0x` + 40 hex digits; all-lowercase and all-uppercase carry no checksum, mixed case must be
/// EIP-55 (each letter uppercase exactly when the Keccak-256 of the lowercase hex has a nibble
/// of 8 or more at its position).
fn evm(s: &str) -> Result<String, String> {
    let hex = &s[2..];
    if hex.len() != 40 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("an EVM address is 0x and 40 hex digits (found {:?} after 0x)", hex));
    }
    let lower = hex.to_ascii_lowercase();
    let has_lower = hex.bytes().any(|c| c.is_ascii_lowercase());
    let has_upper = hex.bytes().any(|c| c.is_ascii_uppercase());
    if has_lower && has_upper {
        let hash = Keccak256::digest(lower.as_bytes());
        for (i, c) in hex.bytes().enumerate() {
            let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
            if c.is_ascii_alphabetic() && c.is_ascii_uppercase() != (nibble >= 8) {
                return Err(format!("EIP-55 checksum mismatch at hex digit {} (mixed-case address)", i + 1));
            }
        }
    }
    Ok(format!("0x{lower}"))
}

/// Cashaddr (Bitcoin Cash): bech32's alphabet with a 40-bit BCH checksum over the prefix.
fn cashaddr(s: &str) -> Result<String, String> {
    let lower = s.to_ascii_lowercase();
    if s != lower && s != s.to_ascii_uppercase() {
        return Err("cashaddr: mixed case".into());
    }
    let mut values: Vec<u8> = b"bitcoincash".iter().map(|c| c & 0x1f).collect();
    values.push(0);
    for (i, c) in lower.bytes().enumerate() {
        let v = BECH32_CHARS.iter().position(|&x| x == c).ok_or_else(|| format!("cashaddr: character {:?} at position {}", c as char, i + 1))?;
        values.push(v as u8);
    }
    // 8 checksum characters after a version byte and a 20- or 32-byte hash.
    if ![42, 61].contains(&lower.len()) {
        return Err(format!("cashaddr of {} characters (42 or 61 expected)", lower.len()));
    }
    if cashaddr_polymod(&values) != 0 {
        return Err("cashaddr checksum mismatch".into());
    }
    Ok(lower)
}

fn cashaddr_polymod(values: &[u8]) -> u64 {
    const GENERATORS: [u64; 5] = [0x98f2bc8e61, 0x79b76d99e2, 0xf33e5fb3c4, 0xae2eabe2a8, 0x1e4f43e470];
    let mut c: u64 = 1;
    for &v in values {
        let top = c >> 35;
        c = ((c & 0x07_ffff_ffff) << 5) ^ v as u64;
        for (i, g) in GENERATORS.iter().enumerate() {
            if top >> i & 1 == 1 {
                c ^= g;
            }
        }
    }
    c ^ 1
}

/// Monero: base58 in independent 8-byte blocks (11 characters each, the last block shorter),
/// ending in the first 4 bytes of the Keccak-256 of what precedes them.
fn monero(s: &str) -> Result<String, String> {
    // Encoded length of a block of 0..=8 bytes.
    const ENCODED: [usize; 9] = [0, 2, 3, 5, 6, 7, 9, 10, 11];
    let mut bytes = Vec::with_capacity(77);
    for block in s.as_bytes().chunks(11) {
        let size = ENCODED.iter().position(|&n| n == block.len()).ok_or("monero: impossible length")?;
        let mut value: u128 = 0;
        for &c in block {
            let d = BASE58.iter().position(|&x| x == c).ok_or_else(|| format!("monero: {:?} is not base58", c as char))?;
            value = value * 58 + d as u128;
        }
        if value >> (8 * size) != 0 {
            return Err("monero: block overflows".into());
        }
        bytes.extend_from_slice(&value.to_be_bytes()[16 - size..]);
    }
    let (body, check) = bytes.split_at(bytes.len().saturating_sub(4));
    if check.len() != 4 || Keccak256::digest(body)[..4] != *check {
        return Err("monero checksum mismatch".into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> (String, Format) {
        let n = normalize(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (n.address, n.format)
    }

    #[test]
    fn formats_of_published_addresses() {
        // Addresses from the 0xB10C lists (2024-09-27), one per format.
        let cases = [
            ("bc1qa5wkgaew2dkv56kfvj49j0av5nml45x9ek9hz6", Format::Bitcoin),
            ("123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX", Format::Bitcoin),
            ("0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2", Format::Evm),
            ("LNf2JDiuunBz7GMDKFYHN4rq5meXWxiwfb", Format::Base58Check),
            ("TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre", Format::Base58Check),
            ("t1MMXtBrSp1XG38Lx9cePcNUCJj5vdWfUWL", Format::Base58Check),
            ("qq3vlashthktqpeppuv7trmw070e3mydgq63zq348v", Format::CashAddr),
            ("rnXyVQzgxZe7TR1EPzTkGj2jxH4LMJYh66", Format::Ripple),
            ("49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsL", Format::Monero),
        ];
        for (s, f) in cases {
            assert_eq!(norm(s).1, f, "{s}");
        }
        assert_eq!(norm("0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2").0, "0x983a81ca6fb1e441266d2fbcb7d8e530ac2e05a2");
        assert_eq!(norm("bitcoincash:QQ3VLASHTHKTQPEPPUV7TRMW070E3MYDGQ63ZQ348V").0, "qq3vlashthktqpeppuv7trmw070e3mydgq63zq348v");
        // BIP173's segwit vector for Litecoin's hrp is not here; a generic bech32 checksum is.
        assert_eq!(norm("A12UEL5L").1, Format::Bech32);
    }

    #[test]
    fn one_changed_character_is_invalid_in_every_format() {
        for s in [
            "0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A3",
            "0x983a81ca6fB1e441266D2FbcB7D8E530AC2E05A2",
            "LNf2JDiuunBz7GMDKFYHN4rq5meXWxiwfc",
            "qq3vlashthktqpeppuv7trmw070e3mydgq63zq348w",
            "rnXyVQzgxZe7TR1EPzTkGj2jxH4LMJYh67",
            "49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsM",
            "bc1qa5wkgaew2dkv56kfvj49j0av5nml45x9ek9hz7",
            "BC1QA5WKGAEW2DKV56KFVJ49J0AV5NML45X9EK9HZ7",
            "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KY",
        ] {
            assert!(normalize(s).is_err(), "{s} accepted");
        }
        assert!(normalize("0x983a81ca6fb1e441266d2fbcb7d8e530ac2e05").unwrap_err().contains("40 hex digits"));
        assert_eq!(normalize("bc1qa5wkgaew2dkv56kfvj49j0av5nml45x9ek9hz7").unwrap_err(), "bech32 checksum mismatch");
        assert_eq!(normalize("123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KY").unwrap_err(), "base58check checksum mismatch");
        assert_eq!(normalize("hello world").unwrap_err(), "unknown address format");
        assert_eq!(normalize("  ").unwrap_err(), "empty");
    }

    /// What makes fragments safe to reject: no proper prefix of a checksummed address is valid,
    /// and every single-character substitution is either invalid or canonically itself again.
    #[test]
    fn prefixes_are_never_valid_and_canonical_forms_are_stable() {
        for s in [
            "bc1qq7p0es3dv5hcynjjf40f2xjjr6qp5py47d2f6n847vduuq9gvnyq7y9ecd",
            "1GqChmWqGtsaLrGbHfgdrV5Nkvahtjjuxr",
            "0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2",
            "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre",
            "qq3vlashthktqpeppuv7trmw070e3mydgq63zq348v",
            "rnXyVQzgxZe7TR1EPzTkGj2jxH4LMJYh66",
            "49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsL",
        ] {
            for end in 0..s.len() {
                assert!(normalize(&s[..end]).is_err(), "prefix {:?} accepted", &s[..end]);
            }
            for i in 0..s.len() {
                for c in ['1', 'a', 'Z', 'q', '0', 'x', ' ', '\u{e9}'] {
                    let mut t = s.to_string();
                    t.replace_range(i..i + 1, &c.to_string());
                    if let Ok(n) = normalize(&t) {
                        assert_eq!(normalize(&n.address).as_ref(), Ok(&n), "{t}");
                    }
                }
            }
        }
    }

    #[test]
    fn assets_and_formats() {
        // Mislabelled but valid: accepted, and not usual for the asset.
        let tron = check("XBT", "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq").unwrap();
        assert!(!usual_for("XBT", tron.format));
        assert!(check("ETH", "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KY").is_err());
        assert!(usual_for("USDT", check("USDT", "1KUUJPkyDhamZXgpsyXqNGc3x1QPXtdhgz").unwrap().format));
        // An asset without a checker keeps plausible tokens as published.
        assert_eq!(check("SOL", "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU").unwrap().format, Format::Unchecked);
        assert!(check("SOL", "1Gq").is_err());
    }
}
