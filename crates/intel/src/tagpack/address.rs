//! One spelling per address, so that a tag is found whichever way a pack or a user wrote it.
//!
//! - btc: checksum-validated and re-encoded (base58check as is, bech32/bech32m lowercase).
//! - eth: `0x` + 40 hex digits, lowercase; a mixed-case address must carry a valid EIP-55
//!   checksum (a failed checksum means a typo, which would silently tag someone else).
//! - other currencies: as given, without surrounding whitespace.

use fundtrace_bitcoin::{AddressKey, Network};
use sha3::{Digest, Keccak256};

/// The canonical form of `address` on `currency` (lowercase ticker), or why it is not one.
pub fn normalize(currency: &str, address: &str) -> Result<String, String> {
    let a = address.trim();
    match currency {
        "btc" => normalize_btc(a),
        "eth" => normalize_eth(a),
        _ if a.is_empty() => Err("empty address".into()),
        _ => Ok(a.to_string()),
    }
}

/// Mainnet first; test networks (testnet, signet, regtest, simulated worlds) keep their own
/// spelling, so their tags match their ledgers.
fn normalize_btc(a: &str) -> Result<String, String> {
    let main = AddressKey::parse(a, Network::Main);
    let Err(first) = main else { return Ok(main.expect("checked").encode(Network::Main)) };
    Network::ALL
        .into_iter()
        .find_map(|n| AddressKey::parse(a, n).ok().map(|k| k.encode(n)))
        .ok_or_else(|| first.to_string())
}

fn normalize_eth(a: &str) -> Result<String, String> {
    let hex = a.strip_prefix("0x").or_else(|| a.strip_prefix("0X")).ok_or("an Ethereum address starts with 0x")?;
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("an Ethereum address has 40 hex digits after 0x, not {:?}", hex));
    }
    let lower = hex.to_ascii_lowercase();
    let mixed = hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    if mixed && eip55(&lower) != hex {
        return Err(format!("EIP-55 checksum fails (expected 0x{})", eip55(&lower)));
    }
    Ok(format!("0x{lower}"))
}

/// EIP-55: a hex letter is upper case where the matching nibble of keccak256(lowercase hex)
/// is 8 or more.
fn eip55(lower: &str) -> String {
    let hash = Keccak256::digest(lower.as_bytes());
    lower
        .char_indices()
        .map(|(i, c)| {
            let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0xf;
            if c.is_ascii_alphabetic() && nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// The spellings under which a user-typed address may be stored, for lookups that do not
/// name a currency: the Bitcoin canonical form, the Ethereum lowercase form, and as typed.
pub fn lookup_forms(address: &str) -> Vec<String> {
    let a = address.trim();
    let mut forms = vec![a.to_string()];
    for currency in ["btc", "eth"] {
        if let Ok(n) = normalize(currency, a) {
            forms.push(n);
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip55_vectors() {
        // From the EIP-55 specification.
        for a in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            assert_eq!(normalize("eth", a).unwrap(), a.to_ascii_lowercase(), "{a}");
        }
        let typo = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        assert!(normalize("eth", typo).unwrap_err().contains("EIP-55"));
        // One case throughout carries no checksum.
        assert!(normalize("eth", "0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED").is_ok());
        assert!(normalize("eth", "0x5aae").is_err());
    }

    #[test]
    fn btc_canonical() {
        assert_eq!(
            normalize("btc", " BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4 ").unwrap(),
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        );
        assert!(normalize("btc", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb").is_err());
        assert_eq!(normalize("xmr", " 4Abc ").unwrap(), "4Abc");
    }
}
