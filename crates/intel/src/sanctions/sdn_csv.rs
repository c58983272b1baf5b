//! OFAC's legacy CSV publication: `sdn.csv` and its companions, exactly as published.
//!
//! No header row; `-0-` (often followed by a space) is an empty field; CRLF line ends; a
//! Ctrl-Z (0x1A) byte may end the file. `sdn.csv` has 12 fields: ent_num, SDN_Name, SDN_Type,
//! Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks. Remarks
//! are cut at 1000 characters and continue in `sdn_comments.csv` (ent_num, continuation), which
//! picks up mid-word, even mid-address: the two are joined with nothing in between. Addresses
//! sit in the remarks as `Digital Currency Address - <ASSET> <address>;`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::address::{self, Format};
use super::{input_error, read_file, Alias, ListFile, ListKind, ListedAddress, RejectKind, Rejected, SdnEntry, Snapshot};
use crate::IntelError;

/// Where OFAC cuts the remarks field; the rest goes to sdn_comments.csv.
pub const REMARKS_LIMIT: usize = 1000;

const LABEL: &str = "Digital Currency Address - ";

/// The files of one publication; only sdn.csv is required.
#[derive(Clone, Debug, Default)]
pub struct SdnFiles {
    pub sdn: PathBuf,
    pub comments: Option<PathBuf>,
    pub alt: Option<PathBuf>,
    pub add: Option<PathBuf>,
}

/// Parses a publication. Its kind is `sdn` when sdn_comments.csv is given, else
/// `sdn-without-comments`.
pub fn parse(files: &SdnFiles) -> Result<Snapshot, IntelError> {
    let mut list_files = Vec::new();
    let mut continuation: HashMap<i64, String> = HashMap::new();
    if let Some(path) = &files.comments {
        let bytes = load(path, &mut list_files)?;
        for_each_record(path, &bytes, 2, |line, f| {
            let ent_num = ent_num(path, line, &f[0])?;
            continuation.entry(ent_num).or_default().push_str(f[1].as_deref().unwrap_or(""));
            Ok(())
        })?;
    }
    let mut snapshot = Snapshot::empty(if files.comments.is_some() { ListKind::Sdn } else { ListKind::SdnWithoutComments });
    let sdn = &files.sdn;
    let bytes = load(sdn, &mut list_files)?;
    let record_count = for_each_record(sdn, &bytes, 12, |line, f| {
        let ent_num = ent_num(sdn, line, &f[0])?;
        let name = f[1].clone().ok_or_else(|| input_error(sdn, Some(line), Some("SDN_Name"), "empty name".into()))?;
        let published = f[11].clone().unwrap_or_default();
        let cut = !continuation.contains_key(&ent_num) && published.chars().count() >= REMARKS_LIMIT;
        let remarks = published + continuation.get(&ent_num).map_or("", String::as_str);
        // Every cut entry, with a label or not: the cut may have fallen before its first one.
        if cut {
            snapshot.cut_remarks.push(ent_num);
        }
        if !remarks.contains(LABEL) {
            return Ok(());
        }
        extract(&remarks, ent_num, line, cut, &mut snapshot);
        snapshot.entries.push(SdnEntry {
            ent_num,
            name,
            // OFAC leaves the type of entities empty.
            sdn_type: f[2].clone().unwrap_or_else(|| "entity".into()),
            programs: programs(f[3].as_deref().unwrap_or("")),
            title: f[4].clone(),
            remarks: Some(remarks),
            aliases: Vec::new(),
            countries: Vec::new(),
        });
        Ok(())
    })?;
    snapshot.record_count = record_count;
    if record_count == 0 {
        // A scraper that blanks the file would otherwise "delist" every address.
        return Err(input_error(sdn, None, None, "no records: an empty sdn.csv is not a list (a failed download?)".into()));
    }
    let index: HashMap<i64, usize> = snapshot.entries.iter().enumerate().map(|(i, e)| (e.ent_num, i)).collect();
    if let Some(path) = &files.alt {
        let bytes = load(path, &mut list_files)?;
        for_each_record(path, &bytes, 5, |line, f| {
            if let (Some(&i), Some(alias_type), Some(name)) = (index.get(&ent_num(path, line, &f[0])?), &f[2], &f[3]) {
                snapshot.entries[i].aliases.push(Alias { alias_type: alias_type.clone(), name: name.clone() });
            }
            Ok(())
        })?;
    }
    if let Some(path) = &files.add {
        let bytes = load(path, &mut list_files)?;
        for_each_record(path, &bytes, 6, |line, f| {
            if let (Some(&i), Some(country)) = (index.get(&ent_num(path, line, &f[0])?), &f[4]) {
                let countries = &mut snapshot.entries[i].countries;
                if !countries.contains(country) {
                    countries.push(country.clone());
                }
            }
            Ok(())
        })?;
    }
    // sdn.csv first: the file a version is known by.
    list_files.sort_by_key(|f| f.name != "sdn.csv");
    snapshot.files = list_files;
    Ok(snapshot)
}

