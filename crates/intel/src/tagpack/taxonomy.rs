//! The controlled vocabularies that TagPacks and ActorPacks are checked against: confidence
//! levels with their scores, the concept taxonomy (categories and abuses), ISO country codes
//! for actor jurisdictions, and tag types.
//!
//! A built-in copy (graphsense-tagpack-tool's `src/tagpack/db/` at a14a159, 2025) lets a plain
//! checkout of graphsense-tagpacks be imported without the tool's files; `Taxonomy::from_dir`
//! reads a newer release of those files (`concepts.yaml`, `confidence.csv`, `countries.csv`,
//! `tag_types.csv`) when the published packs move ahead of the built-in one.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::IntelError;

/// How sure the creator of a tag is, as a level name from the taxonomy and its score (0-100).
/// GraphSense keeps the level, not only the number, because it names the kind of evidence
/// (graphsense/graphsense-tagpacks#16).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Confidence {
    pub level: String,
    pub score: u8,
}

/// Level → score, from confidence.csv.
const CONFIDENCE: &[(&str, u8)] = &[
    ("override", 100),
    ("ownership", 100),
    ("ledger_immanent", 100),
    ("manual_transaction", 90),
    ("service_api", 70),
    ("forensic_investigation", 70),
    ("authority_data", 60),
    ("trusted_provider", 50),
    ("service_data", 50),
    ("forensic", 50),
    ("untrusted_transaction", 40),
    ("web_crawl", 20),
    ("heuristic", 10),
    ("unknown", 5),
];

/// Concept → its broader concept ("" for the root), from concepts.yaml.
const CONCEPTS: &[(&str, &str)] = &[
    ("concept", ""), ("unknown", "concept"), ("behaviour", "concept"), ("source", "concept"),
    ("mention", "source"), ("website_mention", "mention"), ("forum_mention", "website_mention"),
    ("abuse", "behaviour"), ("gray_usage", "behaviour"), ("mixing", "gray_usage"),
    ("white_usage", "behaviour"), ("sexual_abuse", "abuse"), ("child_sexual_abuse", "sexual_abuse"),
    ("violence", "abuse"), ("human_trafficking", "abuse"), ("murder", "violence"),
    ("torture", "violence"), ("scam", "abuse"), ("financial_crime", "abuse"),
    ("investment_fraud", "financial_crime"), ("ponzi_scheme", "investment_fraud"),
    ("pyramid_scheme", "ponzi_scheme"), ("money_laundering", "financial_crime"),
    ("extortion", "abuse"), ("sextortion", "extortion"), ("phishing", "abuse"), ("hacking", "abuse"),
    ("service_hack", "hacking"), ("account_hack", "hacking"), ("exploit", "hacking"),
    ("data_breach", "hacking"), ("social_engineering", "hacking"), ("malware", "hacking"),
    ("drugs", "abuse"), ("weapons", "abuse"), ("payment_card_fraud", "financial_crime"),
    ("ransomware", "extortion"), ("sanction", "abuse"), ("counterfeit", "abuse"),
    ("extremism", "abuse"), ("terrorism", "extremism"), ("terrorism_financing", "extremism"),
    ("dark_web", "source"), ("entity", "concept"), ("organization", "entity"), ("user", "entity"),
    ("service", "entity"), ("victim", "user"), ("perpetrator", "user"), ("donation", "user"),
    ("exchange", "service"), ("wallet_service", "service"), ("escrow_wallet", "wallet_service"),
    ("ico_wallet", "wallet_service"), ("cold_wallet", "white_usage"), ("hot_wallet", "white_usage"),
    ("warm_wallet", "white_usage"), ("filesharing", "service"), ("index", "service"),
    ("market", "service"), ("messaging_service", "service"), ("mixing_service", "service"),
    ("coinjoin", "mixing"), ("miner", "user"), ("mining_service", "service"),
    ("gambling", "service"), ("search_engine", "service"), ("shop", "service"),
    ("faucet", "service"), ("payment_processor", "service"), ("atm", "service"),
    ("hosting", "service"), ("vpn", "service"), ("nameservice", "service"), ("defi", "service"),
    ("defi_token", "defi"), ("defi_lending", "defi"), ("defi_dex", "defi"),
    ("defi_dex_pair", "defi_dex"), ("defi_derivatives", "defi"), ("defi_bridge", "defi"),
    ("defi_dao", "defi"), ("defi_staking", "defi"), ("defi_custody", "defi"), ("item", "concept"),
    ("collectible", "item"),
];

