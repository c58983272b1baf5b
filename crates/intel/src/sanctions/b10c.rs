//! 0xB10C's per-asset lists of OFAC's digital currency addresses
//! (github.com/0xB10C/ofac-sanctioned-digital-currency-addresses, `lists` branch):
//! `sanctioned_addresses_<ASSET>.txt` (one address per line) and `.json` (an array of strings).
//! Addresses only, no entries; the asset is in the file name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::address;
use super::sdn_csv::{file_name, load};
use super::{input_error, ListKind, ListedAddress, RejectKind, Rejected, Snapshot};
use crate::IntelError;

/// The asset of a file named `sanctioned_addresses_<ASSET>.txt` or `.json`.
pub fn asset_of(path: &Path) -> Option<String> {
    let name = file_name(path);
    let stem = name.strip_prefix("sanctioned_addresses_")?;
    let asset = stem.strip_suffix(".txt").or_else(|| stem.strip_suffix(".json"))?;
    let ok = !asset.is_empty() && asset.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    ok.then(|| asset.to_string())
}

/// Parses the given per-asset files into one snapshot. A `.txt` and a `.json` of the same asset
/// must hold the same addresses.
pub fn parse(paths: &[PathBuf]) -> Result<Snapshot, IntelError> {
    let mut snapshot = Snapshot::empty(ListKind::B10c);
    // Per asset: the addresses of the first file read, to compare the other format with.
    let mut by_asset: BTreeMap<String, (PathBuf, BTreeSet<String>)> = BTreeMap::new();
    for path in paths {
        let asset = asset_of(path).ok_or_else(|| input_error(path, None, None, "not named sanctioned_addresses_<ASSET>.txt or .json".into()))?;
        let bytes = load(path, &mut snapshot.files)?;
        if let Some(f) = snapshot.files.last_mut() {
            f.name = file_name(path);
            f.asset = Some(asset.clone());
        }
        let tokens = tokens(path, &bytes)?;
        if tokens.is_empty() {
            return Err(input_error(path, None, None, "no addresses: an empty list is not a list (a failed download?)".into()));
        }
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        for (line, token) in tokens {
            match address::check(&asset, &token) {
                Ok(address) => accepted.push(ListedAddress { asset: asset.clone(), address, ent_num: None, published: token, line }),
                Err(reason) => rejected.push(Rejected { ent_num: None, asset: asset.clone(), token, kind: RejectKind::Invalid, reason, line }),
            }
        }
        let set: BTreeSet<String> = accepted.iter().map(|a| a.address.address.clone()).collect();
        match by_asset.get(&asset) {
            Some((first, seen)) if *seen != set => {
                return Err(input_error(path, None, None, format!("holds other {asset} addresses than {}", first.display())));
            }
            Some(_) => {}
            None => {
                by_asset.insert(asset, (path.clone(), set));
                snapshot.addresses.extend(accepted);
                snapshot.rejected.extend(rejected);
            }
        }
    }
    Ok(snapshot)
}

/// The address strings of a file with their line numbers.
fn tokens(path: &Path, bytes: &[u8]) -> Result<Vec<(u64, String)>, IntelError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        input_error(path, Some(line), None, "not UTF-8 text".into())
    })?;
    if path.extension().is_some_and(|e| e == "json") {
        let list: Vec<String> = serde_json::from_str(text)
            .map_err(|e| input_error(path, Some(e.line() as u64), None, format!("expected a JSON array of strings: {e}")))?;
        // JSON arrays carry no line per element; 0xB10C writes one per line after the `[`.
        return Ok(list.into_iter().enumerate().map(|(i, s)| (i as u64 + 2, s.trim().to_string())).collect());
    }
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.trim().to_string()))
        .filter(|(_, l)| !l.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_from_file_name() {
        assert_eq!(asset_of(Path::new("x/sanctioned_addresses_XBT.txt")).as_deref(), Some("XBT"));
        assert_eq!(asset_of(Path::new("sanctioned_addresses_USDT.json")).as_deref(), Some("USDT"));
        assert_eq!(asset_of(Path::new("sanctioned_addresses_.txt")), None);
        assert_eq!(asset_of(Path::new("sanctioned_addresses_XBT.csv")), None);
        assert_eq!(asset_of(Path::new("sdn.csv")), None);
    }
}