/// Reads a file and records its name and checksum.
pub(crate) fn load(path: &Path, files: &mut Vec<ListFile>) -> Result<Vec<u8>, IntelError> {
    let bytes = read_file(path)?;
    files.push(ListFile {
        path: path.to_path_buf(),
        name: file_name(path).to_ascii_lowercase(),
        asset: None,
        sha256: fundtrace_core::hex_encode(&Sha256::digest(&bytes)),
        size: bytes.len() as u64,
    });
    Ok(bytes)
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Programs as OFAC writes several in one field: `CYBER2] [DPRK3` (outer brackets dropped).
pub fn programs(field: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in field.split("] [").map(|p| p.trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace())) {
        if !p.is_empty() && !out.iter().any(|q| q == p) {
            out.push(p.to_string());
        }
    }
    out
}

/// Every `Digital Currency Address - <ASSET> <address>` in `remarks`, accepted or rejected.
fn extract(remarks: &str, ent_num: i64, line: u64, cut: bool, snapshot: &mut Snapshot) {
    let mut seen = BTreeSet::new();
    for (pos, _) in remarks.match_indices(LABEL) {
        let rest = &remarks[pos + LABEL.len()..];
        let asset_end = rest.find(' ').unwrap_or(rest.len());
        let asset = &rest[..asset_end];
        let after = &rest[asset_end..];
        let after = after.trim_start_matches(' ');
        let token_end = after.find(|c: char| c == ';' || c.is_whitespace()).unwrap_or(after.len());
        let at_cut = cut && token_end == after.len();
        // The last address of complete remarks is followed by the sentence's full stop.
        let token = after[..token_end].strip_suffix('.').unwrap_or(&after[..token_end]);
        if token.is_empty() {
            if !at_cut {
                let reason = "no address after the label".to_string();
                snapshot.rejected.push(Rejected { ent_num: Some(ent_num), asset: asset.into(), token: String::new(), kind: RejectKind::Invalid, reason, line });
            }
            // At the cut the address is lost entirely; `cut_remarks` says so.
            continue;
        }
        let reject = |kind, reason| Rejected { ent_num: Some(ent_num), asset: asset.into(), token: token.into(), kind, reason, line };
        match address::check(asset, token) {
            // A checksum proves an address whole even at the cut; an unchecked token there cannot be trusted.
            Ok(n) if !(at_cut && n.format == Format::Unchecked) => {
                if seen.insert((asset.to_string(), n.address.clone())) {
                    snapshot.addresses.push(ListedAddress { asset: asset.into(), address: n, ent_num: Some(ent_num), published: token.into(), line });
                }
            }
            Ok(_) => snapshot.rejected.push(reject(RejectKind::Fragment, format!("cut at the {REMARKS_LIMIT}-character remarks limit; no checksum to prove it whole"))),
            Err(why) if at_cut => snapshot.rejected.push(reject(RejectKind::Fragment, format!("cut at the {REMARKS_LIMIT}-character remarks limit ({why})"))),
            Err(why) => snapshot.rejected.push(reject(RejectKind::Invalid, why)),
        }
    }
}

fn ent_num(path: &Path, line: u64, field: &Option<String>) -> Result<i64, IntelError> {
    let s = field.as_deref().unwrap_or("").trim();
    s.parse().map_err(|_| input_error(path, Some(line), Some("ent_num"), format!("{s:?} is not an entry number")))
}

/// Calls `f(line, fields)` for each record of an OFAC CSV file of `columns` fields; `-0-` fields
/// are `None`. Returns the number of records.
pub(crate) fn for_each_record(
    path: &Path,
    bytes: &[u8],
    columns: usize,
    mut f: impl FnMut(u64, Vec<Option<String>>) -> Result<(), IntelError>,
) -> Result<u64, IntelError> {
    let start = if bytes.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
    // Ctrl-Z is DOS's end-of-file mark; OFAC still writes it.
    let end = bytes.iter().rposition(|&b| b != 0x1a && b != b'\r' && b != b'\n').map_or(start, |i| i + 1).max(start);
    let text = &bytes[start..end];
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text);
    let mut lines = LineCounter::default();
    let mut count = 0;
    for record in reader.byte_records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| lines.line_at(text, p.byte()));
            input_error(path, line, None, format!("malformed CSV: {e}"))
        })?;
        let line = record.position().map_or(0, |p| lines.line_at(text, p.byte()));
        if record.len() != columns {
            return Err(input_error(path, Some(line), None, format!("expected {columns} fields, found {}", record.len())));
        }
        let mut fields = Vec::with_capacity(columns);
        for raw in record.iter() {
            let text = decode(raw);
            if text.contains(['\n', '\r']) {
                return Err(input_error(path, Some(line), None, "line break inside a field (an unclosed quote?)".into()));
            }
            fields.push((text.trim() != "-0-").then_some(text));
        }
        f(line, fields)?;
        count += 1;
    }
    Ok(count)
}