/// ISO 3166 alpha-2 codes, from countries.csv.
const COUNTRIES: &str = "AF AX AL DZ AS AD AO AI AQ AG AR AM AW AU AT AZ BS BH BD BB BY BE BZ BJ \
BM BT BO BQ BA BW BV BR IO BN BG BF BI KH CM CA CV KY CF TD CL CN CX CC CO KM CG CD CK CR CI HR CU \
CW CY CZ DK DJ DM DO EC EG SV GQ ER EE ET FK FO FJ FI FR GF PF TF GA GM GE DE GH GI GR GL GD GP GU \
GT GG GN GW GY HT HM VA HN HK HU IS IN ID IR IQ IE IM IL IT JM JP JE JO KZ KE KI KP KR KW KG LA LV \
LB LS LR LY LI LT LU MO MK MG MW MY MV ML MT MH MQ MR MU YT MX FM MD MC MN ME MS MA MZ MM NA NR NP \
NL NC NZ NI NE NG NU NF MP NO OM PK PW PS PA PG PY PE PH PN PL PT PR QA RE RO RU RW BL SH KN LC MF \
PM VC WS SM ST SA SN RS SC SL SG SX SK SI SB SO ZA GS SS ES LK SD SR SJ SZ SE CH SY TW TJ TZ TH TL \
TG TK TO TT TN TR TM TC TV UG UA AE GB US UM UY UZ VU VE VN VG VI WF EH YE ZM ZW";

/// From tag_types.csv.
const TAG_TYPES: &[&str] = &["actor", "event", "mention"];

#[derive(Clone, Debug)]
pub struct Taxonomy {
    confidence: HashMap<String, u8>,
    /// Concept → broader concept (None for the root).
    concepts: HashMap<String, Option<String>>,
    countries: HashSet<String>,
    tag_types: HashSet<String>,
}

impl Taxonomy {
    /// The vocabularies built into this fundtrace.
    pub fn builtin() -> &'static Taxonomy {
        static BUILTIN: OnceLock<Taxonomy> = OnceLock::new();
        BUILTIN.get_or_init(|| Taxonomy {
            confidence: CONFIDENCE.iter().map(|&(l, s)| (l.to_string(), s)).collect(),
            concepts: CONCEPTS
                .iter()
                .map(|&(c, b)| (c.to_string(), (!b.is_empty()).then(|| b.to_string())))
                .collect(),
            countries: COUNTRIES.split_whitespace().map(str::to_string).collect(),
            tag_types: TAG_TYPES.iter().map(|t| t.to_string()).collect(),
        })
    }

    /// Reads graphsense-tagpack-tool's vocabulary files from `dir`; a file that is absent
    /// keeps the built-in vocabulary for its part.
    pub fn from_dir(dir: &Path) -> Result<Taxonomy, IntelError> {
        let mut t = Taxonomy::builtin().clone();
        let path = dir.join("confidence.csv");
        if path.exists() {
            t.confidence = read_csv(&path, "id", "level")?
                .into_iter()
                .map(|(line, id, level)| {
                    let score = level.trim().parse::<u8>().ok().filter(|s| *s <= 100).ok_or_else(|| {
                        input(&path, line, "level", format!("{level:?} is not a score from 0 to 100"))
                    })?;
                    Ok((id.trim().to_string(), score))
                })
                .collect::<Result<_, IntelError>>()?;
        }
        let path = dir.join("countries.csv");
        if path.exists() {
            t.countries = read_csv(&path, "id", "id")?.into_iter().map(|(_, id, _)| id.trim().to_string()).collect();
        }
        let path = dir.join("tag_types.csv");
        if path.exists() {
            t.tag_types = read_csv(&path, "id", "id")?.into_iter().map(|(_, id, _)| id.trim().to_string()).collect();
        }
        let path = dir.join("concepts.yaml");
        if path.exists() {
            t.concepts = read_concepts(&path)?;
        }
        Ok(t)
    }

    pub fn confidence(&self, level: &str) -> Option<Confidence> {
        self.confidence.get(level).map(|&score| Confidence { level: level.to_string(), score })
    }

    /// The least trusted level (`unknown`, 5): graphsense-tagpack-tool gives it to tags of a
    /// pack that states no confidence at all, and so do we (with a warning).
    pub fn lowest_confidence(&self) -> Confidence {
        let (level, score) = self
            .confidence
            .iter()
            .min_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(b.0)))
            .expect("a taxonomy has confidence levels");
        Confidence { level: level.clone(), score: *score }
    }

    pub fn is_concept(&self, id: &str) -> bool {
        self.concepts.contains_key(id)
    }

    /// Steps from the root concept: `exchange` (concept → entity → service → exchange) is 3,
    /// `service` 2. Used as the "more specific" measure; `None` for concepts not in the
    /// taxonomy.
    pub fn concept_depth(&self, id: &str) -> Option<u32> {
        let mut depth = 0;
        let mut cur = self.concepts.get(id)?;
        while let Some(parent) = cur {
            depth += 1;
            // A cycle in a hand-edited taxonomy must not hang the importer.
            if depth > 64 {
                break;
            }
            cur = self.concepts.get(parent.as_str())?;
        }
        Some(depth)
    }

    /// Whether `id` is `ancestor` or lies below it in the concept tree.
    pub fn is_a(&self, id: &str, ancestor: &str) -> bool {
        let mut cur = Some(id);
        for _ in 0..64 {
            match cur {
                Some(c) if c == ancestor => return true,
                Some(c) => cur = self.concepts.get(c).and_then(|b| b.as_deref()),
                None => return false,
            }
        }
        false
    }

    pub fn is_country(&self, code: &str) -> bool {
        self.countries.contains(code)
    }

    pub fn is_tag_type(&self, t: &str) -> bool {
        self.tag_types.contains(t)
    }

    /// Concepts with their broader concept.
    pub fn concepts(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.concepts.iter().map(|(c, b)| (c.as_str(), b.as_deref()))
    }
    pub fn countries(&self) -> impl Iterator<Item = &str> {
        self.countries.iter().map(String::as_str)
    }
    pub fn tag_types(&self) -> impl Iterator<Item = &str> {
        self.tag_types.iter().map(String::as_str)
    }
    pub fn confidence_levels(&self) -> impl Iterator<Item = Confidence> + '_ {
        self.confidence.iter().map(|(l, &s)| Confidence { level: l.clone(), score: s })
    }
}

fn input(path: &Path, line: u64, field: &str, message: String) -> IntelError {
    IntelError::Input { file: path.to_path_buf(), line: Some(line), field: Some(field.to_string()), message }
}

/// Rows of a headed CSV file as (line, `key` column, `value` column).
fn read_csv(path: &Path, key: &str, value: &str) -> Result<Vec<(u64, String, String)>, IntelError> {
    let io = |e: csv::Error| input(path, e.position().map_or(1, |p| p.line()), key, e.to_string());
    let mut r = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_path(path).map_err(io)?;
    let headers = r.headers().map_err(io)?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| input(path, 1, name, format!("no column `{name}`")))
    };
    let (k, v) = (col(key)?, col(value)?);
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(io)?;
        let line = rec.position().map_or(0, |p| p.line());
        // Descriptions are free text, and an unquoted comma in one would shift the columns
        // after it: take a last column from the end of the row.
        let value_at = if v + 1 == headers.len() { rec.len().saturating_sub(1) } else { v };
        match (rec.get(k), rec.get(value_at)) {
            (Some(a), Some(b)) => rows.push((line, a.to_string(), b.to_string())),
            _ => return Err(input(path, line, value, "missing column".into())),
        }
    }
    Ok(rows)
}

fn read_concepts(path: &Path) -> Result<HashMap<String, Option<String>>, IntelError> {
    #[derive(Deserialize)]
    struct Concept {
        #[serde(rename = "type")]
        kind: Option<String>,
        broader: Option<String>,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| IntelError::Input { file: path.to_path_buf(), line: None, field: None, message: e.to_string() })?;
    let doc: HashMap<String, Concept> = serde_saphyr::from_str(&text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        IntelError::Input { file: path.to_path_buf(), line, field: None, message: e.without_snippet().to_string() }
    })?;
    // `scheme` describes the file itself (type conceptScheme), not a concept.
    Ok(doc.into_iter().filter(|(_, c)| c.kind.as_deref() == Some("concept")).map(|(id, c)| (id, c.broader)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_and_ancestry() {
        let t = Taxonomy::builtin();
        assert_eq!(t.concept_depth("concept"), Some(0));
        assert_eq!(t.concept_depth("service"), Some(2));
        assert_eq!(t.concept_depth("exchange"), Some(3));
        assert_eq!(t.concept_depth("black_list"), None);
        assert!(t.is_a("coinjoin", "mixing"));
        assert!(t.is_a("exchange", "service"));
        assert!(!t.is_a("exchange", "abuse"));
        assert_eq!(t.lowest_confidence(), Confidence { level: "unknown".into(), score: 5 });
        assert_eq!(t.confidence("authority_data").unwrap().score, 60);
        assert!(t.confidence("very_sure").is_none());
    }
}