/// Line numbers of byte offsets, counted incrementally. (The csv crate's own line count lags
/// by one after a CRLF, which OFAC's files use: the LF is counted only with the next record.)
#[derive(Default)]
struct LineCounter {
    offset: usize,
    line: u64,
}

impl LineCounter {
    /// The line of the record starting at or after `offset` (past a line end's leftover LF).
    fn line_at(&mut self, text: &[u8], offset: u64) -> u64 {
        let mut offset = (offset as usize).min(text.len());
        while offset < text.len() && (text[offset] == b'\n' || text[offset] == b'\r') {
            offset += 1;
        }
        if offset < self.offset {
            *self = LineCounter::default();
        }
        self.line += text[self.offset..offset].iter().filter(|&&b| b == b'\n').count() as u64;
        self.offset = offset;
        self.line + 1
    }
}

/// UTF-8, or Latin-1 as older OFAC files were written (every byte is a character there).
fn decode(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => raw.iter().map(|&b| b as char).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_as_ofac_writes_them() {
        assert_eq!(programs("DPRK3] [CYBER2"), ["DPRK3", "CYBER2"]);
        assert_eq!(programs("SDGT] [IRGC] [IFSR"), ["SDGT", "IRGC", "IFSR"]);
        assert_eq!(programs("[CYBER2]"), ["CYBER2"]);
        assert!(programs("").is_empty());
    }

    fn snapshot_of(remarks: &str, cut: bool) -> Snapshot {
        let mut s = Snapshot::empty(ListKind::Sdn);
        extract(remarks, 7, 1, cut, &mut s);
        s
    }

    #[test]
    fn addresses_in_remarks() {
        let s = snapshot_of(
            "DOB 1990; Digital Currency Address - XBT 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa; alt. Digital Currency Address - ETH 0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2.",
            false,
        );
        let got: Vec<_> = s.addresses.iter().map(|a| (a.asset.as_str(), a.address.address.as_str())).collect();
        assert_eq!(got, [("XBT", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"), ("ETH", "0x983a81ca6fb1e441266d2fbcb7d8e530ac2e05a2")]);
        assert!(s.rejected.is_empty());
    }

    #[test]
    fn cut_and_invalid_tokens_are_rejected() {
        let s = snapshot_of("Digital Currency Address - XBT 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb; alt. Digital Currency Address - XBT 1Gq", true);
        assert!(s.addresses.is_empty());
        let got: Vec<_> = s.rejected.iter().map(|r| (r.kind, r.token.as_str())).collect();
        assert_eq!(got, [(RejectKind::Invalid, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"), (RejectKind::Fragment, "1Gq")]);
        // The label alone at the cut: nothing to report but the cut itself.
        let s = snapshot_of("alt. Digital Currency Address - XBT ", true);
        assert!(s.addresses.is_empty() && s.rejected.is_empty());
        // An unchecked asset's last token at the cut is a fragment even if it looks whole.
        let s = snapshot_of("Digital Currency Address - SOL 7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJos", true);
        assert_eq!(s.rejected[0].kind, RejectKind::Fragment);
    }

    #[test]
    fn arbitrary_bytes_give_records_or_an_error_never_a_panic() {
        let mut rng = fundtrace_core::testdata::XorShift(0x2545_f491_4f6c_dd1d);
        for round in 0..200 {
            // Mostly the bytes CSV cares about, so records and quotes do occur.
            let bytes: Vec<u8> = (0..512).map(|_| b",\"\r\n-0 aZ\x1a\xe9"[(rng.next_u64() % 11) as usize]).collect();
            let _ = for_each_record(Path::new("x.csv"), &bytes, 1 + round % 12, |_, f| {
                let remarks: String = f.into_iter().flatten().collect();
                let mut s = Snapshot::empty(ListKind::Sdn);
                extract(&format!("{LABEL}XBT {remarks}"), 1, 1, round % 2 == 0, &mut s);
                Ok(())
            });
        }
    }

    #[test]
    fn records_of_the_published_format() {
        let bytes = b"36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\x1a";
        let mut rows = Vec::new();
        let n = for_each_record(Path::new("sdn.csv"), bytes, 12, |line, f| {
            rows.push((line, f));
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(rows[0].1[1].as_deref(), Some("AEROCARIBBEAN AIRLINES"));
        assert_eq!(rows[0].1[2], None);
        let e = for_each_record(Path::new("sdn.csv"), b"1,\"A\",-0- \r\n2,\"B\"\r\n", 3, |_, _| Ok(())).unwrap_err();
        assert_eq!(e.to_string(), "sdn.csv:2: expected 3 fields, found 2");
        let e = for_each_record(Path::new("sdn.csv"), b"1,\"A,-0- \r\n2,\"B\",x\r\n", 3, |_, _| Ok(())).unwrap_err();
        assert!(e.to_string().starts_with("sdn.csv:1: "), "{e}");
    }
}
